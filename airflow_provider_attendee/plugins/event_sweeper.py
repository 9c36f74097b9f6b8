"""The API server's background work for ``attendee://`` assets, in one daemon thread per API-server
process: every second, get asset events that Airflow left behind consumed (``_asset_events.reconcile``);
every ``catch_up_interval``, catch up meetings that webhooks missed (``catch_up``: every connection set up
for push, from the start, and every connection deliveries named); every hour, prune
deliveries past the retention. While no unpaused DAG is scheduled on an ``attendee://`` asset it only
checks that, every 10 s (or at once when a delivery creates an asset event: ``wake``). Switched off with
``[attendee] event_sweeper = False``."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from datetime import timedelta

from airflow_provider_attendee.plugins.event_settings import EventSettings, read_settings

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
IDLE_CHECK_SECONDS = 10.0
PRUNE_SECONDS = 3600.0
#: The line logged for each repair (``bench/surge.py`` counts the events it names).
REPAIRED_LINE = (
    "Attendee events %s of DAG %s were left unconsumed by Airflow's scheduler: %s%s "
    "(repairs by this API server so far: %s)"
)


def _incr(metric: str, count: int = 1) -> None:
    """Airflow's metrics (StatsD/OpenTelemetry when configured), best effort."""
    try:
        from airflow_provider_attendee._compat import Stats

        Stats.incr(metric, count)
    except Exception:  # metrics never break the work
        log.debug("Could not send metric %s", metric, exc_info=True)


class EventSweeper:
    """The loop's state: when each kind of work is next due (monotonic clock), and this process's id."""

    def __init__(self, settings: EventSettings) -> None:
        self.settings = settings
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.next_catch_up = 0.0
        self.next_prune = 0.0
        self.idle_until = 0.0
        self.passes = 0  # passes that did the work (not idle checks): for tests
        #: reconcile's repairs by action (requeued, run_created) since this process started, as logged
        self.repairs: dict[str, int] = {}

    def run_once(self) -> None:
        """One pass: idle check, reconcile, and the catch-up and pruning when due."""
        from airflow_provider_attendee.plugins import _asset_events
        from airflow_provider_attendee.plugins.catch_up import catch_up, conn_ids, wanted_states

        now = time.monotonic()
        if now < self.idle_until:
            return
        uris = _asset_events.scheduled_attendee_uris()
        if not uris:
            self.idle_until = now + IDLE_CHECK_SECONDS
            return
        self.passes += 1
        for repair in _asset_events.reconcile():
            _incr(f"attendee.events.{repair.action}")
            self.repairs[repair.action] = self.repairs.get(repair.action, 0) + 1
            # Queuing the DAG again is the routine correction of a race in Airflow's scheduler (INFO); a run
            # of their own for events stranded before the last run is rarer, worth a warning.
            log.log(
                logging.INFO if repair.action == "requeued" else logging.WARNING,
                REPAIRED_LINE,
                repair.event_ids,
                repair.dag_id,
                "queued the DAG again" if repair.action == "requeued" else "created run ",
                repair.run_id or "",
                ", ".join(f"{count} {action}" for action, count in sorted(self.repairs.items())),
            )
        states = wanted_states(uris)
        if self.settings.catch_up_interval and states and now >= self.next_catch_up:
            self.next_catch_up = now + self.settings.catch_up_interval
            lease = timedelta(seconds=3 * self.settings.catch_up_interval)
            for conn_id in conn_ids(self.settings.catch_up_conn_ids):
                try:
                    result = catch_up(
                        conn_id,
                        states,
                        self.owner,
                        lease,
                        lookback=self.settings.catch_up_lookback,
                        max_age=self.settings.retention,
                    )
                except Exception as err:  # the next pass tries again; nothing was marked as seen
                    log.warning("Attendee catch-up for connection %r failed, will retry: %s", conn_id, err)
                    continue
                if result.emitted:
                    _incr("attendee.catch_up.emitted", len(result.emitted))
        if now >= self.next_prune:
            self.next_prune = now + PRUNE_SECONDS
            pruned = _asset_events.prune(self.settings.retention)
            if pruned:
                log.info("Pruned %d Attendee webhook rows older than %s", pruned, self.settings.retention)


_thread: threading.Thread | None = None
_sweeper: EventSweeper | None = None
_started = threading.Lock()
# The running thread's stop signal, waited on between passes: set at exit and by ``stop``. Each thread has
# its own, so that a thread ``stop`` gave up waiting for cannot be revived by the next ``start``.
_stop = threading.Event()


def _loop(sweeper: EventSweeper, stop_event: threading.Event) -> None:
    while not stop_event.wait(SWEEP_SECONDS):
        try:
            sweeper.run_once()
        except Exception:  # the next pass tries again; deliveries are safe in the DB
            log.exception("Attendee event sweeper pass failed")


def start() -> bool:
    """Start this process's sweeper once (unless switched off); whether it runs."""
    global _thread, _sweeper
    settings = read_settings()
    if not settings.event_sweeper:
        return False
    with _started:
        if _thread is None:
            _sweeper = EventSweeper(settings)
            _thread = threading.Thread(
                target=_loop, args=(_sweeper, _stop), name="attendee-event-sweeper", daemon=True
            )
            _thread.start()
            atexit.register(_release_leases, _sweeper, _stop)
    return True


def _release_leases(sweeper: EventSweeper, stop_event: threading.Event) -> None:
    """At a clean exit (an upgrade, a deploy): hand this process's catch-up leases back, so that the
    process that replaces it catches up within one interval rather than after the lease (3 intervals)."""
    from airflow_provider_attendee.plugins import _asset_events

    stop_event.set()  # no further pass (which would claim the leases again) while the process exits
    try:
        released = _asset_events.release_catch_up(sweeper.owner)
    except Exception:  # exiting anyway: the lease then lapses as after a crash
        log.debug("Could not release the Attendee catch-up leases", exc_info=True)
        return
    if released:
        log.info("Released the Attendee catch-up lease of %d connection(s)", released)


def stop(timeout: float = 30.0) -> None:
    """Stop this process's sweeper, hand its catch-up leases back, and forget it, so that the next
    ``start`` begins afresh. For tests: in one pytest process, a sweeper an earlier test started would
    otherwise prune and catch up beside a later test's own passes."""
    global _thread, _sweeper, _stop
    with _started:
        thread, sweeper, stop_event = _thread, _sweeper, _stop
        if thread is None or sweeper is None:
            return
        stop_event.set()
        thread.join(timeout)  # a pass in progress ends first; a thread still busy stops after it
        _thread, _sweeper, _stop = None, None, threading.Event()
        atexit.unregister(_release_leases)
    _release_leases(sweeper, stop_event)


def wake() -> None:
    """A delivery created an asset event: a DAG is listening, so end an idle wait now (a DAG deployed a
    moment ago must not wait for the next idle check to be reconciled and caught up)."""
    if _sweeper is not None:
        _sweeper.idle_until = 0.0
