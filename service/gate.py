"""A first-come-first-served limit on the images the server works on at once (--pipelines).

On two cores the Python parts of the pipeline (decode, ink map, segmentation) of 32 calls at once only
fight over the interpreter lock: a few at a time finish sooner. threading.Semaphore lets a newly
arrived call take a freed place ahead of one that has waited, which tripled the slowest latencies;
here a freed place goes to the call that has waited longest."""
from __future__ import annotations

import threading
from collections import deque


class FairGate:
    def __init__(self, places: int):
        self._lock = threading.Lock()
        self._free = places
        self._waiting: deque[threading.Event] = deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # release() handed this call its place

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1
