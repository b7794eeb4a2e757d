"""``ugc events send`` and ``ugc events generate``: sample and synthetic traffic for the collector."""

from __future__ import annotations

import itertools
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from ugc.cli import State
from ugc.errors import BadInput
from ugc.events import REGISTRY, parse_ts
from ugc.settings import Settings


@click.group()
def events() -> None:
    """Send sample or synthetic events to a running collector (`ugc serve`)."""


def _url_option(func: Any) -> Any:
    return click.option(
        "--url",
        metavar="URL",
        help="The collector's base URL (default: http://UGC_BIND).",
    )(func)


@events.command("send")
@_url_option
@click.option(
    "--file",
    "path",
    metavar="FILE",
    help="JSON lines to send as written, one event per line; '-' reads stdin.",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Send the registry's example of this type (repeatable; default: every type).",
)
@click.option("--token", metavar="JWT", help="Token to put in the sample events.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per event.")
@click.pass_obj
def send(
    state: State,
    url: str | None,
    path: str | None,
    types: tuple[str, ...],
    token: str | None,
    as_json: bool,
) -> None:
    """Send the registry's example events, or JSON lines from a file, one request each.

    Prints the collector's answer per event. Exits 2 when any event was rejected.
    """
    from ugc.traffic import sender
    from ugc.traffic.samples import items_from_lines, sample_items

    base = _base_url(url, state.settings())
    if path and types:
        raise BadInput("give --file or --type, not both")
    if path:
        items = list(items_from_lines(_read_lines(path)))
    else:
        unknown = [name for name in types if name not in REGISTRY]
        if unknown:
            raise BadInput(
                f"unknown event type {unknown[0]!r}; known: {', '.join(REGISTRY.names())}"
            )
        items = sample_items(types, token=token)
    if not items:
        raise BadInput("nothing to send: the input has no events")
    report = sender.run(base, items, concurrency=1, keep_answers=True)
    answers = report.answers or []
    for item, (status, event_id, detail) in zip(items, answers, strict=True):
        if as_json:
            click.echo(
                orjson.dumps(
                    {
                        "event": item.event_type,
                        "status": status,
                        "event_id": event_id,
                        "detail": detail,
                    }
                )
            )
        else:
            click.echo(" ".join(filter(None, [str(status), item.event_type, event_id, detail])))
    if report.rejected:
        raise BadInput(f"{report.rejected} of {report.sent} events were rejected")


