"""Kafka administration: create the events topic, check that the cluster answers."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ugc.errors import BrokerUnavailable, ConfigError
from ugc.log import get_logger

_log = get_logger("ugc.kafka.librdkafka")


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient(
        {
            "bootstrap.servers": bootstrap,
            "socket.connection.setup.timeout.ms": 3000,
            "logger": _log,
        }
    )


def create_topic(
    bootstrap: str, topic: str, partitions: int, *, replication: int = 1, timeout: float = 15.0
) -> bool:
    """Create ``topic``; ``True`` if created, ``False`` if it already existed (idempotent).

    Raises ``BrokerUnavailable`` when the cluster cannot be reached and ``ConfigError`` when it
    refuses the request (bad name, bad partition count).
    """
    if partitions < 1:
        raise ConfigError(f"a topic needs at least one partition, got {partitions}")
    admin = _admin(bootstrap)
    try:
        admin.list_topics(timeout=min(timeout, 5.0))
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot reach kafka at {bootstrap}: {exc}") from exc
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=replication)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[topic].result(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        if err is not None and err.code() in {
            KafkaError._TRANSPORT,
            KafkaError._TIMED_OUT,
            KafkaError._ALL_BROKERS_DOWN,
        }:
            raise BrokerUnavailable(f"cannot reach kafka at {bootstrap}: {err.str()}") from exc
        raise ConfigError(f"kafka refused to create topic {topic!r}: {exc}") from exc
    except TimeoutError as exc:  # concurrent.futures.TimeoutError is TimeoutError on 3.11
        raise BrokerUnavailable(
            f"kafka at {bootstrap} did not answer within {timeout:.0f} s"
        ) from exc
    return True


def topic_partitions(bootstrap: str, topic: str, *, timeout: float = 5.0) -> int | None:
    """The topic's partition count, or ``None`` when it does not exist."""
    try:
        metadata = _admin(bootstrap).list_topics(topic, timeout=timeout)
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot reach kafka at {bootstrap}: {exc}") from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return None
    return len(found.partitions)


def reachable(bootstrap: str, *, timeout: float = 2.0) -> bool:
    """Whether any broker answers a metadata request within ``timeout``."""
    try:
        _admin(bootstrap).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True
