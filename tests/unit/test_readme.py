"""The README stays true: its settings table is the generated one."""

from __future__ import annotations

import re
from pathlib import Path

from ugc.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_matches_the_settings() -> None:
    text = README.read_text()
    block = re.search(r"<!-- settings:start.*?-->\n(.*?)\n<!-- settings:end -->", text, re.S)
    assert block, "README lost its settings block"
    rows = Settings.load(environ={}).describe()
    expected = ["| variable | default | what it does |", "|---|---|---|"]
    expected += [f"| `{r['env']}` | `{r['value']}` | {r['doc']} |" for r in rows]
    assert block.group(1).splitlines() == expected, (
        "README settings table is stale: regenerate it with `ugc config show --markdown`"
    )


def test_readme_names_the_two_commands_ci_runs() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    assert "make test" in (README.parent / ".ci" / "run").read_text()
