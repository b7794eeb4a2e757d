"""Reading a request body: content type, gzip with a decompression-bomb guard, JSON.

Accepted bodies: ``application/json`` and ``text/plain`` (what ``navigator.sendBeacon`` sends
for a string: a CORS-simple request, no preflight), with or without ``Content-Encoding: gzip``.
A missing content type is read as JSON. Everything else is 415.

Limits, all checked before the whole body is in memory where possible: the declared
``Content-Length``, the bytes actually read, and the bytes produced by decompression (gzip is
inflated with an output cap, so a small bomb never expands past the limit). JSON must parse
(orjson: strict UTF-8, no NaN) and nest no deeper than ``max_json_depth``.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from ugc.errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType

MEDIA_TYPES = frozenset({"application/json", "text/plain", ""})
GZIP = frozenset({"gzip", "x-gzip"})
IDENTITY = frozenset({"", "identity"})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_headers(content_type: str | None, content_encoding: str | None) -> bool:
    """Validate the two headers; ``True`` when the body is gzip-encoded."""
    media = media_type(content_type)
    if media not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"unsupported content type {media!r}: send application/json or text/plain"
        )
    encoding = (content_encoding or "").strip().lower()
    if encoding in IDENTITY:
        return False
    if encoding in GZIP:
        return True
    raise UnsupportedMediaType(
        f"unsupported content encoding {encoding[:64]!r}: send gzip or no encoding"
    )


def too_large(limit: int, what: str = "request body") -> PayloadTooLarge:
    return PayloadTooLarge(f"the {what} is larger than {limit} bytes", limit=limit)


async def read_capped(stream: Any, declared: int | None, limit: int) -> bytes:
    """Read at most ``limit`` bytes from an ASGI body stream; 413 past it."""
    if declared is not None:
        if declared > limit:
            raise too_large(limit)
        return await stream.read()
    parts: list[bytes] = []
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate one gzip member, producing at most ``limit`` bytes (the bomb guard)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise MalformedBody(f"the body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise too_large(limit, "decompressed request body")
    if not inflater.eof:
        raise MalformedBody("the gzip body is truncated")
    if inflater.unused_data:
        raise MalformedBody("unexpected data after the gzip body")
    return out


def parse_json(raw: bytes, max_depth: int) -> Any:
    if not raw:
        raise MalformedBody("the body is empty: send a JSON document")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None
    # cheap pre-check: fewer brackets than the limit cannot nest deeper than it
    if raw.count(b"{") + raw.count(b"[") > max_depth and nesting_exceeds(document, max_depth):
        raise MalformedBody(f"the JSON nests deeper than {max_depth} levels")
    return document


def nesting_exceeds(document: Any, limit: int) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


async def read_json(req: Any, limit: int, max_depth: int) -> Any:
    """The parsed JSON body of a Falcon ASGI request, every guard applied."""
    gzipped = check_headers(req.content_type, req.get_header("Content-Encoding"))
    raw = await read_capped(req.stream, req.content_length, limit)
    if gzipped:
        raw = gunzip(raw, limit)
    return parse_json(raw, max_depth)
