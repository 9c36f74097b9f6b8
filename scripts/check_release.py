"""Release check: build the sdist and the wheel, check them, and install the wheel as a user would.

``make release-check`` (part of ``make test``) runs it with the tools environment (build, twine):

1. ``python -m build``: the sdist, then the wheel built from that sdist (so the sdist is complete);
2. ``twine check --strict``: the metadata and README render on the package index;
3. the wheel holds the package, ``py.typed``, the provider info and its entry points, the licence, and no
   tests, fixtures or bytecode; the sdist holds the example DAGs, the tests and the changelog;
4. a fresh virtualenv gets the wheel and its dependencies from the package registries, pinned to the
   versions of the test environment (``pip freeze`` of ``--constraints-from``, less this package: no
   resolver backtracking, pip's cache serves the files), so a dependency the wheel fails to declare is
   missing there;
5. in it, with a new AIRFLOW_HOME, outside the checkout: ``airflow providers list`` and ``airflow
   providers hooks`` show the provider and the ``attendee`` connection type, ``airflow plugins`` the
   webhook receiver, and a DagBag of the sdist's example DAGs has every DAG and no import error.

Prints one line per check and ``release check: N passed, M failed``; exits 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_attendee"
DISTRIBUTION = "airflow-provider-attendee"
#: In the wheel, besides the package's modules.
WHEEL_MUST_HOLD = (
    f"{PACKAGE}/py.typed",
    f"{PACKAGE}/get_provider_info.py",
    f"{PACKAGE}/plugins/webhooks.py",
    # The DB manager's alembic files (not Python: a packaging change could leave them out).
    f"{PACKAGE}/db/alembic.ini",
    f"{PACKAGE}/db/migrations/env.py",
    f"{PACKAGE}/db/migrations/script.py.mako",
)
ENTRY_POINTS = (
    "[apache_airflow_provider]\nprovider_info = airflow_provider_attendee.get_provider_info:get_provider_info",
    "[airflow.plugins]\nattendee_webhooks = airflow_provider_attendee.plugins.webhooks:AttendeeWebhooksPlugin",
)
SDIST_MUST_HOLD = ("example_dags", "tests", "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml")
DAGBAG_PROBE = """
import json, sys
import airflow_provider_attendee
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.1
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "package": airflow_provider_attendee.__file__,
    "version": airflow_provider_attendee.__version__,
    "dags": sorted(bag.dag_ids),
    "errors": {path: str(error) for path, error in bag.import_errors.items()},
}))
"""


class Checks:
    """Runs named checks, prints each outcome, and counts them."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, problems: list[str]) -> bool:
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for problem in problems:
                print(f"     {problem}")
            return False
        self.passed += 1
        print(f"ok   {name}")
        return True

    def run(self, name: str, step: Callable[[], list[str] | None]) -> bool:
        """Run one step: its problems (None or [] when it passed), or the failed command's output."""
        try:
            return self.check(name, step() or [])
        except subprocess.CalledProcessError as err:
            output = (err.stdout or "") + (err.stderr or "")
            return self.check(
                name, [f"{' '.join(map(str, err.cmd))} exited {err.returncode}", output[-3000:]]
            )


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command; its output, or CalledProcessError with it."""
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=cwd).stdout


def succeeds(command: list[str]) -> None:
    """A step that passes when the command exits 0."""
    run(command)


def wheel_problems(wheel: Path) -> list[str]:
    """What the wheel lacks or should not hold."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_text = archive.read(entry_points).decode()
    problems = [f"missing {name}" for name in WHEEL_MUST_HOLD if name not in names]
    problems += [f"entry point missing: {e!r}" for e in ENTRY_POINTS if e not in entry_text]
    if not any("/licenses/LICENSE" in n for n in names):
        problems.append("no LICENSE in the .dist-info")
    for name in names:
        top = name.split("/")[0]
        if top not in (PACKAGE,) and not top.endswith(".dist-info"):
            problems.append(f"outside the package: {name}")
        if "tests/" in name or "fixtures" in name or name.endswith((".pyc", ".pyo")):
            problems.append(f"should not be shipped: {name}")
    return problems


def sdist_problems(sdist: Path, unpack_to: Path) -> list[str]:
    """What the sdist lacks; unpacks it (its example DAGs are parsed later)."""
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(unpack_to, filter="data")
    (root,) = unpack_to.iterdir()
    problems = [f"missing {name}" for name in SDIST_MUST_HOLD if not (root / name).exists()]
    unwanted = ("/.venv", "/.release/", "/site-packages/", "/__pycache__/", "/bench/results/", "/site/")
    problems += [f"should not be shipped: {name}" for name in names if any(u in name for u in unwanted)]
    return problems


