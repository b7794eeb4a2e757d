"""A stand-in for the external auth service, following docs/auth-contract.md.

The real auth service is not ours; tests (and the demo) run this instead::

    python -m tests.support.auth_standin --port 8081 --key-file pub.pem --alg RS256

Contract endpoint:
    GET /api/v1/token/verify   Authorization: Bearer <jwt>
        200 {"user_id", "session_id", "exp"}   signature AND lifetime verified (pyjwt)
        401 {"error": "invalid_token"}         anything else about the token

Test controls (not part of the contract):
    GET  /healthz                  200 "ok" (readiness)
    GET  /_control/calls           {"verify": N}: verify requests received since the last reset
    POST /_control/mode            {"delay_ms": 0, "status": null}: sleep before answering,
                                   and/or answer every verify request with this status
    POST /_control/reset           counters to zero, mode back to normal
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

VERIFY_PATH = "/api/v1/token/verify"


class StandinState:
    """What the controls change; shared by the handler threads."""

    def __init__(self, key: str, algorithms: list[str], user_claim: str, session_claim: str):
        self.algorithms = algorithms
        # parse the key once, not per request (one algorithm: one key type)
        self.key: Any = (
            jwt.get_algorithm_by_name(algorithms[0]).prepare_key(key)
            if len(algorithms) == 1
            else key
        )
        self.user_claim = user_claim
        self.session_claim = session_claim
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.verify_calls = 0
            self.delay_ms = 0
            self.status: int | None = None

    def verdict(self, authorization: str) -> tuple[int, dict[str, Any]]:
        """The contract: 200 with the identity, or 401. Lifetime is checked here."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return 401, {"error": "invalid_token"}
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=self.algorithms,
                options={"require": ["exp", self.user_claim], "verify_aud": False},
            )
        except jwt.PyJWTError:
            return 401, {"error": "invalid_token"}
        return 200, {
            "user_id": str(claims[self.user_claim]),
            "session_id": claims.get(self.session_claim),
            "exp": claims["exp"],
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service would
    # headers and body go out in two writes; with Nagle on, keep-alive answers wait ~40 ms
    # for the client's delayed ACK, which alone would eat most of the collector's timeout
    disable_nagle_algorithm = True
    state: StandinState  # set on the subclass made in serve()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == VERIFY_PATH:
            self._verify()
        elif self.path == "/healthz":
            self._send(200, "ok")
        elif self.path == "/_control/calls":
            self._send(200, {"verify": self.state.verify_calls})
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if self.path == "/_control/reset":
            self.state.reset()
            self._send(200, {"ok": True})
        elif self.path == "/_control/mode":
            with self.state.lock:
                self.state.delay_ms = int(body.get("delay_ms") or 0)
                self.state.status = body.get("status")
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": "not_found"})

    def _verify(self) -> None:
        with self.state.lock:
            self.state.verify_calls += 1
            delay_ms, status = self.state.delay_ms, self.state.status
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if status is not None:
            self._send(int(status), {"error": "forced"})
            return
        self._send(*self.state.verdict(self.headers.get("Authorization", "")))

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def _send(self, status: int, body: Any) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): that is what slow mode is for

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: request lines are noise in test logs (and tokens never appear in them)


def serve(host: str, port: int, state: StandinState) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--key", help="HS secret or PEM public key")
    key.add_argument("--key-file", help="file holding the HS secret or PEM public key")
    parser.add_argument("--alg", default="RS256", help="comma-separated accepted algorithms")
    parser.add_argument("--user-claim", default="sub")
    parser.add_argument("--session-claim", default="sid")
    args = parser.parse_args(argv)
    secret = args.key if args.key is not None else Path(args.key_file).read_text().strip()
    algorithms = [alg.strip() for alg in args.alg.split(",") if alg.strip()]
    state = StandinState(secret, algorithms, args.user_claim, args.session_claim)
    server = serve(args.host, args.port, state)
    print(f"auth stand-in on http://{args.host}:{args.port} ({','.join(algorithms)})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
