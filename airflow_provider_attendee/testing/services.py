"""Throwaway PostgreSQL, Redis and S3 (moto) servers on 127.0.0.1, for tests of multi-machine deployments.

Each runs in the foreground of its own process group on a free port, with its data in a temporary folder,
and is stopped (group and all) when its ``with`` block ends, also on failure. PostgreSQL and Redis come
from Debian's packages (``apt-get install postgresql redis-server``); ``missing_services()`` says what is
not installed. As root, PostgreSQL runs as the ``postgres`` user (it refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_provider_attendee.testing.real_airflow import free_port

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``postgres`` (Debian's layout, else the PATH)."""
    for folder in sorted(glob.glob(POSTGRES_BIN_GLOB), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_services() -> list[str]:
    """The Debian packages this module needs that are not installed."""
    missing = []
    if postgres_bin() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return missing


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not listen on {port} within {timeout} s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes], stop_signal: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, stop_signal)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def _server(
    command: list[str], port: int, name: str, log: Path, stop_signal: int = signal.SIGTERM
) -> Iterator[None]:
    with open(log, "ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_port(port, process, f"{name} (log: {log})")
        yield
    finally:
        _stop(process, stop_signal)


def _connect_when_ready(port: int, timeout: float = 60) -> Any:
    """A connection to the new server: it listens a moment before it accepts ("the database system is
    starting up")."""
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        except psycopg2.OperationalError as err:
            if "starting up" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def postgres(database: str = "airflow") -> Iterator[str]:
    """A PostgreSQL server with an empty ``database``; yields its SQLAlchemy URL (psycopg2, trust auth)."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    with tempfile.TemporaryDirectory(prefix="attendee-pg-", ignore_cleanup_errors=True) as folder:
        root = Path(folder)
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(root, "postgres", "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        data, port = root / "data", free_port()
        subprocess.run(
            [
                *as_user,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        command = [
            *as_user,
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=300",
        ]
        # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to disconnect).
        with _server(command, port, "postgres", root / "postgres.log", signal.SIGINT):
            connection = _connect_when_ready(port)
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
            connection.close()
            yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{database}"


@contextlib.contextmanager
def redis() -> Iterator[str]:
    """A Redis server with no persistence; yields its URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="attendee-redis-", ignore_cleanup_errors=True) as folder:
        command = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ]
        with _server(command, port, "redis-server", Path(folder) / "redis.log"):
            yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """An S3-compatible server (moto's server mode, from PyPI); yields its endpoint URL."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with (
        tempfile.TemporaryDirectory(prefix="attendee-s3-", ignore_cleanup_errors=True) as folder,
        _server(command, port, "moto.server", Path(folder) / "moto.log"),
    ):
        yield f"http://127.0.0.1:{port}"
