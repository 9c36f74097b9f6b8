"""The API key stays out of task logs, XComs, rendered template fields, trigger kwargs and messages."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_example_dags import PRODUCT_SYNC, load, task_states


@pytest.mark.attendee_simulator(scenario="demo", time_scale=60)
def test_key_appears_nowhere(attendee_simulator, airflow_db, capfd):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.xcom import XComModel as XCom
    except ImportError:  # Airflow 3.1
        from airflow.models.xcom import BaseXCom as XCom

    key = attendee_simulator.api_key
    run = load("attendee_meeting_pipeline").test(
        run_conf={"meeting_url": PRODUCT_SYNC, "min_participants": 4}
    )
    assert set(task_states(run).values()) == {"success"}
    output = "".join(capfd.readouterr())
    assert "Created bot" in output  # the task logs were captured
    assert key not in output
    with create_session() as session:
        xcoms = session.scalars(select(XCom).where(XCom.run_id == run.run_id)).all()
        assert xcoms and key not in json.dumps([str(x.value) for x in xcoms])
        rendered = session.scalars(
            select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.run_id == run.run_id)
        ).all()
        assert rendered and key not in json.dumps([r.rendered_fields for r in rendered], default=str)
        triggers = session.scalars(select(Trigger)).all()
        assert key not in json.dumps([t.kwargs for t in triggers], default=str)
