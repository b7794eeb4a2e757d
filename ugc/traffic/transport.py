"""How the sender talks HTTP/1.1: one keep-alive connection per worker.

``Connection`` speaks plain ``http://`` directly over asyncio streams: a pre-built request
head, the status line, ``Content-Length`` or chunked bodies, ``Connection: close``. Measured on
the 2-core build machine against the same hello-world server, it spends ~0.1 ms of CPU per
request where ``httpx.AsyncClient`` spent 1.1-3.5 ms (more with more connections), so one
sender process can drive the collector at thousands of events per second. ``https://`` goes
through ``HttpxPoster`` (TLS, proxies and the rest are httpx's business).

Both raise ``NoAnswer`` when a request got no HTTP answer (refused, reset, timed out).
"""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from ugc import __version__


class NoAnswer(Exception):
    """The request got no HTTP answer; ``kind`` names what happened."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind


class Poster(Protocol):
    async def post(
        self, path: str, body: bytes, content_type: str, *, idempotent: bool = True
    ) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class Connection:
    """One keep-alive HTTP/1.1 connection to a plain-http server."""

    def __init__(
        self, host: str, port: int, *, timeout: float, headers: dict[str, str] | None = None
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._fixed = (
            f"Host: {host}:{port}\r\nUser-Agent: ugc-traffic/{__version__}\r\n{extra}".encode()
        )
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, body: bytes, content_type: str, *, idempotent: bool = True
    ) -> tuple[int, bytes]:
        """One exchange. ``idempotent``: sending the body twice stores nothing twice (every
        event carries its own ``event_id``), so a reused connection that closed without a
        byte of answer may be retried once. Otherwise it may not: a server that died after
        storing the event but before answering would then store it a second time under a
        new server-made id."""
        head = b"POST %s HTTP/1.1\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
            path.encode(),
            self._fixed,
            content_type.encode(),
            len(body),
        )
        reused = self._writer is not None and not self._reader.at_eof()  # type: ignore[union-attr]
        for attempt in (1, 2):
            if not reused:
                await self._connect()
            try:
                return await asyncio.wait_for(self._exchange(head + body), self.timeout)
            except asyncio.IncompleteReadError as exc:
                self._close()
                # a kept-alive connection closed without one byte of answer: usually the
                # server closed it while idle and never read the request, but a worker
                # killed mid-request looks the same; send it again once if that is harmless
                if reused and idempotent and attempt == 1 and not exc.partial:
                    reused = False
                    continue
                raise NoAnswer("ConnectionClosed", "the server closed the connection") from None
            except TimeoutError:
                self._close()
                raise NoAnswer("Timeout", f"no answer within {self.timeout:g} s") from None
            except (OSError, ValueError, IndexError, asyncio.LimitOverrunError) as exc:
                self._close()
                raise NoAnswer(type(exc).__name__, str(exc)) from None
        raise AssertionError("unreachable")

    async def _connect(self) -> None:
        self._close()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except TimeoutError:
            raise NoAnswer("ConnectTimeout", "connecting timed out") from None
        except OSError as exc:
            raise NoAnswer("ConnectError", exc.strerror or str(exc)) from None

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await self._chunked()
        elif length is not None:
            body = await self._reader.readexactly(length)
        else:
            body, close = await self._reader.read(), True
        if close:
            self._close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers expected
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def aclose(self) -> None:
        self._close()


class HttpxPoster:
    """The same interface over one shared ``httpx.AsyncClient`` (for https)."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client, self.base = client, base

    async def post(
        self, path: str, body: bytes, content_type: str, *, idempotent: bool = True
    ) -> tuple[int, bytes]:
        try:  # httpx never retries a POST by itself
            response = await self.client.post(
                self.base + path, content=body, headers={"content-type": content_type}
            )
        except httpx.TransportError as exc:
            raise NoAnswer(type(exc).__name__, str(exc)) from None
        return response.status_code, response.content

    async def aclose(self) -> None:
        pass


def plain_http(base: str) -> tuple[str, int] | None:
    """(host, port) when ``base`` is a plain-http URL the ``Connection`` can speak to."""
    parts = urlsplit(base)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.hostname, parts.port or 80
