"""What the ugc DAGs share: how a task calls the ``ugc`` CLI and what its exit codes mean.

The DAG files are parsed every few seconds by the dag-processor, so nothing here imports ugc,
Great Expectations or Kafka: every task runs ``ugc ...`` as a child process on the worker and
reads its exit code (see ``ugc.errors``)::

    0  done                               -> success
    1  unexpected error (a bug)           -> the task's normal retries
    2  bad input (a wrong flag, a bad window) -> fail now: retrying cannot help
    3  configuration error (a UGC_* setting)  -> fail now
    4  a dependency is unavailable (Kafka, ClickHouse) -> retry with backoff
    5  an error-level data-quality check failed       -> fail now (the alert is the point)
    6  busy: another run holds the lock or the warehouse -> retry with backoff
    7  stored state contradicts the source (needs a human) -> fail now

``ugc`` never exits 99, and the tasks set ``skip_on_exit_code=None`` anyway, so no exit code
can turn into "skipped".

Configuration, resolved when a task runs (never at parse time):

* the executable: the Airflow Variable ``ugc_bin`` (or the environment variable
  ``AIRFLOW_VAR_UGC_BIN``), default ``ugc`` on the worker's PATH. It is deliberately not a
  ``UGC_*`` name: ugc refuses unknown ``UGC_*`` variables in its environment.
* the settings: the worker's own ``UGC_*`` environment is passed through to ``ugc``
  (``append_env=True``), so the same variables configure the collector, the CLI and the DAGs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import RetryDecision, RetryPolicy

#: the ``ugc`` executable, looked up when the task runs
UGC = "{{ var.value.get('ugc_bin', 'ugc') }}"

#: asset updated by every successful load; the marts DAG is scheduled on it
WAREHOUSE_EVENTS = "ugc://warehouse/events"

#: exit codes that no retry can fix (bad input, bad config, failed quality, integrity)
FAIL_NOW = {2: "bad input", 3: "configuration error", 5: "quality check failed", 7: "integrity"}

#: environment added to the worker's own for every ugc command
UGC_ENV = {"PYTHONUNBUFFERED": "1"}

_EXIT_CODE = re.compile(r"exit code (\d+)")


class UgcExitCodePolicy(RetryPolicy):
    """Fail at once on exit codes a retry cannot fix; otherwise the task's normal retries."""

    def __init__(self, fail_now: dict[int, str] | None = None) -> None:
        self.fail_now = dict(FAIL_NOW if fail_now is None else fail_now)

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Any = None,
    ) -> RetryDecision:
        code = exit_code_of(exception)
        if code in self.fail_now:
            return RetryDecision.fail(f"ugc exited {code} ({self.fail_now[code]}): not retried")
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {"__type": "UgcExitCodePolicy", "fail_now": sorted(self.fail_now)}


def exit_code_of(exception: BaseException) -> int | None:
    """The exit code in BashOperator's failure message, or None (a timeout, a kill)."""
    match = _EXIT_CODE.search(str(exception))
    return int(match.group(1)) if match else None


def ugc_task(
    task_id: str,
    args: str,
    *,
    execution_timeout: timedelta,
    outlets: Iterable[Any] = (),
    doc_md: str | None = None,
) -> BashOperator:
    """A task that runs ``ugc <args>``; ``args`` may use Jinja (rendered at run time)."""
    return BashOperator(
        task_id=task_id,
        bash_command=f"{UGC} {args}",
        env=dict(UGC_ENV),
        append_env=True,
        skip_on_exit_code=None,
        execution_timeout=execution_timeout,
        retry_policy=UgcExitCodePolicy(),
        outlets=list(outlets),
        doc_md=doc_md,
    )


def retry_args(*, retries: int = 3, first_delay: timedelta = timedelta(seconds=30)) -> dict:
    """default_args for retries with exponential backoff, capped at ten minutes."""
    return {
        "owner": "ugc",
        "retries": retries,
        "retry_delay": first_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    }
