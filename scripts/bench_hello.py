"""The hello-world baseline for scripts/bench_collector.py: same server stack, no work.

A Falcon ASGI app that reads the request body and answers 202 with a small JSON body,
served by gunicorn with the collector's worker class and worker count.
"""

import falcon
import falcon.asgi


class Hello:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await req.stream.read()
        resp.status = falcon.HTTP_202
        resp.content_type = falcon.MEDIA_JSON
        resp.data = b'{"status":"accepted"}'

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.data = b"ok"


app = falcon.asgi.App()
app.add_route("/api/v1/events", Hello())
app.add_route("/api/v1/events/batch", Hello())
app.add_route("/healthz", Hello())
