"""The event registry and the canonical record. Pure data and validation; no I/O.

``REGISTRY`` holds every type in ``ugc.events.catalog``. Features take a registry as a
parameter (defaulting to this one) so tests can register new types without touching it.
"""

from ugc.events.catalog import CATALOG, STANDARD_QUALITIES
from ugc.events.envelopes import normalise
from ugc.events.record import (
    ANONYMOUS,
    IDENTITY_SOURCES,
    RESERVED_NAMES,
    Identity,
    Incoming,
    build_record,
    format_ts,
    parse_ts,
)
from ugc.events.registry import EventType, Field, Registry, UnknownEventType


def default_registry() -> Registry:
    """A fresh registry with every catalogued type (tests may add to their own copy)."""
    return Registry(CATALOG, reserved=RESERVED_NAMES)


REGISTRY = default_registry()

__all__ = [
    "ANONYMOUS",
    "CATALOG",
    "IDENTITY_SOURCES",
    "REGISTRY",
    "RESERVED_NAMES",
    "STANDARD_QUALITIES",
    "EventType",
    "Field",
    "Identity",
    "Incoming",
    "Registry",
    "UnknownEventType",
    "build_record",
    "default_registry",
    "format_ts",
    "normalise",
    "parse_ts",
]
