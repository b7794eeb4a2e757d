"""Adapters: one package per outside system. Each third-party client library is imported in
exactly one of them, and its exceptions are translated to ``ugc.errors`` at this boundary.

    kafka        confluent-kafka: producer (collector), consumer (ETL), admin (topics)
    clickhouse   clickhouse-driver (native protocol) and chdb (embedded), one interface
    redis        redis-py: identity cache, rate limiter
    auth         the external auth service (HTTP) and the local JWT check (pyjwt)
"""
