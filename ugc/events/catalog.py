"""Every event type ugc knows. Adding one is one entry here (and a migration for its table).

Field choices follow seeds 001/004 (the primary contract); how seed 002's envelope maps onto
these types is in ``ugc.events.envelopes``.
"""

from __future__ import annotations

from ugc.events.registry import Bool, Enum, EventType, Int, String, Strings, Uuid

PAGE_TYPE = String(
    "page_type", max_length=64, doc="Kind of page: movie, category, promotion, ...", example="movie"
)

#: Video heights (in pixels) the player offers; other values are accepted and flagged by
#: the quality checks as unknown.
STANDARD_QUALITIES = (144, 240, 360, 480, 720, 1080, 1440, 2160, 4320)

ELEMENT_CLICK = EventType(
    name="element_click",
    doc="A click on an interface element: a film, a trailer, a category, a person, a button.",
    fields=(
        String(
            "element_type",
            max_length=64,
            doc="Kind of element clicked: movie, trailer, category, person, button, ...",
            example="trailer",
        ),
        PAGE_TYPE,
        String(
            "element_id",
            required=False,
            max_length=128,
            doc="Id of what was clicked (a film id, a button name), when there is one.",
            example="tt0133093",
        ),
    ),
)

_PAGE_VIEW_ID = Uuid(
    "page_view_id",
    doc="Made by the client when the page opens and kept until it is left; pairs start and end.",
    example="3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10",
)

PAGE_VIEW_START = EventType(
    name="page_view_start",
    doc="The user opened a page. Paired with page_view_end by page_view_id for time on page.",
    fields=(_PAGE_VIEW_ID, PAGE_TYPE),
)

PAGE_VIEW_END = EventType(
    name="page_view_end",
    doc="The user left a page (often sent with navigator.sendBeacon on pagehide).",
    fields=(_PAGE_VIEW_ID, PAGE_TYPE),
)

QUALITY_CHANGE = EventType(
    name="quality_change",
    doc="The viewer or the player switched video quality.",
    fields=(
        String("video_id", max_length=128, doc="The video being played.", example="8bcb67fe"),
        Int("old_quality", minimum=1, maximum=10000, doc="Height before, e.g. 720.", example=720),
        Int("new_quality", minimum=1, maximum=10000, doc="Height after, e.g. 1080.", example=1080),
        Int(
            "position_s",
            required=False,
            minimum=0,
            maximum=10**7,
            doc="Playback position in seconds when the switch happened.",
            example=3600,
        ),
    ),
)

VIDEO_COMPLETE = EventType(
    name="video_complete",
    doc="A film or an episode was watched to the end.",
    fields=(
        String("video_id", max_length=128, doc="The video watched.", example="8bcb67fe"),
        Bool(
            "duration_total",
            doc="True when the whole running time was watched, not skipped to the end.",
            example=True,
        ),
        Int(
            "duration_s",
            required=False,
            minimum=0,
            maximum=10**7,
            doc="Running time in seconds, when the player knows it.",
            example=3660,
        ),
    ),
)

SEARCH_FILTER = EventType(
    name="search_filter",
    doc="The user searched with filters (genre, rating, actors, ...).",
    fields=(
        String(
            "search_query",
            max_length=512,
            doc="What was typed; may be empty when only filters were used.",
            example="matrix",
        ),
        String(
            "filters",
            max_length=1024,
            doc="The filters applied, as the frontend encodes them.",
            example="genre=sci-fi;rating>=8",
        ),
        String(
            "filter_type", required=False, max_length=64, doc="One filter's kind.", example="genre"
        ),
        String(
            "filter_value",
            required=False,
            max_length=256,
            doc="One filter's value.",
            example="sci-fi",
        ),
    ),
)

LIKE = EventType(
    name="like",
    doc="A film was liked or the like was taken back.",
    fields=(
        String("film_id", max_length=128, doc="The film.", example="tt0133093"),
        Enum("action", ("like", "unlike"), doc="like, or unlike to take it back.", example="like"),
    ),
)

FILM_ADDED = EventType(
    name="film_added",
    doc="A vendor added a film to the catalogue (sent by the back office, server to server).",
    server_to_server=True,
    fields=(
        String(
            "vendor_id", max_length=128, doc="The vendor who added the film.", example="vendor-42"
        ),
        String("film_id", max_length=128, doc="The film's catalogue id.", example="tt0133093"),
        String("title", max_length=512, doc="The film's title.", example="The Matrix"),
        Enum(
            "content_type",
            ("film", "series", "episode", "short"),
            required=False,
            doc="What was added.",
            example="film",
        ),
        Int(
            "release_year",
            required=False,
            minimum=1870,
            maximum=2100,
            doc="Year of release.",
            example=1999,
        ),
        Strings(
            "genres", max_length=64, doc="Genres, as the vendor sends them.", example=["sci-fi"]
        ),
        Int(
            "duration_s",
            required=False,
            minimum=0,
            maximum=10**7,
            doc="Running time in seconds.",
            example=8160,
        ),
    ),
)

CATALOG = (
    ELEMENT_CLICK,
    PAGE_VIEW_START,
    PAGE_VIEW_END,
    QUALITY_CHANGE,
    VIDEO_COMPLETE,
    SEARCH_FILTER,
    LIKE,
    FILM_ADDED,
)
