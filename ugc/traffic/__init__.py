"""Synthetic traffic for the collector: a realistic model and an HTTP sender.

``ugc.traffic.model`` makes the events (pure Python, seeded, no I/O); ``ugc.traffic.sender``
posts them and reports what came back. The demo, the tests and the benchmarks reuse both::

    from ugc.traffic import generate, send
    traffic = generate(5000, seed=7, invalid_share=0.1)
    report = asyncio.run(send("http://127.0.0.1:8000", traffic, rate=500, concurrency=16))
    assert report.mismatches == 0
    traffic.tally.by_type  # what was generated, by type (also by day, vendor, envelope)
"""

from ugc.traffic.items import ACCEPTED, INVALID, MALFORMED, Tally, TrafficItem
from ugc.traffic.model import Traffic, TrafficOptions, generate
from ugc.traffic.samples import sample_items
from ugc.traffic.sender import SendReport, TokenBucket, run, send

__all__ = [
    "ACCEPTED",
    "INVALID",
    "MALFORMED",
    "SendReport",
    "Tally",
    "TokenBucket",
    "Traffic",
    "TrafficItem",
    "TrafficOptions",
    "generate",
    "run",
    "sample_items",
    "send",
]
