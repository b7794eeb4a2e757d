"""A small self-contained HTML page for one month of marts: inline SVG charts, no CDN, no JS."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.muted{color:#666} .kpis{display:flex;gap:16px;flex-wrap:wrap;margin:16px 0}
.kpi{border:1px solid #ddd;border-radius:8px;padding:10px 16px;min-width:140px}
.kpi b{display:block;font-size:22px} table{border-collapse:collapse;margin:8px 0}
td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left} svg text{font-size:11px;fill:#333}
.bar{fill:#3b82f6} .bar2{fill:#f59e0b}
"""


def render(data: dict[str, Any], top: int = 10) -> str:
    """The page for ``read_month``'s result."""
    marts = data["marts"]
    month = escape(data["month"])
    active = (marts.get("active_users") or [{}])[0]
    daily = [r for r in marts.get("daily", []) if r["event_type"] == "*"]
    vendors = marts.get("vendor_films", [])[:top]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ugc marts {month}</title><style>{_STYLE}</style></head><body>",
        f"<h1>ugc marts, {month}</h1>",
        f"<div class='muted'>build {escape(str(data['build']['build_id']))} at "
        f"{escape(str(data['build']['built_at']))}, from {data['build']['source_events']:,} "
        "events</div>",
        "<div class='kpis'>",
        _kpi("monthly active users", active.get("mau")),
        _kpi("average daily active users", active.get("avg_dau")),
        _kpi("peak daily active users", active.get("peak_dau")),
        _kpi("events", active.get("events")),
        "</div>",
        "<h2>Events per day</h2>",
        column_chart([r["day"][5:] for r in daily], [r["events"] for r in daily], "events"),
        "<h2>Daily active users</h2>",
        column_chart([r["day"][5:] for r in daily], [r["users"] for r in daily], "users", "bar2"),
        "<h2>Films added per vendor</h2>",
        bar_chart([r["vendor_id"] for r in vendors], [r["films"] for r in vendors]),
        "<h2>Time on page by page type (seconds)</h2>",
        _table(marts.get("time_on_page", []), ("page_type", "views", "avg_s", "median_s", "p90_s")),
        "<h2>Clicks by element and page type</h2>",
        bar_chart(
            [f"{r['element_type']} on {r['page_type']}" for r in marts.get("clicks", [])[:top]],
            [r["clicks"] for r in marts.get("clicks", [])[:top]],
        ),
        "<h2>Top search filters</h2>",
        bar_chart(
            [r["filter"] for r in marts.get("search_filters", [])[:top]],
            [r["uses"] for r in marts.get("search_filters", [])[:top]],
        ),
        "<h2>Video completions (top)</h2>",
        _table(
            marts.get("video_completions", [])[:top],
            ("video_id", "completions", "full_watches", "viewers"),
        ),
        "<h2>Quality switches (top)</h2>",
        _table(
            marts.get("quality_switches", [])[:top],
            ("video_id", "switches_up", "switches_down", "switches"),
        ),
        "</body></html>",
    ]
    return "\n".join(parts)


def column_chart(
    labels: list[str], values: list[float], unit: str, css: str = "bar", height: int = 180
) -> str:
    """Vertical bars, one per label (days), with the maximum marked."""
    if not values:
        return "<p class='muted'>no data</p>"
    peak = max(values) or 1
    step = max(8, min(40, 900 // len(values)))
    width = step * len(values) + 60
    out = [f"<svg width='{width}' height='{height + 40}' role='img' aria-label='{escape(unit)}'>"]
    out.append(f"<text x='0' y='12'>{_num(peak)} {escape(unit)}</text>")
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar = round(height * (value / peak)) if value else 0
        x = 50 + i * step
        out.append(
            f"<rect class='{css}' x='{x}' y='{20 + height - bar}' width='{step - 2}' "
            f"height='{bar}'><title>{escape(str(label))}: {_num(value)}</title></rect>"
        )
        if len(values) <= 16 or i % max(1, len(values) // 10) == 0:
            out.append(f"<text x='{x}' y='{height + 34}'>{escape(str(label))}</text>")
    out.append("</svg>")
    return "".join(out)


def bar_chart(labels: list[str], values: list[float], bar_height: int = 18) -> str:
    """Horizontal bars, a ranking (vendors, filters, clicks)."""
    if not values:
        return "<p class='muted'>no data</p>"
    peak = max(values) or 1
    width = 420
    out = [f"<svg width='{width + 300}' height='{len(values) * (bar_height + 4) + 4}' role='img'>"]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 2 + i * (bar_height + 4)
        bar = max(1, round(width * value / peak)) if value else 0
        out.append(f"<text x='0' y='{y + 13}'>{escape(str(label))[:36]}</text>")
        out.append(
            f"<rect class='bar' x='220' y='{y}' width='{bar}' height='{bar_height}'>"
            f"<title>{escape(str(label))}: {_num(value)}</title></rect>"
        )
        out.append(f"<text x='{224 + bar}' y='{y + 13}'>{_num(value)}</text>")
    out.append("</svg>")
    return "".join(out)


def _kpi(label: str, value: Any) -> str:
    return f"<div class='kpi'><span class='muted'>{escape(label)}</span><b>{_num(value)}</b></div>"


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return "<p class='muted'>no data</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_num(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
