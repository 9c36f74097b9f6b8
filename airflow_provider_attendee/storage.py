"""Writing results to a destination (local path, ``file://``, ``s3://conn@bucket/key``...) safely.

Everything is written to a ``.partial`` sibling first and renamed into place, so a failure never leaves a
half-written file at the destination.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from airflow_provider_attendee.exceptions import AttendeeDestinationError


def default_destination(dag_id: str, run_id: str, bot_id: str) -> str:
    """A local folder for results when the user gives none: $AIRFLOW_HOME/attendee/<dag>/<run>/<bot>/."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    safe_run = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return str(Path(home) / "attendee" / dag_id / safe_run / bot_id)


def as_path(destination: Any) -> Any:
    """An ObjectStoragePath for a destination given as a path, a URL string or an ObjectStoragePath."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        return destination
    text = str(destination)
    if "://" not in text:
        text = "file://" + os.path.abspath(os.path.expanduser(text))
    try:
        return ObjectStoragePath(text)
    except Exception as err:
        raise AttendeeDestinationError(
            f"Destination {destination!r} cannot be opened ({type(err).__name__}: {err}). Use a local path, "
            "file://..., or an fsspec URL whose provider is installed (e.g. s3://conn_id@bucket/key with the "
            "Amazon provider)."
        ) from None


@contextmanager
def atomic_open(target: Any, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open ``target.partial`` for writing; on success rename it to ``target``, on failure remove it."""
    partial = target.parent / (target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = partial.open(mode)
    except Exception as err:
        raise AttendeeDestinationError(
            f"Cannot write to {target} ({type(err).__name__}: {err}). Check that the destination exists and "
            "is writable, or give another destination."
        ) from None
    try:
        with handle:
            yield handle
        partial.rename(target)
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the original error matters more
            partial.unlink()
        raise


def write_text(target: Any, text: str) -> Any:
    with atomic_open(target, "wb") as handle:
        handle.write(text.encode("utf-8"))
    return target


def write_with(target: Any, writer: Callable[[str], None], suffix: str) -> Any:
    """For libraries that write to a local file name (e.g. matplotlib): write locally, then copy."""
    with tempfile.TemporaryDirectory() as folder:
        local = os.path.join(folder, "out" + suffix)
        writer(local)
        with atomic_open(target, "wb") as handle, open(local, "rb") as source:
            while chunk := source.read(1 << 20):
                handle.write(chunk)
    return target
