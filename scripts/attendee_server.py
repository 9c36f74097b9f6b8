"""The real Attendee server, run locally from its source, for the system tests (tests/system).

    python scripts/attendee_server.py up     # bring it up (idempotent: reuses a running, healthy server)
    python scripts/attendee_server.py down   # stop its processes (keeps the virtualenv and the database)
    python scripts/attendee_server.py env    # its URL, key and server environment, as shell assignments

Standard library only; any Python 3.10+ runs it. What ``up`` does (as ../shared/attendee-api/REAL_SERVER.md
describes, on a Debian machine):

1. The source: ``ATTENDEE_SERVER_SOURCE`` (a .tar.gz or an unpacked source tree), else
   ``../shared/attendee-server/attendee-77e990ed.tar.gz`` beside the repository. None: exit 3 with the reason
   (the system tests skip with it). The server is Elastic License 2.0: it is run and tested against, never
   copied into this repository.
2. Debian packages it needs, installed with apt-get when missing and running as root (else exit 4, saying
   which are missing).
3. Its own virtualenv (``requirements.txt`` plus ``PyGObject<3.51``), kept between runs and rebuilt only when
   requirements.txt (or the Python) changes.
4. Its own PostgreSQL cluster (initdb into the work dir, run as the ``postgres`` user when root). It listens on
   a Unix socket only, in the work dir: the development settings hard-code port 5432 (only POSTGRES_HOST is
   read), and a socket directory of its own keeps it apart from any other PostgreSQL on the machine. Its own
   redis-server on a free port of 127.0.0.1.
5. ``migrate``; a project with an API key and a webhook secret (made by tests/system/driver/attendee_driver.py);
   ``runserver 127.0.0.1:<free port> --noreload`` and a Celery worker (webhook deliveries), detached, logs in
   the work dir; then a health check (GET /api/v1/bots with the key answers 200).

The work dir is ``.attendee-server/`` in the repository, or ``ATTENDEE_SERVER_HOME``. ``state.json`` there
holds the URL, the API key, the webhook secret (base64, as the dashboard shows it), the project id, the pids
and the server's environment (what the driver needs). Several ``up`` at once (two pytest suites) wait for each
other on a lock and share one server.

Exit codes: 0 up; 3 no server source; 4 missing system packages that cannot be installed here; 1 anything else.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "attendee-server" / "attendee-77e990ed.tar.gz"
DRIVER = ROOT / "tests" / "system" / "driver" / "attendee_driver.py"
# Not in requirements.txt; `migrate` fails without it (No module named 'gi').
EXTRA_REQUIREMENTS = ["PyGObject<3.51"]
DEBIAN_PACKAGES = [
    "postgresql",
    "redis-server",
    "libcairo2-dev",
    "libgirepository1.0-dev",
    "gir1.2-gstreamer-1.0",
    "gir1.2-gst-plugins-base-1.0",
    "pkg-config",
    "build-essential",
    "python3-dev",
    "libpq-dev",
]
# The development settings' database (name, user and password are hard-coded there).
DB_NAME = "attendee_development"
DB_USER = "attendee_development_user"
PG_PORT = 5432  # hard-coded by attendee.settings.development; the socket directory is ours alone

EXIT_NO_SOURCE = 3
EXIT_PREREQUISITES = 4
HEALTH_TIMEOUT_S = 180.0


class Unavailable(Exception):
    """The server cannot be had here, for a reason that is not a bug (the tests skip with it)."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.code = code


def home() -> Path:
    return Path(os.environ.get("ATTENDEE_SERVER_HOME") or ROOT / ".attendee-server").resolve()


def log(message: str) -> None:
    print(f"[attendee-server] {message}", flush=True)


class Step:
    """Times one step of the bring-up and prints it."""

    timings: list[tuple[str, float]] = []

    def __init__(self, name: str) -> None:
        self.name = name
        self.note = ""

    def __enter__(self) -> Step:
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        elapsed = time.monotonic() - self.start
        Step.timings.append((self.name, elapsed))
        status = "FAILED" if exc_type else "done"
        log(f"{self.name}: {status} in {elapsed:.1f} s{f' ({self.note})' if self.note else ''}")


