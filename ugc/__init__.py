"""ugc: user-generated-content event tracking for an online cinema.

Layers, top to bottom (a layer imports only what is below it):

    ugc.cli                      click commands, one exit-code table
    ugc.collector, ugc.etl,      features; they do not import each other
    ugc.quality, ugc.marts,
    ugc.traffic
    ugc.adapters.*               one package per outside system (Kafka, ClickHouse,
                                 Redis, the auth service); each third-party client
                                 library is imported in one adapter only
    ugc.events                   the event registry: pure data, no I/O
    ugc.settings, ugc.errors,    configuration, the exception tree, logging
    ugc.log
"""

__version__ = "0.1.0"
