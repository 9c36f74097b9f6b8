"""Answering Airflow's human-in-the-loop reviews from a script, as a person would in the UI (for the demo
and tests that run DAGs with ``dag.test()``, which waits for a review and never answers it itself).

The answer is written into the metadata database the way the API server's review route does: the
response on the review, and, on Airflow 3.3+, the task parked in ``awaiting_input`` resumed; on Airflow
3.1 and 3.2 the review's trigger sees the response.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

APPROVE, REJECT = "Approve", "Reject"
log = logging.getLogger(__name__)


def answer_reviews(dag_id: str, *, approve: bool = True, reviewer: str = "demo reviewer") -> list[str]:
    """Answer every open review of ``dag_id``'s tasks; returns the tasks answered now (``task_id[map_index]``).

    On Airflow 3.3+ a task whose review is answered but which is parked in ``awaiting_input`` again is
    resumed again: on a busy machine ``dag.test()`` can write the parked state back after the resume (seen:
    the demo waited forever on an answered review)."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import or_, select

    awaiting = getattr(TaskInstanceState, "AWAITING_INPUT", None)
    waiting: Any = HITLDetail.responded_at.is_(None)
    if awaiting is not None:
        waiting = or_(waiting, TaskInstance.state == awaiting)
    answered: list[str] = []
    with create_session() as session:
        # Any: the model's columns are typed differently on Airflow 3.1 (Column) and 3.3 (Mapped).
        open_reviews: list[Any] = list(
            session.scalars(
                select(HITLDetail)
                .join(TaskInstance, TaskInstance.id == HITLDetail.ti_id)
                .where(TaskInstance.dag_id == dag_id, waiting)
            ).all()
        )
        for review in open_reviews:
            ti = session.get(TaskInstance, review.ti_id)
            if ti is None or (awaiting is not None and ti.state != awaiting):
                continue  # Airflow 3.3+: not parked yet (the review is written first); the next round
            if review.responded_at is None:
                review.responded_by = {"id": reviewer, "name": reviewer}
                review.responded_at = datetime.now(timezone.utc)
                review.chosen_options = [APPROVE if approve else REJECT]
                review.params_input = {}
                answered.append(f"{ti.task_id}[{ti.map_index}]")
            if awaiting is not None:
                from airflow.models.trigger import handle_event_submit
                from airflow.triggers.base import TriggerEvent

                handle_event_submit(
                    TriggerEvent(review.as_resume_event_payload()), task_instance=ti, session=session
                )
    return answered


@contextlib.contextmanager
def reviewer(
    dag_id: str, *, approve: bool = True, every: float = 0.5, name: str = "demo reviewer"
) -> Iterator[list[str]]:
    """A background reviewer answering ``dag_id``'s reviews while the block runs; yields what it answered."""
    # Imported here, in the caller's thread: importing Airflow's models from two threads at once breaks them.
    import airflow.models.trigger
    import airflow.triggers.base
    import airflow.utils.session  # noqa: F401
    from airflow.models import import_all_models
    from sqlalchemy.orm import configure_mappers

    import_all_models()
    configure_mappers()

    answered: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def loop() -> Any:
        while not stop.wait(every):
            try:
                answered.extend(answer_reviews(dag_id, approve=approve, reviewer=name))
            except Exception as err:  # a locked SQLite database: the next round answers
                if repr(err) not in seen:
                    seen.add(repr(err))
                    log.warning("Answering the reviews of %s failed (trying again): %r", dag_id, err)

    thread = threading.Thread(target=loop, name=f"reviewer-{dag_id}", daemon=True)
    thread.start()
    try:
        yield answered
    finally:
        stop.set()
        thread.join(10)
