"""Prometheus metrics of the service, in a registry of its own (so several servers can live in one
process, as they do in the tests). Every metric is described in the README."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
CONFIDENCE_BUCKETS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("zipcode_requests", "gRPC calls answered, by method and status code",
                                ["method", "code"], registry=r)
        self.latency = Histogram("zipcode_request_duration_seconds", "Time to answer a call, by method",
                                 ["method"], buckets=LATENCY_BUCKETS, registry=r)
        self.stage = Histogram("zipcode_stage_duration_seconds",
                               "Time per pipeline stage: decode, segment, queue_wait, inference",
                               ["stage"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("zipcode_batch_size_digits", "Digits per model call",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.digits = Counter("zipcode_digits_recognized", "Digits read from images", registry=r)
        self.rejections = Counter("zipcode_rejections", "Reads sent to manual sorting, by reason",
                                  ["reason"], registry=r)
        self.confidence = Histogram("zipcode_digit_confidence", "Classifier confidence of each digit read",
                                    buckets=CONFIDENCE_BUCKETS, registry=r)
        self.in_flight = Gauge("zipcode_requests_in_flight", "Calls being worked on now", registry=r)
        self.model = Info("zipcode_model", "The model being served, its device, and how many valid codes it checks",
                          registry=r)
        self.active_calls = 0  # the gauge's value as a plain int, read by the batcher on its hot path
        self._active_lock = threading.Lock()
        self._http = None

    def serve(self, address: str, port: int) -> int:
        """Start the /metrics HTTP endpoint; returns the bound port (useful when port is 0)."""
        self._http, _ = start_http_server(port, addr=address, registry=self.registry)
        return self._http.server_port

    def shutdown(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    @contextmanager
    def call(self, method: str):
        """Count and time one call; the body sets outcome["code"] when it fails."""
        outcome = {"code": "OK"}
        self.in_flight.inc()
        with self._active_lock:
            self.active_calls += 1
        started = time.perf_counter()
        try:
            yield outcome
        except Exception:
            if outcome["code"] == "OK":
                outcome["code"] = "INTERNAL"
            raise
        finally:
            self.in_flight.dec()
            with self._active_lock:
                self.active_calls -= 1
            self.latency.labels(method).observe(time.perf_counter() - started)
            self.requests.labels(method, outcome["code"]).inc()