@events.command("generate")
@_url_option
@click.option(
    "--count", type=int, help="Events to send (default 1000, or endless with --duration)."
)
@click.option("--rate", type=float, default=0.0, show_default=True, help="Events/s; 0 = flat out.")
@click.option("--duration", type=float, metavar="SECONDS", help="Stop after this many seconds.")
@click.option("--concurrency", type=int, default=8, show_default=True, help="Connections.")
@click.option(
    "--invalid-share",
    type=float,
    default=0.05,
    show_default=True,
    help="Share of deliberately broken events (0..1).",
)
@click.option(
    "--batch-size",
    type=int,
    default=1,
    show_default=True,
    help="Events per request; > 1 posts to /api/v1/events/batch.",
)
@click.option(
    "--seed",
    type=int,
    help="Seed of the traffic model (default: a random one, printed). Event ids derive from "
    "it, so the same seed sent twice repeats the same events (the collector keeps them, the "
    "ETL deduplicates them).",
)
@click.option("--since", metavar="TS", help="Event times from this instant (ISO 8601 or a date).")
@click.option("--until", metavar="TS", help="Event times before this instant.")
@click.option("--month", metavar="YYYY-MM", help="Shorthand for --since/--until over one month.")
@click.option(
    "--v2-share", type=float, default=0.1, show_default=True, help="Share of seed-002 sessions."
)
@click.option(
    "--vendor-share",
    type=float,
    default=0.04,
    show_default=True,
    help="Share of film_added events from vendors.",
)
@click.option(
    "--tokens-file",
    metavar="FILE",
    help="Tokens, one per line, given to logged-in visitors (default: everyone anonymous).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def generate(
    state: State,
    url: str | None,
    count: int | None,
    rate: float,
    duration: float | None,
    concurrency: int,
    invalid_share: float,
    batch_size: int,
    seed: int | None,
    since: str | None,
    until: str | None,
    month: str | None,
    v2_share: float,
    vendor_share: float,
    tokens_file: str | None,
    as_json: bool,
) -> None:
    """Send realistic synthetic traffic (sessions, video, likes, vendors, broken events).

    Prints what was sent and accepted, rejections by status, mismatches against what each
    event expected, the rate achieved and latency percentiles.
    """
    from ugc.traffic import generate as make_traffic
    from ugc.traffic import sender

    if count is not None and count < 1:
        raise BadInput("--count must be at least 1")
    if duration is not None and duration <= 0:
        raise BadInput("--duration must be greater than zero")
    if rate < 0:
        raise BadInput("--rate must not be negative (0 means as fast as possible)")
    if concurrency < 1 or batch_size < 1:
        raise BadInput("--concurrency and --batch-size must be at least 1")
    if count is None and duration is None:
        count = 1000
    if seed is None:
        seed = secrets.randbelow(2**31)
    start, end = _window(since, until, month)
    base = _base_url(url, state.settings())
    factory = _token_factory(tokens_file) if tokens_file else None
    try:
        traffic = make_traffic(
            count,
            seed=seed,
            invalid_share=invalid_share,
            v2_share=v2_share,
            vendor_share=vendor_share,
            start=start,
            end=end,
            token_factory=factory,
        )
    except ValueError as exc:
        raise BadInput(f"bad traffic option: {exc}") from None
    report = sender.run(
        base,
        traffic,
        rate=rate,
        concurrency=concurrency,
        count=count,
        duration=duration,
        batch_size=batch_size,
    )
    summary = report.as_dict() | {"generated": traffic.tally.as_dict(), "url": base, "seed": seed}
    if as_json:
        click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        return
    for line in summary_lines(summary):
        click.echo(line)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    lat = summary["latency_ms"]
    rejected = ", ".join(
        f"{status} x{n}" for status, n in summary["by_status"].items() if not status.startswith("2")
    )
    lines = [
        f"sent       {summary['sent']} events in {summary['requests']} requests to {summary['url']}"
        f" in {summary['elapsed_s']:.2f} s ({summary['rate']:.1f} events/s), seed {summary['seed']}",
        f"accepted   {summary['accepted']}",
        f"rejected   {summary['rejected']}" + (f" ({rejected})" if rejected else ""),
        f"mismatches {summary['mismatches']} (answers that differ from what the event expected)",
        f"latency    p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms",
        "generated  "
        + ", ".join(f"{name} {n}" for name, n in summary["generated"]["by_type"].items()),
    ]
    if summary["generated"]["invalid"]:
        lines.append(
            "broken     "
            + ", ".join(f"{name} {n}" for name, n in summary["generated"]["invalid"].items())
        )
    if summary["transport_errors"]:
        lines.append(
            "no answer  " + ", ".join(f"{k} x{v}" for k, v in summary["transport_errors"].items())
        )
    for sample in summary["mismatch_samples"][:5]:
        lines.append(
            f"  mismatch: {sample['event_type']} ({sample['reason']}) expected "
            f"{sample['expected']}, got {sample['status']}: {sample['detail'][:120]}"
        )
    return lines


def _base_url(url: str | None, settings: Settings) -> str:
    if url:
        if not url.startswith(("http://", "https://")):
            raise BadInput(f"--url must start with http:// or https://, got {url!r}")
        return url.rstrip("/")
    host, _, port = settings.bind.rpartition(":")
    if host in ("0.0.0.0", "", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _instant(flag: str, text: str) -> datetime:
    try:
        return parse_ts(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise BadInput(f"{flag}: not an ISO 8601 time or date: {text!r}") from None


def _window(
    since: str | None, until: str | None, month: str | None
) -> tuple[datetime | None, datetime | None]:
    if month:
        if since or until:
            raise BadInput("give --month or --since/--until, not both")
        try:
            start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
        except ValueError:
            raise BadInput(f"--month: not YYYY-MM: {month!r}") from None
        end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
        return start, end
    if bool(since) != bool(until):
        raise BadInput("give both --since and --until")
    if not since or not until:
        return None, None
    start, end = _instant("--since", since), _instant("--until", until)
    if end <= start:
        raise BadInput("--until must be after --since")
    return start, end


def _read_lines(path: str) -> list[bytes]:
    if path == "-":
        return sys.stdin.buffer.read().splitlines()
    try:
        return Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None


def _token_factory(path: str) -> Any:
    """Tokens from a file, handed to logged-in visitors in turn (one per visitor)."""
    tokens = [line.strip().decode() for line in _read_lines(path) if line.strip()]
    if not tokens:
        raise BadInput(f"{path}: no tokens in the file")
    turn = itertools.cycle(tokens)
    return lambda user_id: next(turn)
