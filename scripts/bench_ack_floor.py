"""The ack-floor baseline for scripts/bench_collector.py: the least any server can do that
keeps issue 2's promise (a 2xx only once the broker has acknowledged the event).

The hello-world app (same gunicorn worker class and worker count) plus one thing: each body is
published, as it came, through the collector's own ``KafkaPublisher`` (the settings ``ugc
serve`` gets: idempotent, acks=all, lz4, the same linger) and the 202 waits for the ack. No
validation, identity, enrichment, middleware, metrics or spool. Its ratio to hello-world is
the ceiling of the collector's: whatever the collector does on top can only lower it.
"""

from __future__ import annotations

import falcon
import falcon.asgi

from ugc.adapters.kafka.producer import KafkaPublisher
from ugc.settings import Settings

publisher = KafkaPublisher(Settings.load())


class Lifespan:
    async def process_startup(self, scope: object, event: object) -> None:
        await publisher.start()

    async def process_shutdown(self, scope: object, event: object) -> None:
        await publisher.aclose()


class AckFloor:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await publisher.publish(b"bench", await req.stream.read())
        resp.status = falcon.HTTP_202
        resp.content_type = falcon.MEDIA_JSON
        resp.data = b'{"status":"accepted"}'

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.data = b"ok"


app = falcon.asgi.App(middleware=[Lifespan()])
app.add_route("/api/v1/events", AckFloor())
app.add_route("/api/v1/events/batch", AckFloor())
app.add_route("/healthz", AckFloor())
