"""The main job on embedded defaults, start to finish, with nothing to set up by hand.

Starts a tansu Kafka broker, Redis and the auth stand-in as local processes, runs the
collector (`ugc serve`), posts a month of realistic traffic (logged-in and anonymous users,
both envelopes, some invalid events), then runs the same CLI steps as the Airflow DAGs:
`ugc db migrate`, `ugc etl run`, `ugc quality check`, `ugc marts build` and `ugc marts show`.
Everything it starts is stopped at the end, and the warehouse (chdb) stays in var/demo.

    make demo                 # or: .venv/bin/python scripts/demo.py [--events N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.services import (  # noqa: E402 - the repo root goes on sys.path first
    AuthStandin,
    KafkaBroker,
    ManagedProcess,
    RedisServer,
    UgcServe,
)

UGC = str(Path(sys.executable).with_name("ugc"))


def step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.monotonic()


def run(argv: list[str], env: dict[str, str], *, allowed: tuple[int, ...] = (0,)) -> int:
    print("$ " + " ".join(argv[:1] and ["ugc", *argv[1:]]), flush=True)
    code = subprocess.run(argv, env=env, cwd=ROOT).returncode
    if code not in allowed:
        raise SystemExit(f"demo: `{' '.join(argv[1:3])}` failed with exit code {code}")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events to post (default 20000)")
    parser.add_argument("--dir", default=str(ROOT / "var" / "demo"), help="state directory")
    args = parser.parse_args()

    started = time.monotonic()
    state = Path(args.dir)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    now = datetime.now(UTC)
    month = now.strftime("%Y-%m")
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    services: list[ManagedProcess] = []
    try:
        t = step("starting the tansu broker, Redis and the auth stand-in")
        broker = KafkaBroker(state / "services")
        redis = RedisServer(state / "services")
        auth = AuthStandin(state / "services")
        for service in (broker, redis, auth):
            service.start()
            services.append(service)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("UGC_")},
            "UGC_DATA_DIR": str(state),
            "UGC_KAFKA_BOOTSTRAP": broker.bootstrap,
            "UGC_REDIS_URL": redis.url,
            "UGC_AUTH_URL": auth.url,
            "UGC_JWT_KEY": auth.verification_key,
            # the load generator posts from one IP as fast as it can
            "UGC_RATE_LIMIT_PER_SECOND": "0",
            "UGC_LOG_LEVEL": "warning",
        }
        print(f"broker {broker.bootstrap}, redis {redis.url}, auth {auth.url}")
        print(f"({time.monotonic() - t:.1f} s)")

        t = step("creating the topic and starting the collector")
        run([UGC, "topic", "create", "--partitions", "4"], env)
        settings = {k: v for k, v in env.items() if k.startswith("UGC_")}
        collector = UgcServe(state / "services", settings, workers=2)
        collector.ready_path = "/readyz"  # Kafka connected, not only the process up
        collector.start()
        services.append(collector)
        print(f"collector on {collector.url} ({time.monotonic() - t:.1f} s)")

        t = step(f"posting {args.events} events for {month} (5% deliberately invalid)")
        tokens = state / "tokens.txt"
        tokens.write_text(
            "".join(auth.token(f"user-{i}", expires_in=3600) + "\n" for i in range(300))
        )
        run(
            [
                UGC, "events", "generate",
                "--url", collector.url,
                "--count", str(args.events),
                "--concurrency", "32",
                "--since", month_start.isoformat(),
                "--until", now.isoformat(),
                "--invalid-share", "0.05",
                "--tokens-file", str(tokens),
            ],
            env,
        )  # fmt: skip
        collector.stop()  # graceful: in-flight deliveries are flushed
        services.remove(collector)
        print(f"({time.monotonic() - t:.1f} s)")

        t = step("the ingest DAG's steps: migrate, load, check")
        run([UGC, "db", "migrate"], env)
        run([UGC, "etl", "run", "--since", month_start.isoformat()], env)
        run([UGC, "etl", "status"], env)
        report = state / "quality"
        quality = run(
            [
                UGC, "quality", "check",
                "--since", month_start.isoformat(),
                "--report-dir", str(report),
            ],
            env,
            allowed=(0, 5),
        )  # fmt: skip
        print(f"({time.monotonic() - t:.1f} s)")

        t = step(f"the marts DAG's steps for {month}")
        html = state / f"marts-{month}.html"
        run([UGC, "marts", "build", "--month", month], env)
        run([UGC, "marts", "show", "--month", month, "--html", str(html)], env)
        print(f"({time.monotonic() - t:.1f} s)")

        print("\n=== done in %.0f s" % (time.monotonic() - started))
        print(f"quality report: {report}/summary.json and the Data Docs under {report}")
        print(
            "quality result: "
            + (
                "all error-level checks passed"
                if quality == 0
                else "a check failed (see the report)"
            )
        )
        print(f"marts page:     {html}")
        print(
            f"warehouse:      chdb in {state}/warehouse (UGC_DATA_DIR={state} ugc marts show --month {month})"
        )
        return 0
    finally:
        for service in reversed(services):
            service.stop()


if __name__ == "__main__":
    sys.exit(main())