# ------------------------------------------------------------------------------------------ helpers
def run(cmd: list[str], *, log_file: Path | None = None, **kwargs: Any) -> None:
    """Run a command; on failure raise with the end of its output."""
    if log_file is not None:
        with log_file.open("ab") as out:
            out.write(f"\n$ {shlex.join(cmd)}\n".encode())
            out.flush()
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs
            )
        if proc.returncode:
            tail = log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(
                f"{shlex.join(cmd)} failed (exit {proc.returncode}); end of {log_file}:\n{tail}"
            )
        return
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if proc.returncode:
        raise RuntimeError(f"{shlex.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")


def free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            # As the servers bind (SO_REUSEADDR): a port left in TIME_WAIT by our last run is free again.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child) counts as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


def http_status(url: str, api_key: str, timeout: float = 5.0) -> int | None:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None


def healthy(state: dict[str, Any]) -> bool:
    """The recorded server answers GET /api/v1/bots with its key, and its worker, Redis and PostgreSQL run."""
    if not state.get("url") or not state.get("api_key"):
        return False
    pids = state.get("pids", {})
    if not all(pid_alive(pids.get(name)) for name in ("runserver", "celery", "redis", "postgres")):
        return False
    return http_status(state["url"] + "/api/v1/bots", state["api_key"]) == 200


@contextlib.contextmanager
def locked(path: Path):
    """One ``up``/``down`` at a time (two pytest suites bring up one server)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another bring-up to finish (lock {path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------- the steps
def find_source() -> Path:
    given = os.environ.get("ATTENDEE_SERVER_SOURCE")
    if given:
        source = Path(given).expanduser().resolve()
        if not source.exists():
            raise Unavailable(f"ATTENDEE_SERVER_SOURCE={given} does not exist", EXIT_NO_SOURCE)
        return source
    if DEFAULT_SOURCE.exists():
        return DEFAULT_SOURCE.resolve()
    raise Unavailable(
        f"no Attendee server source: set ATTENDEE_SERVER_SOURCE to its .tar.gz or source tree (looked for "
        f"{DEFAULT_SOURCE}), or point ATTENDEE_SYSTEM_URL and ATTENDEE_SYSTEM_API_KEY at a running server",
        EXIT_NO_SOURCE,
    )


def missing_packages() -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for package in DEBIAN_PACKAGES:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package], capture_output=True, text=True
        )
        if not proc.stdout.startswith("ii"):
            missing.append(package)
    return missing


def install_packages(logs: Path, step: Step) -> None:
    missing = missing_packages()
    if not missing:
        step.note = "all present"
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(
            "Debian packages missing for the Attendee server: "
            f"{' '.join(missing)} (sudo apt-get install {' '.join(missing)})",
            EXIT_PREREQUISITES,
        )
    step.note = "installed " + " ".join(missing)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    run(["apt-get", *lock, "update", "-qq"], log_file=logs / "apt.log", env=env)
    run(
        ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", *missing],
        log_file=logs / "apt.log",
        env=env,
    )
    # The packages may start Debian's own servers: ours run on their own socket and port.
    for service in ("postgresql", "redis-server"):
        if service in missing:
            subprocess.run(["service", service, "stop"], capture_output=True)


def unpack(source: Path, work: Path, step: Step) -> Path:
    """The server's source tree: a directory as given, or the tarball unpacked once into the work dir."""
    if source.is_dir():
        step.note = f"source tree {source}"
        tree = source / "attendee" if (source / "attendee" / "manage.py").exists() else source
        if not (tree / "manage.py").exists():
            raise RuntimeError(f"{source} is not an Attendee source tree (no manage.py)")
        return tree
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    target = work / "src"
    marker = target / ".source-sha256"
    if marker.exists() and marker.read_text().strip() == digest:
        step.note = "already unpacked"
    else:
        shutil.rmtree(target, ignore_errors=True)
        partial = work / "src.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(source) as archive:
            try:
                archive.extractall(partial, filter="data")
            except TypeError:  # Python without extraction filters
                archive.extractall(partial)
        (partial / ".source-sha256").write_text(digest + "\n")
        partial.rename(target)
        step.note = f"unpacked {source.name}"
    trees = [p.parent for p in target.glob("*/manage.py")] + (
        [target] if (target / "manage.py").exists() else []
    )
    if not trees:
        raise RuntimeError(f"{source} holds no Attendee source tree (no manage.py)")
    return trees[0]


def base_python() -> str:
    given = os.environ.get("ATTENDEE_SERVER_PYTHON")
    if given:
        return given
    return getattr(sys, "_base_executable", None) or sys.executable


