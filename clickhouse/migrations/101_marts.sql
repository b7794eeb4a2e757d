-- Monthly marts built by `ugc marts build --month YYYY-MM` from the deduplicated views
-- (v_events_<type>). Every table is partitioned by month: a rebuild drops the month's
-- partition and inserts it again, so building a month twice gives the same rows.
-- Owned by ugc.marts; definitions in docs/marts.md.
-- Placeholders: {ts}, {lowcard}, {lowcard_null} (see ugc/adapters/clickhouse/migrate.py).

CREATE TABLE IF NOT EXISTS mart_vendor_films
(
    month      Date,
    vendor_id  String,
    films      UInt64,
    additions  UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, vendor_id);

CREATE TABLE IF NOT EXISTS mart_daily
(
    month       Date,
    day         Date,
    event_type  String,
    events      UInt64,
    users       UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, day, event_type);

CREATE TABLE IF NOT EXISTS mart_active_users
(
    month        Date,
    mau          UInt64,
    avg_dau      Float64,
    peak_dau     UInt64,
    active_days  UInt32,
    events       UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY month;

CREATE TABLE IF NOT EXISTS mart_time_on_page
(
    month      Date,
    page_type  String,
    views      UInt64,
    total_s    UInt64,
    avg_s      Float64,
    median_s   Float64,
    p90_s      Float64,
    excluded   UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, page_type);

CREATE TABLE IF NOT EXISTS mart_video_completions
(
    month         Date,
    video_id      String,
    completions   UInt64,
    full_watches  UInt64,
    viewers       UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, video_id);

CREATE TABLE IF NOT EXISTS mart_quality_switches
(
    month          Date,
    video_id       String,
    switches_up    UInt64,
    switches_down  UInt64,
    switches       UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, video_id);

CREATE TABLE IF NOT EXISTS mart_search_filters
(
    month   Date,
    filter  String,
    uses    UInt64,
    users   UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, filter);

CREATE TABLE IF NOT EXISTS mart_clicks
(
    month         Date,
    element_type  String,
    page_type     String,
    clicks        UInt64,
    users         UInt64
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, element_type, page_type);

-- One row per month built: when, by which build, how long it took and the source volume.
CREATE TABLE IF NOT EXISTS mart_builds
(
    month          Date,
    build_id       String,
    built_at       DateTime('UTC'),
    source_events  UInt64,
    seconds        Float64,
    row_counts     String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, built_at);
