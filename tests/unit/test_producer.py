"""The producer's delivery-report watchdog and per-client fatal errors (no broker needed)."""

from __future__ import annotations

import asyncio
import time

import pytest
from confluent_kafka import KafkaError

from tests.support.services import free_port
from ugc.adapters.kafka import producer as module
from ugc.adapters.kafka.producer import KafkaPublisher, _Client, producer_config
from ugc.errors import BrokerUnavailable
from ugc.settings import Settings


def _config() -> dict:
    settings = Settings.load(environ={"UGC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"})
    return producer_config(settings)


def test_a_delivery_report_that_never_comes_fails_the_future_after_librdkafkas_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a fatal error librdkafka may never report some messages; their callers (a
    request, the spool replay) must get an error to spool on, not wait forever."""

    async def scenario() -> tuple[asyncio.Future[None], asyncio.Future[None]]:
        client = _Client(_config(), lambda _client, _err: None)
        client._report_within = 0.05
        client.start(asyncio.get_running_loop())
        stuck = asyncio.get_running_loop().create_future()
        answered = asyncio.get_running_loop().create_future()
        client.produced(stuck)
        client.produced(answered)
        answered.set_result(None)  # a report that did come
        await asyncio.sleep(0.3)
        client.stop_polling()
        return stuck, answered

    stuck, answered = asyncio.run(scenario())
    with pytest.raises(BrokerUnavailable, match="no delivery report") as failed:
        stuck.result()
    assert failed.value.possibly_persisted is True  # type: ignore[attr-defined]
    assert answered.result() is None


def test_a_fatal_error_retires_the_client_that_had_it_not_its_successor() -> None:
    async def scenario() -> tuple[bool, bool]:
        settings = Settings.load(environ={"UGC_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"})
        publisher = KafkaPublisher(settings)
        old = publisher._current()
        publisher._retire(old)
        new = publisher._current()
        fatal = KafkaError(KafkaError._FATAL, "late fatal error of the old client", fatal=True)
        old._error(fatal)
        retired_new = new.retired
        await publisher.aclose(timeout=0.1)
        return old is not new, retired_new

    rebuilt, retired_new = asyncio.run(scenario())
    assert rebuilt
    assert not retired_new


def test_the_watchdog_bound_follows_the_configured_timeouts() -> None:
    config = _config()
    client = _Client(config, lambda _client, _err: None)
    expected = (config["message.timeout.ms"] + config["request.timeout.ms"]) / 1000
    assert client._report_within == pytest.approx(expected + module._REPORT_GRACE_S)


def test_a_client_whose_deliveries_keep_failing_is_retired_a_success_resets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a broker restart an idempotent producer could stay stuck while every message
    timed out (the restart chaos test); only a new producer got through."""
    monkeypatch.setattr(module, "_REBUILD_AFTER_S", 0.05)
    client = _Client(_config(), lambda _client, _err: None)
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    loop = asyncio.new_event_loop()
    try:
        client.on_delivery(loop.create_future(), timed_out, None)
        client.on_delivery(loop.create_future(), None, None)  # a success in between
        time.sleep(0.06)
        client.on_delivery(loop.create_future(), timed_out, None)
        assert not client.retired
        time.sleep(0.06)
        client.on_delivery(loop.create_future(), timed_out, None)
        assert client.retired
    finally:
        loop.close()


def test_a_client_that_lost_a_report_is_retired() -> None:
    async def scenario() -> bool:
        client = _Client(_config(), lambda _client, _err: None)
        client._report_within = 0.01
        client.start(asyncio.get_running_loop())
        client.produced(asyncio.get_running_loop().create_future())
        await asyncio.sleep(0.3)
        client.stop_polling()
        return client.retired

    assert asyncio.run(scenario())
