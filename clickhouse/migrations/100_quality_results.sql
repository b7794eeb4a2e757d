-- Results of `ugc quality check`, one row per expectation per run, for trends
-- ("duplicate ids per day over the last month"). Owned by ugc.quality.
-- Placeholders: {ts}, {lowcard}, {lowcard_null} (see ugc/adapters/clickhouse/migrate.py).

CREATE TABLE IF NOT EXISTS quality_results
(
    run_id          String,
    checked_at      DateTime('UTC'),
    window_since    DateTime('UTC'),
    window_until    DateTime('UTC'),
    suite           String,
    suite_version   UInt32,
    expectation     String,
    level           String,
    success         UInt8,
    element_count   UInt64,
    unexpected      UInt64,
    observed        String,
    location        String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(checked_at)
ORDER BY (suite, checked_at, run_id);
