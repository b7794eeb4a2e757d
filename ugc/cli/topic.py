"""``ugc topic create``: create the one events topic."""

from __future__ import annotations

import click

from ugc.cli import State


@click.group()
def topic() -> None:
    """Manage the Kafka topic the collector publishes to."""


@topic.command("create")
@click.option(
    "--partitions", type=int, default=None, help="Partition count (UGC_KAFKA_PARTITIONS)."
)
@click.option("--topic", "name", default=None, help="Topic name (UGC_KAFKA_TOPIC).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap servers (UGC_KAFKA_BOOTSTRAP).")
@click.pass_obj
def create(state: State, partitions: int | None, name: str | None, bootstrap: str | None) -> None:
    """Create the topic; succeeds (and says so) when it already exists."""
    from ugc.adapters.kafka import admin

    settings = state.settings(
        kafka_partitions=partitions, kafka_topic=name, kafka_bootstrap=bootstrap
    )
    created = admin.create_topic(
        settings.kafka_bootstrap, settings.kafka_topic, settings.kafka_partitions
    )
    verb = "created" if created else "already exists:"
    click.echo(
        f"topic {settings.kafka_topic} {verb} "
        f"({admin.topic_partitions(settings.kafka_bootstrap, settings.kafka_topic)} partitions)"
    )
