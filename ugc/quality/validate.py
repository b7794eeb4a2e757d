"""Great Expectations: validate each check's small frame against its suite; write Data Docs.

Great Expectations costs seconds to import, so nothing imports this module's GX parts at
the top level: ``preload()`` starts the import on a thread while the checks' queries run in
ClickHouse, and ``validate()`` waits for it. An ephemeral context is built per run: the
suites live in ``expectations/`` (under version control), not in a GX project.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ugc.quality.suites import LEVELS, Suite

if TYPE_CHECKING:
    import pandas as pd

_preloading: threading.Thread | None = None
#: unexpected rows listed per expectation in the JSON summary
MAX_UNEXPECTED = 20


@dataclass
class Outcome:
    """One expectation's verdict, in plain JSON-able values."""

    suite: str
    expectation: str
    level: str
    success: bool
    element_count: int = 0
    unexpected: int = 0
    observed: Any = None
    unexpected_rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "level": self.level,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected": self.unexpected,
            "observed": self.observed,
            "unexpected_rows": self.unexpected_rows,
        }


def _quiet_env() -> None:
    # GX reads this when a context is built: no usage statistics from CI or production
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


#: imported by Great Expectations at its top level but used only by expectations and
#: renderers that the suites do not use (distribution tests): loaded on first use instead
#: (a third of GX's import time)
LAZY_MODULES = ("scipy.stats",)
#: optional GX dependencies for SQL data sources, which a pandas-only run never builds: GX
#: treats them as absent when they cannot be imported (it does so without them installed)
UNUSED_OPTIONAL = ("sqlalchemy",)


def _lazy(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def _import_gx() -> Any:
    """Import GX without the parts a pandas-only validation never runs (see above)."""
    if "great_expectations" in sys.modules:
        return sys.modules["great_expectations"]
    for name in LAZY_MODULES:
        _lazy(name)
    hidden = [name for name in UNUSED_OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import` raise ImportError
    try:
        return importlib.import_module("great_expectations")
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]  # later importers (not GX) get the real package


def preload() -> None:
    """Start importing Great Expectations in the background (idempotent)."""
    global _preloading
    if _preloading is None:
        _quiet_env()
        _preloading = threading.Thread(target=_import_gx, daemon=True)
        _preloading.start()


def _gx() -> Any:
    _quiet_env()
    if _preloading is not None:
        _preloading.join()
    return _import_gx()


def validate(
    frames: dict[str, pd.DataFrame], suites: dict[str, Suite], docs_dir: Path | None
) -> dict[str, list[Outcome]]:
    """Validate ``frames[name]`` against ``suites[name]``; build Data Docs in ``docs_dir``."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            "ugc",
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    for site in list(context.get_config().data_docs_sites or {}):
        if site != "ugc":
            context.delete_data_docs_site(site)
    source = context.data_sources.add_pandas("ugc")
    outcomes: dict[str, list[Outcome]] = {}
    for name, frame in frames.items():
        suite = suites[name]
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        gx_suite = context.suites.add(
            gx.ExpectationSuite(
                name=suite.name,
                expectations=[dict(item) for item in suite.document["expectations"]],
                meta=suite.document.get("meta", {}),
            )
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
        )
        result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        index = [c for c in suite.index_columns if c in frame.columns]
        if index:
            result_format["unexpected_index_column_names"] = index
        result = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)
        outcomes[name] = [_outcome(suite, item) for item in result.results]
    if docs_dir is not None:
        context.build_data_docs(site_names=["ugc"])
    return outcomes


def _outcome(suite: Suite, item: Any) -> Outcome:
    config = item.expectation_config
    severity = getattr(config.severity, "value", str(config.severity))
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    columns = [str(v) for k, v in kwargs.items() if k in ("column", "column_A", "column_B")]
    label = f"{config.type}({','.join(columns)})" if columns else config.type
    result = item.result or {}
    rows = [_plain(row) for row in (result.get("unexpected_index_list") or [])[:MAX_UNEXPECTED]]
    if not rows and result.get("partial_unexpected_list"):
        rows = [{"value": _plain(v)} for v in result["partial_unexpected_list"][:MAX_UNEXPECTED]]
    raised = bool((getattr(item, "exception_info", None) or {}).get("raised_exception"))
    return Outcome(
        suite=suite.name,
        expectation=label,
        level=LEVELS.get(severity, "error"),
        success=bool(item.success) and not raised,
        element_count=int(result.get("element_count") or 0),
        unexpected=int(result.get("unexpected_count") or (0 if item.success else 1)),
        observed=_plain(result.get("observed_value")),
        unexpected_rows=rows,
    )


def _plain(value: Any) -> Any:
    """numpy/pandas scalars and NaN -> JSON-able Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
