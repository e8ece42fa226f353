"""`make bench`: the service's throughput and latency with dynamic batching on and off, next to the
per-image cost of Tesseract and the model alone, in one Markdown table.

    python bench/throughput.py --data ../shared/data/mnist.npz --duration 10

Starts its own servers on 127.0.0.1 (ephemeral ports), talks to nothing else, stops them at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.accuracy import tesseract_read  # noqa: E402
from bench.load import load_corpus, make_corpus, run_load  # noqa: E402

CONCURRENCIES = (1, 8, 32, 128)
TESSERACT_MODE = 7  # single text line: its per-image cost, which is what this table compares


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) used so far by a process and every process under it (the server and its
    --workers), from /proc; None where there is no /proc. A process that exits between the reads is
    left out, so measure around a steady run."""
    proc = Path("/proc")
    if not (proc / str(pid) / "stat").exists():
        return None
    parents, usage, tick = {}, {}, os.sysconf("SC_CLK_TCK")
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone since the listing
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        usage[child] = (int(fields[11]) + int(fields[12])) / tick
    family, added = {pid}, True
    while added:
        grown = family | {child for child, parent in parents.items() if parent in family}
        added, family = grown != family, grown
    return sum(usage.get(member, 0.0) for member in family)


class ServerProcess:
    """zipcode-server in a child process on localhost; with several workers, on a fixed free port."""

    def __init__(self, *flags: str, workers: int = 1):
        port, metrics = (free_port(), free_port()) if workers > 1 else (0, 0)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "--bind", "127.0.0.1", "--port", str(port),
             "--metrics-port", str(metrics), "--workers", str(workers), *flags],
            cwd=REPO, stderr=subprocess.PIPE, text=True,
        )
        self.target, serving = None, 0
        deadline = time.monotonic() + 180
        for line in self.process.stderr:
            found = re.search(r"grpc=(127\.0\.0\.1:\d+)", line)
            if found:
                self.target = found.group(1)
            serving += "INFO serving" in line
            if serving == workers or time.monotonic() > deadline:
                break
        if self.target is None or serving < workers:
            self.stop()
            raise RuntimeError("server did not start")
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # keep its pipe drained

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


SETUPS = (
    # label, server flags, workers, mode, concurrencies
    ("batching on", (), 1, "unary", CONCURRENCIES),
    ("batching off", ("--max-batch-delay-ms", "0"), 1, "unary", CONCURRENCIES),
    ("batching on", (), 1, "stream", (32,)),
    # Opt-in: the model's weights in 8 bits, answers a little off the SavedModel's (docs/benchmarks.md).
    ("batching on, --engine tflite-int8", ("--engine", "tflite-int8"), 1, "unary", (1, 32)),
    ("batching on, 2 workers", (), 2, "unary", (8, 32, 128)),
)


def service_rows(corpus, duration: float, model: str | None = None) -> list[dict]:
    rows = []
    model_flags = ("--model", model) if model else ()
    for label, flags, workers, mode, concurrencies in SETUPS:
        server = ServerProcess(*flags, *model_flags, workers=workers)
        try:
            asyncio.run(run_load(server.target, corpus, 4, 2.0, mode))  # warm the server up
            for concurrency in concurrencies:
                rows.append({"what": f"service, {label}", **measured(server, corpus, concurrency, duration, mode)})
                print(rows[-1], file=sys.stderr, flush=True)
            if (flags, workers, mode) == ((), 1, "unary"):
                # The latency target is for a typical 5-digit image; the corpus is 30% ZIP+4.
                five = [item for item in corpus if item[1] and len(item[1]) == 5]
                rows.append({"what": f"service, {label}, 5-digit codes only",
                             **measured(server, five, 1, duration, mode)})
                print(rows[-1], file=sys.stderr, flush=True)
        finally:
            server.stop()
    return rows


def measured(server: ServerProcess, corpus, concurrency: int, duration: float, mode: str) -> dict:
    """One load step's summary, with the server's CPU: milliseconds per answered image, and how many
    cores it kept busy. Wall time alone hid that a request costs more CPU than its latency (the model
    runs on two threads) and that one worker cannot fill two cores (the interpreter lock)."""
    before = cpu_seconds(server.process.pid)
    result = asyncio.run(run_load(server.target, corpus, concurrency, duration, mode))
    after = cpu_seconds(server.process.pid)
    summary = result.summary()
    used = None if before is None or after is None else after - before
    summary["cpu_ms"] = round(1000 * used / len(result.latencies), 2) if used is not None and result.latencies else None
    summary["cores"] = round(used / result.seconds, 2) if used is not None else None
    return summary


