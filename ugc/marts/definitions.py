"""Each mart: its table, its columns and the ``INSERT ... SELECT`` that fills one month.

Marts read deduplicated data: one row per event_id, the rule of the ETL's ``v_events_<type>``
views (``LIMIT 1 BY event_id``), applied to the month's rows (``deduped``, which sends only
the ids seen more than once through it). The views
themselves cannot be filtered before they deduplicate (ClickHouse does not push a WHERE
through ``LIMIT BY``), so reading them would deduplicate a table's whole history on every
build. Rows are bucketed by ``event_at`` (UTC). Parameters: ``%(month)s`` (first day, text), ``%(start)s``/``%(end)s``
(epoch seconds, ``[start, end)``), ``%(end_plus_day)s``. "Users" are verified user ids only:
``user_id`` is never a claimed id, and ``anonymous`` (no or invalid token) is left out.
Table names come from the registry and this module, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ugc.events import ANONYMOUS, REGISTRY

IN_MONTH = "event_at >= toDateTime(%(start)s, 'UTC') AND event_at < toDateTime(%(end)s, 'UTC')"
VERIFIED = f"user_id != '{ANONYMOUS}' AND user_id != ''"
#: distinct verified users: ids are hashed to 64 bits first, which makes the count several
#: times cheaper than on strings and exact unless two ids collide (odds ~1e-8 at a million)
USERS = f"uniqExactIf(cityHash64(user_id), {VERIFIED})"
MONTH = "toDate(%(month)s)"
#: page views are paired on a 64-bit hash of page_view_id (cheaper to group and join than
#: the UUID; a collision between two of a month's page views is ~1e-7 at millions)
PV_KEY = "cityHash64(reinterpretAsString(page_view_id))"
#: a page view opened on the month's last evening may end the next day
_TO_NEXT_DAY = (
    "event_at >= toDateTime(%(start)s, 'UTC') AND event_at < toDateTime(%(end_plus_day)s, 'UTC')"
)
#: time on page outside [0, MAX_PAGE_SECONDS] is left out of the averages (and counted)
MAX_PAGE_SECONDS = 86400


#: 64-bit hash of event_id: what the build's duplicate sets hold
ID_HASH = "cityHash64(reinterpretAsString(event_id))"
#: event type -> the filters ``deduped`` was called with (its duplicate set must cover them)
DEDUP_WINDOWS: dict[str, list[str]] = {}


def dups_table(event_type: str) -> str:
    """The build's temporary table of the id hashes seen more than once in ``event_type``."""
    return f"_month_dups_{event_type}"


def deduped(event_type: str, where: str = IN_MONTH) -> str:
    """One event table's rows matching ``where``, one per event_id (the views' rule), after
    the filter so ClickHouse prunes the other months' partitions first.

    ``LIMIT 1 BY event_id`` over every row costs a hash table of all the month's UUIDs, in
    each mart that reads the table. Instead the build collects once per table the hashes of
    the ids seen more than once (``dups_sql``, in the temporary table ``dups_table``): rows
    whose hash is not there are unique and pass as they are, the few others go through
    ``LIMIT 1 BY event_id``. The result is the same rows (all copies of an id share a hash;
    a hash collision only sends unique rows through the exact path).
    """
    table = REGISTRY.get(event_type).table
    windows = DEDUP_WINDOWS.setdefault(event_type, [])
    if where not in windows:
        windows.append(where)
    dups = dups_table(event_type)
    return (
        f"(SELECT * FROM {table} WHERE {where} AND {ID_HASH} NOT IN {dups} UNION ALL "
        f"SELECT * FROM (SELECT * FROM {table} WHERE {where} AND {ID_HASH} IN {dups} "
        "LIMIT 1 BY event_id))"
    )


def dups_sql(event_type: str) -> tuple[str, str]:
    """(CREATE, INSERT) of ``event_type``'s duplicate set, over every filter ``deduped`` used
    for it (an id duplicated within one filter is duplicated within their union)."""
    table = REGISTRY.get(event_type).table
    where = " OR ".join(f"({w})" for w in DEDUP_WINDOWS[event_type])
    dups = dups_table(event_type)
    return (
        f"CREATE TEMPORARY TABLE {dups} (h UInt64) ENGINE = Memory",
        f"INSERT INTO {dups} SELECT h FROM (SELECT {ID_HASH} AS h FROM {table} WHERE {where}) "
        "GROUP BY h HAVING count() > 1",
    )


def per_type(select: str, key: str, alias: str) -> str:
    """``select`` grouped by ``key AS alias`` over each type's deduplicated month, as one UNION
    ALL with the type's name as ``event_type`` (each branch aggregates its own table: no
    group over the strings of every row afterwards)."""
    return " UNION ALL ".join(
        f"SELECT {MONTH}, {key} AS {alias}, '{t.name}' AS event_type, {select} "
        f"FROM {deduped(t.name)} GROUP BY {alias}"
        for t in REGISTRY
    )


@dataclass(frozen=True)
class Mart:
    name: str
    table: str
    columns: tuple[str, ...]
    #: the SELECT whose rows are inserted (columns in ``columns`` order)
    select: str
    #: how ``marts show`` orders the rows
    order_by: str
    doc: str
    #: a build step other marts read, not shown
    internal: bool = False

    @property
    def insert(self) -> str:
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) {self.select}"


