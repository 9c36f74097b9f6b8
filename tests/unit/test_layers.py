"""The package's layers, as rules: the Airflow-free layers import nothing from ``airflow``, no module-level
import cycle, and the import paths users already write keep working."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_attendee"
RECORDINGS = ROOT / "tests" / "fixtures" / "attendee" / "recordings"

#: The layers that must work without Airflow: every module of these packages.
AIRFLOW_FREE_LAYERS = (
    "airflow_provider_attendee.client",
    "airflow_provider_attendee.meetings",
    "airflow_provider_attendee.analytics",
    "airflow_provider_attendee.testing.simulator",
)
#: And the parts of the test harness that pytest loads at start-up, before a conftest configures Airflow.
AIRFLOW_FREE_MODULES = (
    "airflow_provider_attendee.testing",
    "airflow_provider_attendee.testing.pytest_plugin",
    "airflow_provider_attendee.testing.runner",
)

#: Imports every module of the Airflow-free layers with ``airflow`` blocked, uses a little of each, and
#: prints what it did and which ``airflow`` modules got imported.
PROBE = r"""
import asyncio, importlib, json, pkgutil, sys
from pathlib import Path


class BlockAirflow:
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError(f"airflow is blocked here: {name}")
        return None


sys.meta_path.insert(0, BlockAirflow())
layers, modules, recordings = json.loads(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3])
imported = []
for layer in layers:
    package = importlib.import_module(layer)
    names = [layer] + [info.name for info in pkgutil.walk_packages(package.__path__, layer + ".")]
    for name in names + modules:
        importlib.import_module(name)
        imported.append(name)


def answers(recording, path_end):
    data = json.loads((recordings / recording).read_text())
    for exchange in data["exchanges"]:
        body = exchange["response_body"]
        if exchange["path"].endswith(path_end) and exchange["status"] == 200 and body:
            yield from body["results"] if isinstance(body, dict) and "results" in body else [body]


from airflow_provider_attendee.client import errors, states
from airflow_provider_attendee.client.models import Bot, CalendarEvent, ParticipantEvent
from airflow_provider_attendee.client.webhooks import sign_payload, verify_webhook_signature
from airflow_provider_attendee.meetings.calendar_plan import Selection, plan
from airflow_provider_attendee.meetings.report import build_report
from airflow_provider_attendee.meetings.report_render import to_markdown
from airflow_provider_attendee.testing.simulator.app import SimulatorApp
from airflow_provider_attendee.testing.simulator.core import DEFAULT_API_KEY, AttendeeSimulator

done = {}
events = [ParticipantEvent.model_validate(e) for e in answers("null_names.json", "/participant_events")]
report = build_report(events)
done["report"] = sorted(p.name for p in report.participants)
done["markdown"] = "Unnamed participant" in to_markdown(report)
calendar = [CalendarEvent.model_validate(e) for e in answers("calendar.json", "/calendar_events")]
done["plan"] = plan(calendar, Selection()).events_seen
done["signed"] = verify_webhook_signature(b'{"a": 1}', sign_payload({"a": 1}, "c2VjcmV0"), "c2VjcmV0")
try:
    states.parse_state("joined_recordin")
except errors.AttendeeConfigurationError as err:
    done["error"] = [f"{c.__module__}.{c.__qualname__}" for c in type(err).__mro__]


