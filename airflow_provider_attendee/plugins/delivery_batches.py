"""Group commit for webhook deliveries: those that arrive while a transaction is being written are recorded
together in the next one, by one writer thread per API-server process.

Why: every delivery that creates an ``attendee://`` asset event is written under one lock (see
``_asset_events``). Recorded one by one, 50 meetings ending at once queue for that lock, each holding a
thread of the API server's pool while it waits, and Attendee's 10 s timeout passes for the last ones. Here
the first delivery is written at once, alone; those arriving meanwhile wait without a thread (an asyncio
future) and are written in one transaction after it: one lock acquisition and one commit per batch.
The receiver still answers 200 only after its delivery's batch committed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

from airflow_provider_attendee.plugins._asset_events import Delivery, Recorded, record_deliveries

log = logging.getLogger(__name__)

#: The most deliveries one transaction records (a bound on how long the write lock is held at once).
MAX_BATCH = 100

Recorder = Callable[[list[Delivery]], list[Recorded | Exception]]


class DeliveryBatcher:
    """Deliveries submitted from any thread or event loop, recorded in batches by one daemon thread."""

    def __init__(self, record: Recorder = record_deliveries, max_batch: int = MAX_BATCH) -> None:
        self.recorder = record
        self.max_batch = max_batch
        self._pending: list[tuple[Delivery, Future[Recorded], float]] = []
        self._wakeup = threading.Condition()
        self._writer: threading.Thread | None = None
        #: Batches and deliveries written since the process started, and the latest batches' sizes.
        self.batches = 0
        self.deliveries = 0
        self.batch_sizes: deque[int] = deque(maxlen=1000)

    def submit(self, delivery: Delivery) -> Future[Recorded]:
        """Queue a delivery; the future gets its ``Recorded`` once its batch committed, or its exception."""
        future: Future[Recorded] = Future()
        with self._wakeup:
            self._pending.append((delivery, future, time.monotonic()))
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_forever, name="attendee-deliveries", daemon=True
                )
                self._writer.start()
            self._wakeup.notify()
        return future

    async def record(self, delivery: Delivery) -> Recorded:
        """Record ``delivery`` with the next batch, waiting without holding a thread."""
        return await asyncio.wrap_future(self.submit(delivery))

    def _next_batch(self) -> list[tuple[Delivery, Future[Recorded], float]]:
        with self._wakeup:
            while not self._pending:
                self._wakeup.wait()
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            return batch

    def _write_forever(self) -> None:
        while True:
            self.write(self._next_batch())

    def write(self, batch: list[tuple[Delivery, Future[Recorded], float]]) -> None:
        """Record one batch and settle its futures (a failure of the whole batch fails each of them)."""
        self.batches += 1
        self.deliveries += len(batch)
        self.batch_sizes.append(len(batch))
        started = time.monotonic()
        try:
            results: list[Recorded | Exception] = self.recorder([delivery for delivery, _, _ in batch])
        except Exception as err:  # the transaction failed (after its retries): no delivery was recorded
            log.error("Recording a batch of %d Attendee webhooks failed: %r", len(batch), err)
            results = [err] * len(batch)
        for (_, future, submitted), result in zip(batch, results, strict=True):
            if future.cancelled():  # its request went away (it is recorded all the same)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                result.queued_seconds = started - submitted
                future.set_result(result)


_batcher: DeliveryBatcher | None = None
_batcher_lock = threading.Lock()


def batcher() -> DeliveryBatcher:
    """This process's batcher (one writer thread per API-server process)."""
    global _batcher
    with _batcher_lock:
        if _batcher is None:
            _batcher = DeliveryBatcher()
        return _batcher
