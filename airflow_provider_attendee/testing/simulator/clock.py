"""The simulator's clock: real time scaled by a factor, plus manual steps and an optional step per API
request, so demos run fast and tests step deterministically (also on a machine too busy to keep pace)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class SimClock:
    """Simulated now = origin + (real seconds since start) x ``time_scale`` + manual offset.

    ``time_scale=0`` freezes time: it then moves only with :meth:`advance` (deterministic tests), and by
    ``seconds_per_request`` on each API request (:meth:`tick`): meetings then progress with the polls that
    watch them, however slow the machine, instead of ending before a busy test got to look.
    """

    def __init__(self, time_scale: float = 1.0, origin: datetime | None = None) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._lock = threading.Lock()
        self._origin = (origin or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self._started = time.monotonic()
        self._scale = float(time_scale)
        self._offset = 0.0
        self._per_request = 0.0

    @property
    def time_scale(self) -> float:
        return self._scale

    @property
    def seconds_per_request(self) -> float:
        return self._per_request

    @property
    def origin(self) -> datetime:
        return self._origin

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._started) * self._scale + self._offset
        return self._origin + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        """Move simulated time forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def set_time_scale(self, time_scale: float) -> None:
        """Change the speed from now on, keeping the current simulated time."""
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        with self._lock:
            real = time.monotonic()
            self._offset += (real - self._started) * self._scale
            self._started = real
            self._scale = float(time_scale)

    def set_seconds_per_request(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` on each API request from now on (0: off)."""
        if seconds < 0:
            raise ValueError("seconds_per_request must be >= 0")
        with self._lock:
            self._per_request = float(seconds)

    def tick(self) -> None:
        """One API request: the per-request step, if any."""
        with self._lock:
            self._offset += self._per_request