def build_venv(tree: Path, work: Path, logs: Path, step: Step) -> Path:
    """The server's virtualenv, reused while requirements.txt and the Python are unchanged."""
    python = base_python()
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    digest = hashlib.sha256(
        (tree / "requirements.txt").read_bytes() + "\n".join([*EXTRA_REQUIREMENTS, version]).encode()
    ).hexdigest()
    venv = work / "venv"
    marker = venv / ".requirements-sha256"
    if marker.exists() and marker.read_text().strip() == digest and (venv / "bin" / "python").exists():
        step.note = "reused"
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    run([python, "-m", "venv", str(venv)], log_file=logs / "pip.log")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run(
        # --no-compile: the server's processes compile the little they import (all of it: ~30 s of CPU)
        [
            *pip,
            "install",
            "--no-input",
            "--no-compile",
            "-r",
            str(tree / "requirements.txt"),
            *EXTRA_REQUIREMENTS,
        ],
        log_file=logs / "pip.log",
    )
    marker.write_text(digest + "\n")
    step.note = f"built with {python} ({version.split()[0]})"
    return venv


def postgres_bin() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise Unavailable(
        "PostgreSQL is not installed (initdb not found): apt-get install postgresql", EXIT_PREREQUISITES
    )


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its commands as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def pg_dirs(work: Path) -> tuple[Path, Path]:
    """The cluster's data directory and its socket directory (short enough for a Unix socket path).

    In the work dir, unless the postgres user cannot reach it (a clone under /root): then in /var/tmp."""
    digest = hashlib.sha256(str(work).encode()).hexdigest()[:12]
    base = work / "pg"
    if os.geteuid() == 0 and subprocess.run(as_postgres(["test", "-x", str(work)])).returncode != 0:
        base = Path("/var/tmp") / f"attendee-server-pg-{digest}"
    socket_dir = base / "run"
    if len(str(socket_dir / f".s.PGSQL.{PG_PORT}")) > 100:
        socket_dir = Path("/tmp") / f"attendee-pg-{digest}"
    return base / "data", socket_dir


