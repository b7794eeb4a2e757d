"""ClickHouse adapter: the only package that imports clickhouse_driver and chdb."""