def fresh_venv(venv: Path, wheel: Path, constraints_from: Path) -> list[str]:
    """A new virtualenv, on the test environment's Python, with the wheel and its dependencies at the test
    environment's versions."""
    frozen = run([str(constraints_from), "-m", "pip", "freeze", "--exclude", DISTRIBUTION])
    constraints = venv.parent / "constraints.txt"
    constraints.write_text(frozen)
    run([str(constraints_from), "-m", "venv", "--clear", str(venv)])
    python = str(venv / "bin" / "python")
    # --no-compile: a check, not a deployment; the DAGs below are parsed once.
    run([python, "-m", "pip", "install", "--quiet", "--no-compile", "-c", str(constraints), str(wheel)])
    installed = run([python, "-m", "pip", "show", DISTRIBUTION])
    return [] if f"Name: {DISTRIBUTION}" in installed else [f"{DISTRIBUTION} is not installed:\n{installed}"]


def airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHONPATH"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    return env


def providers_problems(venv: Path, env: dict[str, str], cwd: Path, version: str) -> list[str]:
    airflow = str(venv / "bin" / "airflow")
    providers = json.loads(run([airflow, "providers", "list", "-o", "json"], env=env, cwd=cwd))
    hooks = json.loads(run([airflow, "providers", "hooks", "-o", "json"], env=env, cwd=cwd))
    ours = [p for p in providers if p.get("package_name") == DISTRIBUTION]
    problems = [] if ours else [f"{DISTRIBUTION} not in `airflow providers list`"]
    if ours and ours[0].get("version") != version:
        problems.append(
            f"`airflow providers list` shows version {ours[0].get('version')}, expected {version}"
        )
    attendee = [h for h in hooks if h.get("connection_type") == "attendee"]
    if not attendee:
        problems.append("no `attendee` connection type in `airflow providers hooks`")
    elif attendee[0].get("class") != f"{PACKAGE}.hooks.attendee.AttendeeHook":
        problems.append(f"the attendee connection type's hook is {attendee[0].get('class')}")
    return problems


def plugins_problems(venv: Path, env: dict[str, str], cwd: Path) -> list[str]:
    plugins = json.loads(run([str(venv / "bin" / "airflow"), "plugins", "-o", "json"], env=env, cwd=cwd))
    return (
        [] if any(p.get("name") == "attendee_webhooks" for p in plugins) else ["no attendee_webhooks plugin"]
    )


def dagbag_problems(venv: Path, env: dict[str, str], cwd: Path, dags: Path, version: str) -> list[str]:
    """Every example DAG of the sdist parses with the installed wheel (not the checkout's package)."""
    out = run([str(venv / "bin" / "python"), "-c", DAGBAG_PROBE, str(dags)], env=env, cwd=cwd)
    result = json.loads(out.strip().splitlines()[-1])
    problems = [f"import error in {path}: {error}" for path, error in result["errors"].items()]
    expected = sorted(p.stem for p in dags.glob("*.py"))
    if result["dags"] != expected:
        problems.append(f"DAGs {result['dags']}, expected {expected}")
    if not Path(result["package"]).is_relative_to(venv):
        problems.append(f"imported {result['package']}, not the installed wheel")
    if result["version"] != version:
        problems.append(f"installed version {result['version']}, expected {version}")
    print(f"     {len(result['dags'])} example DAGs: {', '.join(result['dags'])}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/check_release.py", description=__doc__.splitlines()[0])
    parser.add_argument("--constraints-from", type=Path, required=True, help="python of the test environment")
    parser.add_argument("--work", type=Path, default=ROOT / ".release", help="dist/ and the fresh virtualenv")
    args = parser.parse_args(argv)
    started = time.monotonic()
    checks = Checks()
    dist = args.work / "dist"
    for old in dist.glob("*") if dist.exists() else []:
        old.unlink()
    build = [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)]
    if not checks.run("python -m build (the sdist, then the wheel from it)", lambda: succeeds(build)):
        return summary(checks, started)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    for built in (wheel, sdist):
        print(f"     {built.name} ({built.stat().st_size // 1024} KiB)")
    twine = [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)]
    checks.run("twine check --strict", lambda: succeeds(twine))
    checks.run("wheel contents", lambda: wheel_problems(wheel))
    version = wheel.name.split("-")[1]
    with tempfile.TemporaryDirectory(prefix="attendee-release-") as tmp:
        unpacked = Path(tmp) / "sdist"
        checks.run("sdist contents", lambda: sdist_problems(sdist, unpacked))
        venv = args.work / "venv"
        installed = checks.run(
            "fresh virtualenv with the wheel and Airflow",
            lambda: fresh_venv(venv, wheel, args.constraints_from),
        )
        if installed:
            home, cwd = Path(tmp) / "airflow-home", Path(tmp)
            env = airflow_env(home)
            checks.run("airflow providers list / hooks", lambda: providers_problems(venv, env, cwd, version))
            checks.run("airflow plugins", lambda: plugins_problems(venv, env, cwd))
            dags = next(unpacked.iterdir()) / "example_dags"
            checks.run("DagBag of the example DAGs", lambda: dagbag_problems(venv, env, cwd, dags, version))
    return summary(checks, started)


def summary(checks: Checks, started: float) -> int:
    print(f"release check took {time.monotonic() - started:.0f} s")
    print(f"release-check: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
