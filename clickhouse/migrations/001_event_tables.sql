-- One table per event type: columns exactly ugc.events.columns.table_columns(type)
-- (tests/integration/test_warehouse_schema.py fails when they disagree).
-- ReplacingMergeTree on (event_id, kafka_partition, kafka_offset): a message the loader
-- delivers twice collapses on merge; the same event_id at two offsets (a producer retry)
-- stays as two rows, so quality checks can count it. Readers use v_events_<type>.
-- Placeholders: {ts}, {lowcard}, {lowcard_null} (see ugc/adapters/clickhouse/migrate.py).

CREATE TABLE IF NOT EXISTS events_element_click
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    element_type    String,
    page_type       String,
    element_id      Nullable(String),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_element_click AS
SELECT * FROM events_element_click LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_page_view_start
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    page_view_id    UUID,
    page_type       String,
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_page_view_start AS
SELECT * FROM events_page_view_start LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_page_view_end
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    page_view_id    UUID,
    page_type       String,
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_page_view_end AS
SELECT * FROM events_page_view_end LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_quality_change
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    video_id        String,
    old_quality     UInt32,
    new_quality     UInt32,
    position_s      Nullable(UInt32),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_quality_change AS
SELECT * FROM events_quality_change LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_video_complete
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    video_id        String,
    duration_total  UInt8,
    duration_s      Nullable(UInt32),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_video_complete AS
SELECT * FROM events_video_complete LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_search_filter
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    search_query    String,
    filters         String,
    filter_type     Nullable(String),
    filter_value    Nullable(String),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_search_filter AS
SELECT * FROM events_search_filter LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_like
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    film_id         String,
    action          {lowcard},
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_like AS
SELECT * FROM events_like LIMIT 1 BY event_id;

CREATE TABLE IF NOT EXISTS events_film_added
(
    event_id        UUID,
    event_type      {lowcard},
    schema_version  UInt16,
    envelope        {lowcard},
    user_id         String,
    claimed_user_id Nullable(String),
    identity_source {lowcard},
    session_id      Nullable(String),
    received_at     {ts},
    client_event_at Nullable({ts}),
    client_sent_at  Nullable({ts}),
    event_at        {ts},
    country         {lowcard_null},
    device          {lowcard_null},
    page_url        Nullable(String),
    referrer        Nullable(String),
    user_agent      Nullable(String),
    vendor_id       String,
    film_id         String,
    title           String,
    content_type    {lowcard_null},
    release_year    Nullable(UInt32),
    genres          Array(String),
    duration_s      Nullable(UInt32),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    loaded_at       {ts},
    load_run_id     String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_at)
ORDER BY (event_id, kafka_partition, kafka_offset);

CREATE VIEW IF NOT EXISTS v_events_film_added AS
SELECT * FROM events_film_added LIMIT 1 BY event_id;
