-- The loader's own tables: dead letters, the load ledger and the run log.
-- Placeholders: {ts}, {lowcard}, {lowcard_null} (see ugc/adapters/clickhouse/migrate.py).

-- Every message the loader read but could not load: the raw payload, why, and where it was.
-- payload holds the message as UTF-8 text; a payload that is not valid UTF-8 is stored in
-- base64 with payload_encoding = 'base64' so no byte is lost.
-- Keyed by the message's position, so a message dead-lettered twice (a re-run) collapses;
-- readers use v_dead_letters.
CREATE TABLE IF NOT EXISTS dead_letters
(
    topic             String,
    kafka_partition   UInt32,
    kafka_offset      UInt64,
    kafka_key         Nullable(String),
    kafka_timestamp   {ts},
    reason            {lowcard},
    error             String,
    event_type        String,
    event_id          String,
    payload           String,
    payload_encoding  {lowcard},
    dead_lettered_at  {ts},
    load_run_id       String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(kafka_timestamp)
ORDER BY (topic, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_dead_letters AS
SELECT * FROM dead_letters LIMIT 1 BY topic, kafka_partition, kafka_offset;

-- One row per loaded batch of one partition, written after the batch's rows. A partition's
-- position is next_offset of its latest row (by written_ns): the next offset to read.
-- first_offset..last_offset is what the batch read; rows_loaded + rows_dead_lettered +
-- rows_skipped = last_offset - first_offset + 1 on a topic without offset holes.
CREATE TABLE IF NOT EXISTS load_ledger
(
    topic               String,
    kafka_partition     UInt32,
    first_offset        UInt64,
    last_offset         UInt64,
    next_offset         UInt64,
    rows_loaded         UInt64,
    rows_dead_lettered  UInt64,
    rows_skipped        UInt64,
    first_timestamp     {ts},
    last_timestamp      {ts},
    mode                {lowcard},
    load_run_id         String,
    written_ns          UInt64,
    written_at          DateTime('UTC')
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(written_at)
ORDER BY (topic, kafka_partition, written_ns);

-- One row when a run starts and one when it ends (status running -> ok | failed).
CREATE TABLE IF NOT EXISTS etl_runs
(
    load_run_id         String,
    topic               String,
    status              {lowcard},
    options             String,
    rows_loaded         UInt64,
    rows_dead_lettered  UInt64,
    rows_skipped        UInt64,
    message             String,
    host                String,
    pid                 UInt32,
    at_ns               UInt64,
    at                  DateTime('UTC')
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (topic, at_ns);
