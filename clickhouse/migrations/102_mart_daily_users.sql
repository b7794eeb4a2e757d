-- Internal to `ugc marts build`: per day and event type, the events and the set of verified
-- users as an aggregate state. One scan of the month fills it; mart_daily (per type and '*')
-- and mart_active_users (MAU) are then merged from these few rows instead of scanning again.
-- Partitioned by month like every mart: a rebuild replaces the month.

CREATE TABLE IF NOT EXISTS mart_daily_users
(
    month       Date,
    day         Date,
    event_type  String,
    events      UInt64,
    users       AggregateFunction(uniqExactIf, UInt64, UInt8)
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(month)
ORDER BY (month, day, event_type);