async def create_bot():
    import httpx

    app = SimulatorApp(AttendeeSimulator(scenario="demo"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        answer = await client.post(
            "/api/v1/bots",
            json={"meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Probe"},
            headers={"Authorization": f"Token {DEFAULT_API_KEY}"},
        )
    return Bot.model_validate(answer.raise_for_status().json()).state


done["bot"] = asyncio.run(create_bot())
airflow = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
print(json.dumps({"imported": imported, "done": done, "airflow": airflow}))
"""


@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    """What the probe did, in a fresh interpreter with ``airflow`` blocked."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            json.dumps(AIRFLOW_FREE_LAYERS),
            json.dumps(AIRFLOW_FREE_MODULES),
            str(RECORDINGS),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_airflow_free_layers_import_no_airflow(probe: dict[str, object]) -> None:
    assert probe["airflow"] == []
    imported = set(probe["imported"])  # type: ignore[arg-type]
    on_disk = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for layer in ("client", "meetings", "analytics", "testing/simulator")
        for path in (PACKAGE / layer).rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    }
    assert on_disk <= imported  # every module of those layers was imported
    assert {
        "airflow_provider_attendee.testing.simulator.app",
        "airflow_provider_attendee.client.http",
    } <= imported


def test_the_airflow_free_layers_work_without_airflow(probe: dict[str, object]) -> None:
    done = probe["done"]
    assert isinstance(done, dict)
    assert done["report"] == [
        "Dana Lee",
        "Unnamed participant (uuid nn-anon)",
        "Unnamed participant (uuid nn-blank)",
    ]
    assert done["markdown"] is True and done["signed"] is True
    assert done["plan"] > 0
    assert done["bot"] == "joining"
    # Without the Airflow layer, the client's errors are plain exceptions (no twin was registered).
    assert done["error"][:2] == [
        "airflow_provider_attendee.client.errors.AttendeeConfigurationError",
        "airflow_provider_attendee.client.errors.AttendeeError",
    ]
    assert not any(name.startswith("airflow.") for name in done["error"])


# ------------------------------------------------------------------------------------------- import cycles
def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module runs when imported: its body, and inside top-level ``try``/``if`` blocks
    (except ``if TYPE_CHECKING:``), not inside functions."""
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            stack += node.body + node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level (``from pkg import sub`` names ``sub``)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in top_level_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names]
            edges |= {t for t in targets if t in paths and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, ..., a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_names_the_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) is None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "airflow_provider_attendee.client.models" in graph["airflow_provider_attendee.client.webhooks"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# ------------------------------------------------------------------------------------- public import paths
#: The public names of the paths users write, as they were before the layout (0.1.0 and the Unreleased).
PUBLIC = {
    "airflow_provider_attendee.hooks.attendee": ["AttendeeHook"],
    "airflow_provider_attendee.operators.base": ["AttendeeBaseOperator", "AttendeeWaitingOperator"],
    "airflow_provider_attendee.operators.bots": ["AttendeeCreateBotOperator", "AttendeeLeaveBotOperator"],
    "airflow_provider_attendee.operators.calendar": ["AttendeeScheduleCalendarBotsOperator"],
    "airflow_provider_attendee.operators.digest": ["AttendeeMeetingDigestOperator"],
    "airflow_provider_attendee.operators.outputs": [
        "AttendeeTranscriptOperator",
        "AttendeeRecordingOperator",
        "AttendeeParticipantReportOperator",
    ],
    "airflow_provider_attendee.sensors.attendee": [
        "AttendeeBaseSensor",
        "AttendeeBotStateSensor",
        "AttendeeParticipantCountSensor",
        "AttendeeTranscriptReadySensor",
    ],
    "airflow_provider_attendee.triggers.attendee": [
        "AttendeeBotStateTrigger",
        "AttendeeParticipantCountTrigger",
        "AttendeeTranscriptReadyTrigger",
        "AttendeePollingTrigger",
        "AttendeeBotEventTrigger",
    ],
    "airflow_provider_attendee.webhooks": [
        "SIGNATURE_HEADER",
        "BotStateChangeData",
        "BotStateChangeWebhook",
        "CalendarWebhook",
        "CalendarWebhookData",
        "OtherWebhook",
        "ParticipantEventWebhook",
        "TranscriptUpdateWebhook",
        "WebhookPayload",
        "canonical_json",
        "parse_webhook",
        "sign_payload",
        "verify_webhook_signature",
    ],
    "airflow_provider_attendee.testing": [
        "DEFAULT_API_KEY",
        "AttendeeSimulator",
        "Exchange",
        "FaultConfig",
        "FaultRule",
        "RunningSimulator",
        "Scenario",
        "SimulatorAdmin",
        "load_scenario",
        "start_simulator",
    ],
    "airflow_provider_attendee.exceptions": [
        "AttendeeError",
        "AttendeeConfigurationError",
        "AttendeeConnectionError",
        "AttendeeUnexpectedResponseError",
        "AttendeeAPIError",
        "AttendeeAuthenticationError",
        "AttendeeNotFoundError",
        "AttendeeRecordingMissingError",
        "AttendeeInvalidRequestError",
        "AttendeeInvalidStateError",
        "AttendeeDeduplicationKeyInUseError",
        "AttendeeRateLimitError",
        "AttendeeServerError",
        "AttendeeBotFailedError",
        "AttendeeTranscriptNotReadyError",
        "AttendeeDestinationError",
        "AttendeeCalendarSyncError",
        "AttendeeTablesError",
        "AttendeeTablesConfigurationError",
        "describe_error_body",
        "as_sentence",
        "error_for_status",
    ],
}


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_import_paths_keep_working(path: str) -> None:
    module = importlib.import_module(path)
    missing = [name for name in PUBLIC[path] if getattr(module, name, None) is None]
    assert missing == [], f"{path} lost {missing}"


def test_the_trigger_classpaths_stored_in_the_database_are_unchanged() -> None:
    from airflow_provider_attendee.triggers import attendee

    for name in PUBLIC["airflow_provider_attendee.triggers.attendee"]:
        trigger = getattr(attendee, name)
        assert (
            f"{trigger.__module__}.{trigger.__qualname__}"
            == f"airflow_provider_attendee.triggers.attendee.{name}"
        )
