"""The ETL: drain the Kafka topic into ClickHouse, effectively once (see docs/etl.md)."""

from ugc.etl.run import RunOptions, RunSummary, run_etl
from ugc.etl.status import etl_status

__all__ = ["RunOptions", "RunSummary", "etl_status", "run_etl"]