def tesseract_row(folder: Path, seconds: float) -> dict | None:
    if not shutil.which("tesseract"):
        return None
    files = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    cores = os.cpu_count() or 1
    done, latencies = 0, []
    started = time.perf_counter()

    def one(path: Path) -> float:
        began = time.perf_counter()
        tesseract_read(path, TESSERACT_MODE)
        return time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=cores) as pool:  # one tesseract process per core
        while time.perf_counter() - started < seconds:
            batch = [files[(done + i) % len(files)] for i in range(cores * 4)]
            latencies.extend(pool.map(one, batch))
            done += len(batch)
    elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000
    return {"what": f"tesseract --psm {TESSERACT_MODE}, {cores} processes", "mode": "cli", "concurrency": cores,
            "rps": round(len(latencies) / elapsed, 1), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "errors": 0, "correct": None, "cpu_ms": None, "cores": None}


# What the model alone is timed on: the service's engine on a CPU (the SavedModel converted to LiteRT),
# its 8-bit variant, and the SavedModel itself.
TIMED_ENGINES = ("tflite", "tflite-int8", "tensorflow")


def engines(model) -> dict:
    """model: the ExportedModel the servers ran (service.model.load_model). Its classifier on each of
    TIMED_ENGINES, each converted once for the whole benchmark."""
    from service.model import classifier

    return {engine: classifier(model, engine) for engine in TIMED_ENGINES}


def classified_fields(corpus: list[tuple[bytes, str | None]], predict) -> np.ndarray:
    """The 28x28 fields the recogniser hands the model (`predict`, a classifier) while reading the corpus:
    digits, cuttings and joins. What the model alone is timed on, because an ensemble's cost on LiteRT
    depends on how sure its first member is (service.model.SECOND_OPINION_BELOW): of random pixels,
    nearly always."""
    from service.recognizer import Recognizer

    fields = []

    def recording(batch: np.ndarray) -> np.ndarray:
        fields.append(np.array(batch))
        return predict(batch)

    recognizer = Recognizer(recording)
    for data, _ in corpus:
        recognizer.recognize(data)
    return np.concatenate(fields)


def model_rows(predictors: dict, fields: np.ndarray, seconds_each: float = 3.0) -> list[dict]:
    """predictors: engine -> classifier (engines()); fields: what each is fed, in batches taken in turn."""
    rows = []
    for engine, predict in predictors.items():
        for batch in (1, 32, 256):
            batches = [fields[start: start + batch] for start in range(0, len(fields) - batch + 1, batch)]
            predict(batches[0])
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds_each:
                predict(batches[calls % len(batches)])
                calls += 1
            elapsed = time.perf_counter() - started
            rows.append({"what": f"model alone ({engine}), batch {batch}", "digits_per_s": round(calls * batch / elapsed),
                         "ms_per_call": round(elapsed / calls * 1000, 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--images", help="corpus folder (default: 200 generated realistic-tier images)")
    parser.add_argument("--model", metavar="DIR", help="model root or version folder (default: the bundled model)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load step")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.images) if args.images else make_corpus(args.data, 200, Path(scratch))
        corpus = load_corpus(folder)
        rows = service_rows(corpus, args.duration, args.model)
        tesseract = tesseract_row(folder, args.duration)
    from service.model import load_model

    model = load_model(args.model)
    predictors = engines(model)
    fields = classified_fields(corpus, predictors["tflite"])
    models = model_rows(predictors, fields)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}), load generator on the same machine, "
          f"{len(corpus)} realistic-tier images, {args.duration:.0f} s per row, model {model.directory}\n")
    print("| what | mode | concurrency | images/s | p50 ms | p95 ms | p99 ms | errors | correct codes "
          "| server CPU ms per image | server cores busy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows + ([tesseract] if tesseract else []):
        correct = "" if row["correct"] is None else f"{row['correct']:.1%}"
        cpu_ms, cores = ("" if row[key] is None else row[key] for key in ("cpu_ms", "cores"))
        print(f"| {row['what']} | {row['mode']} | {row['concurrency']} | {row['rps']} | {row['p50_ms']} | "
              f"{row['p95_ms']} | {row['p99_ms']} | {row['errors']} | {correct} | {cpu_ms} | {cores} |")
    print(f"\nThe model alone on the {len(fields)} fields the recogniser classified in reading the corpus:")
    print("\n| model alone | digits/s | ms per call |\n|---|---:|---:|")
    for row in models:
        print(f"| {row['what']} | {row['digits_per_s']} | {row['ms_per_call']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
