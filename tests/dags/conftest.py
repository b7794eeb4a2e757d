"""Airflow for the DAG tests: a throw-away AIRFLOW_HOME, the repo's dags/ folder, SQLite.

Airflow reads its configuration once, when it is first imported, so the environment is set
here, at collection time, before any test module imports it. The metadata database is created
once per session (``airflow db migrate``, ~4 s) and only for the tests that ask for it
(``airflow_db``): the DagBag and structure tests need no database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
VENV_BIN = Path(sys.executable).parent

if "airflow" in sys.modules:  # pragma: no cover - a guard, not a branch we expect
    raise RuntimeError("airflow was imported before tests/dags/conftest.py set AIRFLOW_HOME")

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="ugc-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",  # task output shows on failure
    }
)
# the dag-processor puts the bundle (dags/) on sys.path; the tests import ugc_common the same way
if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dagbag():
    """Every DAG in dags/, parsed the way the dag-processor parses a bundle."""
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=DAGS, bundle_path=DAGS)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database for ``dag.test()``."""
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}{result.stderr}")
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture
def ugc_bin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the DAGs at this venv's ``ugc`` (the Airflow Variable ``ugc_bin``)."""
    monkeypatch.setenv("AIRFLOW_VAR_UGC_BIN", str(VENV_BIN / "ugc"))
    yield


def pytest_configure(config: pytest.Config) -> None:
    # Airflow's .airflowignore parsing trips a pathspec deprecation that is not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pathspec.*")


@pytest.fixture
def fresh_dag(dagbag):
    """The parsed DAG for a ``dag.test()``, with its params as they were once the test ends.

    An in-process run resolves the run's conf into the tasks' Param objects (shared by every
    copy of the DAG), so a ``month`` given to one run would become the default of the next.
    The scheduler never sees this (every task runs in a fresh process); tests sharing one
    DagBag would.
    """
    saved = [
        (param, param.value)
        for dag in dagbag.dags.values()
        for task in dag.tasks
        for param in (task.params.get_param(key) for key in task.params)
    ]
    yield lambda dag_id: dagbag.dags[dag_id]
    for param, value in saved:
        param.value = value
