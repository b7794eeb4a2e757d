"""The event registry: what each event type carries, declared once.

Everything else is derived from these declarations: the marshmallow schemas that validate
incoming events (``ugc.events.schemas``), the ClickHouse columns and DDL
(``ugc.events.columns``), the OpenAPI document (``ugc.events.jsonschema``) and the quality
expectations. Adding an event type means adding one ``EventType`` to ``ugc.events.catalog``
(plus a migration that creates its table; a test fails until the two agree).

This module is pure data: no I/O, no third-party imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

KINDS = ("string", "uuid", "int", "bool", "enum", "strings")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Field:
    """One field of an event type's ``data`` object."""

    name: str
    kind: str
    required: bool = True
    doc: str = ""
    example: Any = field(default=None, hash=False, compare=False)
    max_length: int = 256
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")
        if not _NAME.match(self.name):
            raise ValueError(f"field name {self.name!r} must be snake_case")
        if self.kind == "enum" and not self.choices:
            raise ValueError(f"field {self.name}: an enum needs choices")


def String(name: str, **kw: Any) -> Field:
    return Field(name, "string", **kw)


def Uuid(name: str, **kw: Any) -> Field:
    return Field(name, "uuid", **kw)


def Int(name: str, **kw: Any) -> Field:
    return Field(name, "int", **kw)


def Bool(name: str, **kw: Any) -> Field:
    return Field(name, "bool", **kw)


def Enum(name: str, choices: Iterable[str], **kw: Any) -> Field:
    return Field(name, "enum", choices=tuple(choices), **kw)


def Strings(name: str, **kw: Any) -> Field:
    return Field(name, "strings", required=kw.pop("required", False), **kw)


@dataclass(frozen=True)
class EventType:
    """An event type: its name (the Kafka key and the ``event`` value), fields and table."""

    name: str
    doc: str
    fields: tuple[Field, ...]
    version: int = 1
    #: sent by a back office, server to server, rather than by a browser
    server_to_server: bool = False
    table: str = field(default="")

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"event type {self.name!r} must be snake_case")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"event type {self.name}: duplicate field names")
        if not self.table:
            object.__setattr__(self, "table", f"events_{self.name}")

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    def example(self) -> dict[str, Any]:
        """A valid ``data`` object, built from the fields' examples."""
        return {f.name: f.example for f in self.fields if f.example is not None}


class UnknownEventType(KeyError):
    pass


class Registry:
    """The set of known event types. Iterates in registration order."""

    def __init__(self, types: Iterable[EventType] = (), reserved: Iterable[str] = ()) -> None:
        self._types: dict[str, EventType] = {}
        self._reserved = frozenset(reserved)
        for event_type in types:
            self.register(event_type)

    def register(self, event_type: EventType) -> EventType:
        if event_type.name in self._types:
            raise ValueError(f"event type {event_type.name} is already registered")
        clash = self._reserved.intersection(f.name for f in event_type.fields)
        if clash:
            raise ValueError(
                f"event type {event_type.name}: field names {sorted(clash)} are reserved "
                "for the canonical record"
            )
        self._types[event_type.name] = event_type
        return event_type

    def copy(self) -> Registry:
        return Registry(self._types.values(), self._reserved)

    def get(self, name: str) -> EventType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventType(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[EventType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def names(self) -> list[str]:
        return list(self._types)
