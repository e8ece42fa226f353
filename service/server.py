"""zipcode-server: the gRPC service on the bundled (or a given) model.

Start-up: listen with health NOT_SERVING, load the model, warm it up, then SERVING. On SIGTERM or
SIGINT: NOT_SERVING, stop accepting calls, finish those in flight within the grace period, exit 0.
On SIGHUP: read the directory of valid codes (--valid-codes) again, keeping the old one if the file
cannot be used. A model that cannot be loaded stops the server at start with one line and exit code 2.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc  # noqa: E402
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402

from service.api import zipcode_pb2 as pb  # noqa: E402
from service.api import zipcode_pb2_grpc as pb_grpc  # noqa: E402
from service.config import ServerConfig, as_flags, parse_config  # noqa: E402
from service.gate import FairGate  # noqa: E402
from service.metrics import Metrics  # noqa: E402
from service.servicer import ZipCodeServicer  # noqa: E402

log = logging.getLogger("zipcode.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ZipCodeRecognizer"].full_name


@dataclass
class Engine:
    """What the RPCs need once the model is loaded."""

    recognizer: object
    classify: object  # uint8 [N, 28, 28] -> probabilities, through the batcher when batching is on
    version: str
    info: pb.ModelInfo
    batcher: object | None
    runtime: str  # what runs the model: tflite, tflite-int8 or tensorflow (--engine)
    gate: FairGate  # images worked on at once (--pipelines)
    metric_labels: dict  # of zipcode_model_info, kept to set it again when the directory is reloaded


def load_engine(config: ServerConfig, metrics: Metrics) -> Engine:
    import numpy as np
    import tensorflow as tf

    from service.batcher import DynamicBatcher
    from service.directory import load_directory
    from service.model import classifier, inference_device, load_model
    from service.recognizer import Recognizer

    directory = load_directory(config.valid_codes) if config.valid_codes else None  # before the slow part
    device = inference_device()
    model = load_model(config.model or None)
    predict = classifier(model, config.engine, device)
    engine = predict.engine  # what runs it: auto falls back to TensorFlow for a model Lite cannot convert
    # Warm up at the batch sizes the service will see, so the first real call is not the slow one.
    for size in (1, 8, 64, config.max_batch_size):
        predict(np.zeros((size, 28, 28), np.uint8))
    batcher = None
    classify = predict
    if config.max_batch_delay_ms > 0:
        batcher = DynamicBatcher(predict, config.max_batch_size, config.max_batch_delay_ms / 1000, metrics,
                                 calls_in_flight=lambda: metrics.active_calls).start()
        classify = batcher.classify
    card = model.card
    version = str(card.get("version", model.directory.name))
    info = pb.ModelInfo(
        model_version=version,
        architecture=card.get("architecture", ""),
        parameters=int(card.get("parameters", 0)),
        test_accuracy=float(card.get("test_accuracy", 0.0)),
        device=device,
        default_min_confidence=config.min_confidence,
        tensorflow_version=tf.__version__,
        directory_codes=len(directory) if directory else 0,
    )
    labels = {"version": version, "architecture": info.architecture, "device": device, "engine": engine,
              "path": str(model.directory), "directory_codes": str(info.directory_codes)}
    metrics.model.info(labels)
    recognizer = Recognizer(classify, min_confidence=config.min_confidence, max_pixels=config.max_pixels,
                            max_side=config.max_side, directory=directory)
    return Engine(recognizer, classify, version, info, batcher, engine, FairGate(config.pipelines), labels)


def server_credentials(config: ServerConfig):
    """TLS when a certificate is configured, mutual TLS when a client CA is too; otherwise None, and the
    log says the server is in plain text."""
    if not config.tls_cert:
        return None, "plaintext (no TLS): anyone on the network can read and send requests"
    with open(config.tls_key, "rb") as key, open(config.tls_cert, "rb") as chain:
        pair = (key.read(), chain.read())
    client_ca = open(config.tls_client_ca, "rb").read() if config.tls_client_ca else None
    credentials = grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=bool(client_ca))
    return credentials, "mutual TLS (client certificates required)" if client_ca else "TLS"


class RecognizerServer:
    def __init__(self, config: ServerConfig):
        self.config = config
        self.metrics = Metrics()
        self.health = health.HealthServicer()
        self.servicer = ZipCodeServicer(None, self.metrics)
        self.engine: Engine | None = None
        self.port = 0
        self.metrics_port = 0
        limit = config.max_message_bytes
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="rpc"),
            # A bounded queue: past this many calls (working or waiting for a thread) gRPC answers
            # RESOURCE_EXHAUSTED at once instead of queueing without end. Health checks count too.
            maximum_concurrent_rpcs=config.max_in_flight,
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
                     ("grpc.so_reuseport", 1)],  # --workers: several processes listen on one port
        )
        pb_grpc.add_ZipCodeRecognizerServicer_to_server(self.servicer, self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), self.grpc
        )

    def _set_health(self, status) -> None:
        for name in ("", SERVICE_NAME):
            self.health.set(name, status)

    def start(self) -> "RecognizerServer":
        """Listen (health NOT_SERVING) and serve metrics; the model is not loaded yet."""
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        address = f"{self.config.bind}:{self.config.port}"
        credentials, transport = server_credentials(self.config)
        self.port = self.grpc.add_secure_port(address, credentials) if credentials else self.grpc.add_insecure_port(address)
        if not self.port:
            raise OSError(f"cannot listen on {address}")
        self.grpc.start()
        self.metrics_port = self.metrics.serve(self.config.bind, self.config.metrics_port)
        log.info("listening", extra={"fields": {"grpc": f"{self.config.bind}:{self.port}",
                                                 "metrics": f"{self.config.bind}:{self.metrics_port}",
                                                 "transport": transport}})
        return self

    def load(self) -> "RecognizerServer":
        """Load and warm the model, then report SERVING."""
        self.engine = load_engine(self.config, self.metrics)
        self.servicer.attach(self.engine)
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"fields": {"model_version": self.engine.version, "device": self.engine.info.device,
                                               "engine": self.engine.runtime, "batching": self.engine.batcher is not None,
                                               "directory_codes": self.engine.info.directory_codes}})
        return self

    def reload_directory(self) -> bool:
        """Read the --valid-codes file again (SIGHUP): a monthly update of the directory without stopping
        the line. A file that cannot be used leaves the codes loaded before in force; calls in flight
        finish with whichever directory they started checking against."""
        from service.directory import DirectoryError, load_directory

        engine = self.engine
        if engine is None or not self.config.valid_codes:
            log.warning("nothing to reload: no directory of valid codes (--valid-codes) was given")
            return False
        try:
            directory = load_directory(self.config.valid_codes)
        except DirectoryError as error:
            log.error(f"directory of valid codes not reloaded, {engine.info.directory_codes} codes kept: {error}")
            return False
        info = pb.ModelInfo()
        info.CopyFrom(engine.info)  # a new message: GetModelInfo may be sending the old one right now
        info.directory_codes = len(directory)
        engine.recognizer.directory, engine.info = directory, info
        engine.metric_labels = {**engine.metric_labels, "directory_codes": str(len(directory))}
        self.metrics.model.info(engine.metric_labels)
        log.info("directory of valid codes reloaded", extra={"fields": {"directory_codes": len(directory)}})
        return True

    def begin_shutdown(self) -> None:
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

    def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, refuse new calls, let calls in flight finish within the grace period."""
        self.begin_shutdown()
        self.grpc.stop(self.config.grace_seconds if grace is None else grace).wait()
        if self.engine is not None and self.engine.batcher is not None:
            self.engine.batcher.stop()
        self.metrics.shutdown()
        log.info("stopped")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage(), **getattr(record, "fields", {})}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        return f"{self.formatTime(record)} {record.levelname} {record.getMessage()} {fields}".rstrip()


def configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if log_format == "json" else _TextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def supervise(config: ServerConfig) -> int:
    """--workers N: N server processes on the same port; the kernel spreads connections over them.
    Each has its own model and GIL, which is the point: the pipeline is partly Python."""
    import subprocess
    import time

    children = [
        subprocess.Popen([sys.executable, "-m", "service",
                          *as_flags(config, workers=1, metrics_port=config.metrics_port + index)])
        for index in range(config.workers)
    ]
    log.info("supervising", extra={"fields": {"workers": config.workers, "pids": [c.pid for c in children]}})
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def pass_reload_on(*_) -> None:  # each worker reads --valid-codes again
        for child in children:
            child.send_signal(signal.SIGHUP)

    signal.signal(signal.SIGHUP, pass_reload_on)
    while not stop.is_set():
        if any(child.poll() is not None for child in children):
            log.error("a worker exited; stopping the others")
            break
        stop.wait(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + config.grace_seconds + 10
    codes = []
    for child in children:
        try:
            codes.append(child.wait(max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            child.kill()
            codes.append(child.wait())
    return 0 if stop.is_set() and all(code == 0 for code in codes) else 2


def main(argv: list[str] | None = None) -> int:
    # First of all, so that a SIGHUP while the model loads is a reload to do, not the end of the process.
    reload = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    config = parse_config(argv)
    configure_logging(config.log_format)
    if config.workers > 1:
        return supervise(config)
    from service.directory import DirectoryError
    from training.errors import ModelDirError

    # Import TensorFlow before installing our handlers: its import sets absl's own SIGTERM handler, which
    # would kill the process without a graceful stop. Ours go in before the server reports SERVING, so
    # no signal can fall between the two.
    import tensorflow  # noqa: F401

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())  # again, after TensorFlow's import: read --valid-codes
    # A process inherits its parent's blocked signals: unblock them here, or a supervisor or test runner
    # that has SIGTERM blocked would leave the main thread deaf to it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    try:
        server = RecognizerServer(config).start()
    except (OSError, RuntimeError) as error:
        log.error(f"cannot start: {error}")
        return 2
    try:
        server.load()
    except (ModelDirError, DirectoryError) as error:
        what = "the model" if isinstance(error, ModelDirError) else "the directory of valid codes"
        log.error(f"cannot load {what}: {error}")
        server.stop(0)
        return 2
    # Python runs signal handlers only on the main thread, between bytecodes. A SIGTERM delivered to one
    # of TensorFlow's or gRPC's threads would never wake a main thread blocked in a bare wait(), so it
    # wakes twice a second to let the handler run.
    while not stop.wait(0.5):
        if reload.is_set():
            reload.clear()
            server.reload_directory()
    log.info("shutting down", extra={"fields": {"grace_seconds": config.grace_seconds}})
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