VENDOR_FILMS = Mart(
    "vendor_films",
    "mart_vendor_films",
    ("month", "vendor_id", "films", "additions"),
    f"SELECT {MONTH}, vendor_id, uniqExact(film_id), count() FROM {deduped('film_added')} "
    "GROUP BY vendor_id",
    "films DESC, vendor_id",
    "Films added per vendor: distinct film ids, and film_added events.",
)

DAILY_USERS = Mart(
    "daily_users",
    "mart_daily_users",
    ("month", "day", "event_type", "events", "users"),
    per_type(
        f"count(), uniqExactIfState(cityHash64(user_id), {VERIFIED})", "toDate(event_at)", "day"
    ),
    "day, event_type",
    "Internal: events and the state of the verified-user set per day and type (one scan per table).",
    internal=True,
)

_DAILY_STATES = "FROM mart_daily_users WHERE month = toDate(%(month)s)"
DAILY = Mart(
    "daily",
    "mart_daily",
    ("month", "day", "event_type", "events", "users"),
    f"SELECT {MONTH}, day, event_type, events, finalizeAggregation(users) {_DAILY_STATES} "
    f"UNION ALL SELECT {MONTH}, day, '*', sum(events), uniqExactIfMerge(users) {_DAILY_STATES} "
    "GROUP BY day",
    "day, event_type",
    "Events and verified users per day, per type and for all types together ('*').",
)

ACTIVE_USERS = Mart(
    "active_users",
    "mart_active_users",
    ("month", "mau", "avg_dau", "peak_dau", "active_days", "events"),
    f"SELECT {MONTH}, (SELECT uniqExactIfMerge(users) {_DAILY_STATES}), avg(users), max(users), "
    f"count(), sum(events) FROM mart_daily WHERE month = {MONTH} AND event_type = '*'",
    "month",
    "MAU (distinct verified users in the month); DAU averaged over the days that had events.",
)

TIME_ON_PAGE = Mart(
    "time_on_page",
    "mart_time_on_page",
    ("month", "page_type", "views", "total_s", "avg_s", "median_s", "p90_s", "excluded"),
    f"SELECT {MONTH}, page_type, countIf(ok), sumIf(d, ok), avgIf(d, ok), "
    "quantileExactIf(0.5)(d, ok), quantileExactIf(0.9)(d, ok), countIf(NOT ok) FROM ("
    f"SELECT s.page_type AS page_type, e.te - s.ts AS d, d >= 0 AND d <= {MAX_PAGE_SECONDS} AS ok "
    f"FROM (SELECT {PV_KEY} AS id, any(page_type) AS page_type, "
    f"toUnixTimestamp(min(event_at)) AS ts FROM {deduped('page_view_start')} "
    "GROUP BY id) AS s ANY INNER JOIN ("
    f"SELECT {PV_KEY} AS id, toUnixTimestamp(min(event_at)) AS te "
    f"FROM {deduped('page_view_end', _TO_NEXT_DAY)} GROUP BY id) AS e "
    "ON s.id = e.id) GROUP BY page_type",
    "views DESC, page_type",
    "Time on page per page type, from page_view_start/end pairs (by page_view_id) whose start "
    "is in the month; seconds; pairs outside [0, 1 day] are excluded and counted.",
)

VIDEO_COMPLETIONS = Mart(
    "video_completions",
    "mart_video_completions",
    ("month", "video_id", "completions", "full_watches", "viewers"),
    f"SELECT {MONTH}, video_id, count(), countIf(duration_total = 1), "
    f"{USERS} FROM {deduped('video_complete')} "
    "GROUP BY video_id",
    "completions DESC, video_id",
    "video_complete events per video; full_watches have duration_total; verified viewers.",
)

QUALITY_SWITCHES = Mart(
    "quality_switches",
    "mart_quality_switches",
    ("month", "video_id", "switches_up", "switches_down", "switches"),
    f"SELECT {MONTH}, video_id, countIf(new_quality > old_quality), "
    f"countIf(new_quality < old_quality), count() FROM {deduped('quality_change')} "
    "GROUP BY video_id",
    "switches DESC, video_id",
    "Quality switches per video: up (higher new quality), down, and all quality_change events.",
)

SEARCH_FILTERS = Mart(
    "search_filters",
    "mart_search_filters",
    ("month", "filter", "uses", "users"),
    f"SELECT {MONTH}, filter, count(), {USERS} FROM ("
    "SELECT replaceRegexpAll(arrayJoin(splitByChar(';', filters)), '^\\\\s+|\\\\s+$', '') "
    f"AS filter, user_id FROM {deduped('search_filter')}) "
    "WHERE filter != '' GROUP BY filter",
    "uses DESC, filter",
    "Each filter of search_filter.filters (split on ';', trimmed) with its uses and users.",
)

CLICKS = Mart(
    "clicks",
    "mart_clicks",
    ("month", "element_type", "page_type", "clicks", "users"),
    f"SELECT {MONTH}, element_type, page_type, count(), {USERS} "
    f"FROM {deduped('element_click')} GROUP BY element_type, page_type",
    "clicks DESC, element_type, page_type",
    "Clicks per element type and page type, with verified users.",
)

#: in build order: daily and active_users read daily_users, active_users reads daily
MARTS = (
    VENDOR_FILMS,
    DAILY_USERS,
    DAILY,
    ACTIVE_USERS,
    TIME_ON_PAGE,
    VIDEO_COMPLETIONS,
    QUALITY_SWITCHES,
    SEARCH_FILTERS,
    CLICKS,
)
BUILDS_TABLE = "mart_builds"
