"""Dynamic batching: digits from concurrent requests are gathered into one model call, up to a maximum
batch or a maximum delay after the first arrives, and each request gets its own rows back. One model
call of 64 digits costs little more than one of 8, so under load this multiplies throughput."""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)
_STOP = object()


def _never() -> bool:
    return False


@dataclass
class _Pending:
    fields: np.ndarray
    cancelled: Callable[[], bool] = _never  # true once the caller has gone (deadline passed, cancelled)
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.perf_counter)


class DynamicBatcher:
    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], max_batch: int, max_delay_s: float, metrics=None,
                 calls_in_flight: Callable[[], int] | None = None):
        """calls_in_flight: how many calls the server is working on. The batcher waits for more digits
        only while some of them have not handed theirs in yet; a lone request goes straight to the
        model. Without it, it always waits up to max_delay_s."""
        self._calls_in_flight = calls_in_flight
        self._predict = predict
        self._max_batch = max_batch
        self._max_delay = max_delay_s
        self._metrics = metrics
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)

    def start(self) -> "DynamicBatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def classify(self, fields: np.ndarray, cancelled: Callable[[], bool] = _never) -> np.ndarray:
        """Blocks until the batch holding these digits has run; returns their probabilities. Digits of a
        caller that is `cancelled` by the time its batch is gathered are dropped (CancelledError)."""
        if len(fields) == 0:
            return np.zeros((0, 10), np.float32)
        pending = _Pending(fields, cancelled)
        self._queue.put(pending)
        return pending.future.result()

    def _gather(self, first: _Pending) -> tuple[list[_Pending], _Pending | object | None]:
        batch, size = [first], len(first.fields)
        deadline = first.enqueued + self._max_delay
        while size < self._max_batch:
            if self._calls_in_flight is not None and self._queue.empty() and len(batch) >= self._calls_in_flight():
                break  # everyone who could join is in this batch already
            remaining = deadline - time.perf_counter()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP or size + len(item.fields) > self._max_batch:
                return batch, item  # run this batch; the item starts the next one
            if self._dropped(item):
                continue
            batch.append(item)
            size += len(item.fields)
        return batch, None

    @staticmethod
    def _dropped(item: _Pending) -> bool:
        """A caller that has gone frees its place: its digits are not run."""
        if item.cancelled():
            item.future.set_exception(CancelledError("the call was cancelled or its deadline passed"))
            return True
        return False

    def _run(self) -> None:
        carried = None
        while True:
            item = carried if carried is not None else self._queue.get()
            carried = None
            if item is _STOP:
                return
            if self._dropped(item):
                continue
            batch, carried = self._gather(item)
            batch = [pending for pending in batch if not self._dropped(pending)]
            if not batch:
                continue
            started = time.perf_counter()
            try:
                probabilities = np.asarray(self._predict(np.concatenate([p.fields for p in batch])))
            except Exception as error:  # every caller in the batch hears of it; the batcher lives on
                log.exception("model call failed")
                for pending in batch:
                    pending.future.set_exception(error)
                continue
            if self._metrics is not None:
                self._metrics.batch_size.observe(len(probabilities))
                self._metrics.stage.labels("inference").observe(time.perf_counter() - started)
                for pending in batch:
                    self._metrics.stage.labels("queue_wait").observe(started - pending.enqueued)
            offset = 0
            for pending in batch:
                pending.future.set_result(probabilities[offset: offset + len(pending.fields)])
                offset += len(pending.fields)
