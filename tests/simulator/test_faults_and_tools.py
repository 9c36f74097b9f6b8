"""Fault injection, the admin surface, the CLI, scenarios and the pytest fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from airflow_provider_attendee.exceptions import AttendeeConnectionError, AttendeeServerError
from airflow_provider_attendee.hooks.attendee import AttendeeHook
from airflow_provider_attendee.testing import FaultConfig, FaultRule, Scenario, load_scenario, start_simulator
from airflow_provider_attendee.testing.real_airflow import free_port
from airflow_provider_attendee.testing.simulator.faults import FaultInjector
from airflow_provider_attendee.testing.simulator.scenario import generated_meeting

MEET = "https://meet.google.com/abc-defg-hij"


def test_fault_decisions_are_seeded_and_proportional():
    config = FaultConfig(seed=7, default=FaultRule(rate_429=0.1, rate_5xx=0.2, rate_reset=0.05))
    first = [FaultInjector(config).decide("GET", "/api/v1/bots").kind for _ in range(1)]
    kinds = [
        f.kind
        for f in (lambda i: [i.decide("GET", "/api/v1/bots") for _ in range(4000)])(FaultInjector(config))
    ]
    again = [
        f.kind
        for f in (lambda i: [i.decide("GET", "/api/v1/bots") for _ in range(4000)])(FaultInjector(config))
    ]
    assert kinds == again and first[0] == kinds[0]
    share = {k: kinds.count(k) / len(kinds) for k in set(kinds)}
    assert share["429"] == pytest.approx(0.1, abs=0.02)
    assert share["5xx"] == pytest.approx(0.2, abs=0.02)
    assert share["reset_before"] + share["reset_after"] == pytest.approx(0.05, abs=0.015)


def test_route_rules_override_the_default():
    config = FaultConfig(
        default=FaultRule(rate_5xx=1.0), routes=[FaultRule(method="POST", path=r"/bots$", latency_ms=5)]
    )
    injector = FaultInjector(config)
    assert injector.decide("POST", "/api/v1/bots").kind == "none"
    assert injector.decide("POST", "/api/v1/bots").delay_s == 0.005
    assert injector.decide("GET", "/api/v1/bots").kind == "5xx"


def test_hook_absorbs_injected_faults(attendee_simulator, monkeypatch):
    attendee_simulator.admin.set_faults(
        seed=3, default={"rate_5xx": 0.3, "rate_429": 0.2, "retry_after_seconds": 0.01, "rate_reset": 0.1}
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ATTENDEE_DEFAULT",
        attendee_simulator.connection_json(retry_backoff=0.001, max_retries=10),
    )
    hook = AttendeeHook()
    bot = hook.create_bot(MEET, bot_name="Notes", deduplication_key="fault-test")
    for _ in range(30):
        assert hook.get_bot(bot.id).id == bot.id
    counters = attendee_simulator.admin.counters()
    assert sum(counters["faults"].values()) >= 10
    assert {"429", "5xx"} <= set(counters["faults"])
    assert counters["bots_created_by_dedup_key"] == {"fault-test": 1}  # retried POSTs never duplicate


def test_lost_response_without_dedup_key_is_not_retried(attendee_simulator, monkeypatch):
    """A reset after processing: the server created the bot, the client saw an error."""
    attendee_simulator.admin.set_faults(
        routes=[{"method": "POST", "path": "/bots$", "rate_reset": 1.0, "reset_after_fraction": 1.0}]
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ATTENDEE_DEFAULT",
        attendee_simulator.connection_json(retry_backoff=0.001, max_retries=2),
    )
    hook = AttendeeHook()
    with pytest.raises(AttendeeConnectionError, match="RemoteProtocolError"):
        hook.create_bot(MEET, bot_name="Notes")  # no key: not retried
    assert len(attendee_simulator.admin.bots()) == 1
    assert attendee_simulator.admin.counters()["faults"] == {"reset_after": 1}


def test_html_5xx_gives_clean_error(attendee_simulator, monkeypatch):
    attendee_simulator.admin.set_faults(default={"rate_5xx": 1.0, "html_fraction": 1.0})
    monkeypatch.setenv(
        "AIRFLOW_CONN_ATTENDEE_DEFAULT",
        attendee_simulator.connection_json(retry_backoff=0.001, max_retries=1),
    )
    with pytest.raises(AttendeeServerError, match=r"non-JSON error page \(HTML\)"):
        AttendeeHook().get_bot("bot_x")


def test_latency_is_injected(attendee_simulator):
    attendee_simulator.admin.set_faults(default={"latency_ms": 150})
    started = time.monotonic()
    list(AttendeeHook().list_bots())
    assert time.monotonic() - started >= 0.15


def test_admin_counters_and_reset(attendee_simulator):
    hook = AttendeeHook()
    hook.create_bot(MEET, bot_name="Notes")
    list(hook.list_bots())
    admin = attendee_simulator.admin
    assert admin.requests("POST /api/v1/bots") == 1
    assert admin.requests("GET /api/v1/bots") == 1
    assert admin.counters()["statuses"] == {"201": 1, "200": 1}
    assert admin.counters()["connections"] == 1  # the hook's client reuses one keep-alive connection
    assert admin.counters()["peak_in_flight"] == {"POST /api/v1/bots": 1, "GET /api/v1/bots": 1}  # in turn
    admin.reset_counters()
    assert admin.requests("POST /api/v1/bots") == 0 and admin.counters()["peak_in_flight"] == {}
    admin.reset()
    assert admin.bots() == []


def test_clock_scaling(attendee_simulator):
    admin = attendee_simulator.admin
    before = admin.now()
    time.sleep(0.05)
    assert admin.now() == before  # frozen by default in the fixture
    admin.set_time_scale(600)
    time.sleep(0.1)
    assert admin.now() > before


def test_scenario_loading(tmp_path):
    assert load_scenario("demo").name == "demo"
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(
        "name: mine\nmeetings:\n  - meeting_url: https://zoom.us/j/1\n    admission: denied\n"
    )
    assert load_scenario(yaml_file).meetings[0].admission == "denied"
    with pytest.raises(FileNotFoundError):
        load_scenario("no-such-scenario")
    with pytest.raises(ValueError, match="leave"):
        Scenario.model_validate(
            {
                "meetings": [
                    {
                        "meeting_url": "x",
                        "participants": [{"name": "a", "presence": [{"join": 10, "leave": 5}]}],
                    }
                ]
            }
        )


def test_generated_meetings_are_plausible_and_deterministic():
    first, again = generated_meeting("https://zoom.us/j/42", 1), generated_meeting("https://zoom.us/j/42", 1)
    assert first == again
    assert 3 <= len(first.participants) <= 5 and sum(p.is_host for p in first.participants) == 1
    assert first.end_offset() is not None and 1200 <= first.end_offset() <= 2400
    assert generated_meeting("https://zoom.us/j/43", 1) != first


def test_start_simulator_context_manager():
    with start_simulator(api_key="ctx-key-1234", scenario="demo", time_scale=0, page_size=4) as sim:
        conn = json.loads(sim.connection_json(timeout=5))
        assert conn == {
            "conn_type": "attendee",
            "host": sim.url,
            "password": "ctx-key-1234",
            "extra": {"timeout": 5},
        }
        response = httpx.get(
            f"{sim.url}/api/v1/calendar_events", headers={"Authorization": "Token ctx-key-1234"}
        )
        assert len(response.json()["results"]) == 4
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/_sim/health")


def test_cli_serves_the_api():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_attendee.testing",
            "serve",
            "--port",
            str(port),
            "--api-key",
            "cli-key-5678",
            "--scenario",
            "demo",
            "--time-scale",
            "60",
            "--latency-ms",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # only a CLI that never starts fails, however busy the machine
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/calendar_events",
                    headers={"Authorization": "Token cli-key-5678"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and process.poll() is None, "the CLI did not start"
                time.sleep(0.1)
        assert response.status_code == 200 and len(response.json()["results"]) == 10
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"Attendee simulator on http://127.0.0.1:{port}" in output
    assert "API key: the one given with --api-key" in output and "cli-key-5678" not in output


def test_cli_names_the_default_key_in_help_and_banner(capsys):
    from airflow_provider_attendee.testing.simulator.cli import banner, build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "API key sim-api-key" in help_text and "(default: sim-api-key)" in help_text
    assert banner("127.0.0.1", 8000, "sim-api-key", 1).splitlines() == [
        "Attendee simulator on http://127.0.0.1:8000 (admin: /_sim/, time scale 1)",
        "API key: sim-api-key",
    ]


def test_fixture_sets_the_connection(attendee_simulator):
    conn = json.loads(os.environ["AIRFLOW_CONN_ATTENDEE_DEFAULT"])
    assert conn["host"] == attendee_simulator.url and conn["password"] == attendee_simulator.api_key
    ok, _ = AttendeeHook().test_connection()
    assert ok