def start_postgres(work: Path, logs: Path, step: Step) -> tuple[int, str, Path]:
    """Our own cluster, on its own Unix socket; returns (pid, socket dir, data dir)."""
    binaries = postgres_bin()
    data, socket_dir = pg_dirs(work)
    for directory in (data.parent, socket_dir):
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
    pg_log = data.parent / "postgres.log"  # written by the postgres user
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        run(
            as_postgres(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            log_file=logs / "initdb.log",
        )
        step.note = "new cluster"
    status = subprocess.run(
        as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "status"]), capture_output=True
    )
    if status.returncode != 0:
        options = (
            f"-c listen_addresses='' -k {socket_dir} -p {PG_PORT} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        run(
            as_postgres(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(pg_log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            log_file=logs / "pg_ctl.log",
        )
    else:
        step.note = (step.note + "; " if step.note else "") + "already running"
    pid = int((data / "postmaster.pid").read_text().split()[0])
    psql = [
        str(binaries / "psql"),
        "-h",
        str(socket_dir),
        "-p",
        str(PG_PORT),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-tAc",
    ]
    role = subprocess.run(
        [*psql, f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'"], capture_output=True, text=True
    )
    if role.stdout.strip() != "1":
        run([*psql, f"CREATE ROLE {DB_USER} LOGIN SUPERUSER PASSWORD '{DB_USER}'"])
    db = subprocess.run(
        [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"], capture_output=True, text=True
    )
    if db.stdout.strip() != "1":
        run([*psql, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}"])
    return pid, str(socket_dir), data


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(work: Path, config: dict[str, Any], step: Step) -> tuple[int, int]:
    """Our own redis-server on a free port of 127.0.0.1 (no persistence); returns (pid, port)."""
    directory = work / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    pidfile = directory / "redis.pid"
    port = config.get("redis_port")
    if port and redis_ping(port) and pidfile.exists() and pid_alive(int(pidfile.read_text().split()[0])):
        step.note = "already running"
        return int(pidfile.read_text().split()[0]), port
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(server).exists():
        raise Unavailable("redis-server is not installed: apt-get install redis-server", EXIT_PREREQUISITES)
    port = free_port(port)
    pidfile.unlink(missing_ok=True)
    run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(work / "logs" / "redis.log"),
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
    )
    deadline = time.monotonic() + 30
    while not (redis_ping(port) and pidfile.exists()):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"redis-server did not answer on port {port}; see {work / 'logs' / 'redis.log'}"
            )
        time.sleep(0.1)
    config["redis_port"] = port
    return int(pidfile.read_text().split()[0]), port


def server_env(venv: Path, socket_dir: str, redis_port: int, config: dict[str, Any]) -> dict[str, str]:
    """The environment of the server's processes (REAL_SERVER.md step 5) and of the driver."""
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": str(venv),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "attendee.settings.development",
        "POSTGRES_HOST": socket_dir,  # a socket directory: the development settings hard-code the port
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/5",
        "DJANGO_SECRET_KEY": config["django_secret_key"],
        "CREDENTIALS_ENCRYPTION_KEY": config["credentials_encryption_key"],
        "ALLOWED_HOSTS": "*",
        # The launch task is queued for a bot-launcher VM that never comes: a created bot waits in joining.
        "LAUNCH_BOT_METHOD": "docker-compose-multi-host",
        "REQUIRE_HTTPS_WEBHOOKS": "false",
        "DELIVER_WEBHOOK_VERIFY_SSL": "false",
        "C_FORCE_ROOT": "1",  # Celery as root (CI runs as root)
    }
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def manage(venv: Path, tree: Path, env: dict[str, str], args: list[str], log_file: Path) -> None:
    run([str(venv / "bin" / "python"), "manage.py", *args], log_file=log_file, cwd=tree, env=env)


def driver_call(venv: Path, tree: Path, env: dict[str, str], cmd: str, **args: Any) -> Any:
    """One command of the driver (tests/system/driver/attendee_driver.py), in a process of its own."""
    request = json.dumps({"cmd": cmd, "args": args}) + "\n"
    proc = subprocess.run(
        [str(venv / "bin" / "python"), str(DRIVER)],
        input=request,
        capture_output=True,
        text=True,
        cwd=tree,
        env=env,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode or not lines:
        raise RuntimeError(
            f"driver {cmd} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
        )
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        raise RuntimeError(f"driver {cmd} failed: {answer.get('error')}\n{answer.get('traceback', '')}")
    return answer["result"]


def spawn(cmd: list[str], tree: Path, env: dict[str, str], log_file: Path) -> int:
    """A detached server process (its own session, so `down` stops it and its children as a group)."""
    with log_file.open("ab") as out:
        out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {shlex.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=tree,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


def stop_group(pid: int | None, name: str, timeout: float = 15.0) -> None:
    if not pid or not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        log(f"{name} (pid {pid}) did not stop on SIGTERM: SIGKILL")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


# --------------------------------------------------------------------------------------- commands
def up() -> dict[str, Any]:
    work = home()
    state_path = work / "state.json"
    with locked(work / "up.lock"):
        source = find_source()
        state = read_json(state_path)
        if healthy(state) and state.get("source") == str(source):
            log(f"reusing the running server at {state['url']} (project {state['project_id']})")
            return state
        if state:
            log("the recorded server is not healthy or from another source: restarting it")
            stop_processes(state)
        started = time.monotonic()
        Step.timings = []
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        config_path = work / "config.json"
        config = read_json(config_path)
        config.setdefault("django_secret_key", base64.urlsafe_b64encode(os.urandom(48)).decode())
        # A Fernet key; kept, since the database holds secrets encrypted with it.
        config.setdefault("credentials_encryption_key", base64.urlsafe_b64encode(os.urandom(32)).decode())
        write_json(config_path, config)

        with Step("source") as step:
            tree = unpack(source, work, step)
        with Step("Debian packages") as step:
            install_packages(logs, step)
        with Step("virtualenv") as step:
            venv = build_venv(tree, work, logs, step)
        with Step("PostgreSQL") as step:
            pg_pid, socket_dir, pg_data = start_postgres(work, logs, step)
        with Step("Redis") as step:
            redis_pid, redis_port = start_redis(work, config, step)
        write_json(config_path, config)
        env = server_env(venv, socket_dir, redis_port, config)
        with Step("migrate"):
            manage(venv, tree, env, ["migrate", "--noinput"], logs / "migrate.log")
        with Step("runserver and Celery worker"):
            port = free_port(config.get("http_port"))
            config["http_port"] = port
            write_json(config_path, config)
            python = str(venv / "bin" / "python")
            runserver = spawn(
                [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                tree,
                env,
                logs / "runserver.log",
            )
            celery = spawn(
                [
                    str(venv / "bin" / "celery"),
                    "-A",
                    "attendee",
                    "worker",
                    "-l",
                    "INFO",
                    "--concurrency=2",
                    "-Q",
                    "celery",
                ],
                tree,
                env,
                logs / "celery.log",
            )
        # While they start: the project whose key the health check uses.
        with Step("project and API key") as step:
            project = config.get("project")
            if project and driver_call(venv, tree, env, "check_api_key", api_key=project["api_key"]):
                step.note = f"reused {project['project_id']}"
            else:
                project = driver_call(venv, tree, env, "create_project", name="system-tests")
                config["project"] = project
                write_json(config_path, config)
                step.note = f"created {project['project_id']}"
        state = {
            "url": f"http://127.0.0.1:{port}",
            "api_key": project["api_key"],
            "webhook_secret": project["webhook_secret"],
            "project_id": project["project_id"],
            "pids": {"runserver": runserver, "celery": celery, "redis": redis_pid, "postgres": pg_pid},
            "source": str(source),
            "source_dir": str(tree),
            "python": python,
            "driver": str(DRIVER),
            "env": env,
            "logs": str(logs),
            "pg_data": str(pg_data),
        }
        write_json(state_path, state)
        with Step("health check"):
            deadline = time.monotonic() + HEALTH_TIMEOUT_S
            while True:
                status = http_status(state["url"] + "/api/v1/bots", state["api_key"])
                if status == 200 and pid_alive(celery):
                    break
                for name, pid in (("runserver", runserver), ("celery", celery)):
                    if not pid_alive(pid):
                        tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"{name} exited during start-up; end of its log:\n{tail}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"GET /api/v1/bots answered {status} after {HEALTH_TIMEOUT_S:.0f} s")
                time.sleep(0.5)
        total = time.monotonic() - started
        log(
            f"up in {total:.0f} s at {state['url']} (project {state['project_id']}): "
            + ", ".join(f"{name} {secs:.0f} s" for name, secs in Step.timings)
        )
        return state


def stop_processes(state: dict[str, Any]) -> None:
    pids = state.get("pids", {})
    stop_group(pids.get("runserver"), "runserver")
    stop_group(pids.get("celery"), "celery", timeout=20)
    redis = pids.get("redis")
    if redis and pid_alive(redis):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(redis, signal.SIGTERM)
    data = state.get("pg_data")
    if data and Path(data, "PG_VERSION").exists():
        with contextlib.suppress(Unavailable):
            pg_ctl = postgres_bin() / "pg_ctl"
            subprocess.run(
                as_postgres([str(pg_ctl), "-D", data, "-m", "fast", "-w", "stop"]), capture_output=True
            )


def down() -> None:
    work = home()
    with locked(work / "up.lock"):
        state = read_json(work / "state.json")
        if not state:
            log("not running")
            return
        stop_processes(state)
        (work / "state.json").unlink(missing_ok=True)
        log("stopped (the virtualenv and the database are kept in " + str(work) + ")")


def env_command() -> None:
    state = read_json(home() / "state.json")
    if not healthy(state):
        print("# the Attendee server is not running: python scripts/attendee_server.py up", file=sys.stderr)
        raise SystemExit(1)
    lines = {
        "ATTENDEE_SERVER_URL": state["url"],
        "ATTENDEE_SERVER_API_KEY": state["api_key"],
        "ATTENDEE_SERVER_WEBHOOK_SECRET": state["webhook_secret"],
        "ATTENDEE_SERVER_PROJECT_ID": state["project_id"],
    }
    print("# the server's own environment (manage.py shell: cd " + shlex.quote(state["source_dir"]) + ")")
    for key, value in {**state["env"], **lines}.items():
        print(f"export {key}={shlex.quote(value)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "env"])
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            state = up()
            # The key stays out of logs (CI keeps them): `env` prints it for a shell that asks.
            log(
                f"URL {state['url']}  API key and secret in {home() / 'state.json'} (`scripts/attendee_server.py env` prints them as exports)"
            )
        elif args.command == "down":
            down()
        else:
            env_command()
    except Unavailable as reason:
        log(f"unavailable: {reason}")
        return reason.code
    except Exception as err:  # a bring-up that should have worked: say why, exit 1
        log(f"failed: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
