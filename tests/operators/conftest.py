from __future__ import annotations

from typing import Any

import pytest


class FakeTaskInstance:
    """Just what the operators use of a task instance: ids and XCom."""

    def __init__(self, task_id: str = "task", run_id: str = "manual__2026-01-01T00:00:00+00:00") -> None:
        self.dag_id = "test_dag"
        self.run_id = run_id
        self.task_id = task_id
        self.map_index = -1
        self.try_number = 1
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(
        self,
        task_ids: str | None = None,
        key: str = "return_value",
        include_prior_dates: bool = False,
        map_indexes: Any = None,
    ) -> Any:
        return None if include_prior_dates else self.xcoms.get(key)


@pytest.fixture
def context() -> dict[str, Any]:
    return {"ti": FakeTaskInstance()}


DEMO_MEETING = "https://meet.google.com/abc-defg-hij"
