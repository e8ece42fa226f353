"""Server settings: each a command-line flag with a matching ZIPCODE_* environment variable (the flag
wins), so the same image runs under Docker, compose or a plain shell."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from service.recognizer import DEFAULT_MIN_CONFIDENCE

ENGINES = ("auto", "tflite", "tflite-int8", "tensorflow")  # what runs the model: service/model.py

# (flag, environment variable, type, default, help). The README's configuration table lists the same.
OPTIONS = (
    ("--model", "ZIPCODE_MODEL", str, "", "model root or version folder (default: the bundled model)"),
    ("--bind", "ZIPCODE_BIND", str, "0.0.0.0", "address to listen on"),
    ("--port", "ZIPCODE_PORT", int, 50051, "gRPC port (0: any free port)"),
    ("--metrics-port", "ZIPCODE_METRICS_PORT", int, 9100, "Prometheus /metrics port (0: any free port)"),
    ("--workers", "ZIPCODE_WORKERS", int, 1,
     "server processes sharing the port (SO_REUSEPORT), each with its own model; metrics on port + index"),
    ("--threads", "ZIPCODE_THREADS", int, 32,
     "gRPC worker threads per process (calls taken in at once; an open stream holds one)"),
    ("--pipelines", "ZIPCODE_PIPELINES", int, 4,
     "images decoded and segmented at once; the other calls wait their turn (on two cores, more threads "
     "in the Python pipeline only fight over the interpreter lock)"),
    ("--engine", "ZIPCODE_ENGINE", str, "auto",
     "auto, tflite, tflite-int8 or tensorflow: what runs the model (auto: TensorFlow Lite on a CPU, "
     "TensorFlow on a GPU; tflite-int8: 8-bit weights, faster, probabilities a few hundredths off)"),
    ("--max-batch-size", "ZIPCODE_MAX_BATCH_SIZE", int, 256, "most digits in one model call"),
    ("--max-batch-delay-ms", "ZIPCODE_MAX_BATCH_DELAY_MS", float, 2.0,
     "longest wait for more digits before a model call; 0 turns batching off"),
    ("--min-confidence", "ZIPCODE_MIN_CONFIDENCE", float, DEFAULT_MIN_CONFIDENCE,
     "default confidence of a whole code needed to accept a read"),
    ("--valid-codes", "ZIPCODE_VALID_CODES", str, "",
     "directory of the zip codes that exist, one 5-digit code per line: a read of another code is rejected "
     "as unknown_code (default: no check)"),
    ("--max-message-bytes", "ZIPCODE_MAX_MESSAGE_BYTES", int, 10 * 1024 * 1024, "largest request accepted"),
    ("--max-pixels", "ZIPCODE_MAX_PIXELS", int, 25_000_000, "largest image accepted, in pixels (checked from the header)"),
    ("--max-side", "ZIPCODE_MAX_SIDE", int, 20_000, "largest width or height accepted, in pixels"),
    ("--max-in-flight", "ZIPCODE_MAX_IN_FLIGHT", int, 256,
     "calls accepted at once (working or queued); more get RESOURCE_EXHAUSTED at once"),
    ("--grace-seconds", "ZIPCODE_GRACE_SECONDS", float, 10.0, "time to finish calls in flight on SIGTERM"),
    ("--log-format", "ZIPCODE_LOG_FORMAT", str, "text", "text or json"),
    ("--tls-cert", "ZIPCODE_TLS_CERT", str, "", "PEM certificate chain: serve gRPC over TLS (with --tls-key)"),
    ("--tls-key", "ZIPCODE_TLS_KEY", str, "", "PEM private key of --tls-cert"),
    ("--tls-client-ca", "ZIPCODE_TLS_CLIENT_CA", str, "",
     "PEM CA bundle: require client certificates signed by it (mutual TLS)"),
)


@dataclass
class ServerConfig:
    model: str = ""
    bind: str = "0.0.0.0"
    port: int = 50051
    metrics_port: int = 9100
    workers: int = 1
    threads: int = 32
    pipelines: int = 4
    engine: str = "auto"
    max_batch_size: int = 256
    max_batch_delay_ms: float = 2.0
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    valid_codes: str = ""
    max_message_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 25_000_000
    max_side: int = 20_000
    max_in_flight: int = 256
    grace_seconds: float = 10.0
    log_format: str = "text"
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""


def parse_config(argv: list[str] | None = None, environ: dict | None = None) -> ServerConfig:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="zipcode-server", description="zipcode-recognizer gRPC server")
    for flag, variable, kind, default, text in OPTIONS:
        raw = environ.get(variable)
        try:
            value = kind(raw) if raw not in (None, "") else default
        except ValueError:
            parser.error(f"{variable}={raw!r} is not a valid {kind.__name__}")
        parser.add_argument(flag, type=kind, default=value, help=f"{text} [{variable}, default {default!r}]")
    args = parser.parse_args(argv)
    if args.log_format not in ("text", "json"):
        parser.error("--log-format must be text or json")
    if args.engine not in ENGINES:
        parser.error(f"--engine must be one of {', '.join(ENGINES)}")
    if not 0 < args.min_confidence <= 1:
        parser.error("--min-confidence must be in (0, 1]")
    if args.max_batch_size < 1 or args.threads < 1 or args.workers < 1 or args.pipelines < 1:
        parser.error("--max-batch-size, --threads, --workers and --pipelines must be at least 1")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key), ("--tls-client-ca", args.tls_client_ca),
                       ("--valid-codes", args.valid_codes)):
        if path and not os.path.isfile(path):
            parser.error(f"{flag} {path}: no such file")
    if args.workers > 1 and (args.port == 0 or args.metrics_port == 0):
        parser.error("--workers above 1 needs fixed --port and --metrics-port (the workers share the port)")
    return ServerConfig(**vars(args))


def as_flags(config: ServerConfig, **changes) -> list[str]:
    """The command-line flags that reproduce `config` (with changes): how a supervisor starts workers."""
    values = {**vars(config), **changes}
    return [f"{flag}={values[flag[2:].replace('-', '_')]}" for flag, *_ in OPTIONS]
