"""Load generator for zipcode-server: requests per second, latency percentiles, errors and the share of
correct codes, for unary Recognize or RecognizeStream, at a given concurrency for a given time.

    python bench/load.py --target 127.0.0.1:50051 --images /tmp/corpus --concurrency 32 --duration 10

--images is a folder of images with labels.jsonl as bench/zipgen.py writes it (without it, a corpus of
realistic-tier images is generated from --data first). It talks only to --target and stops by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MAX_DURATION_S = 600  # a run can never go on longer than this, whatever it is asked
DEFAULT_CONNECTIONS = 16  # sorting machines, each with its own connection (at most one per caller)


@dataclass
class LoadResult:
    mode: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    correct: int = 0
    labelled: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    def summary(self) -> dict:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([np.nan])
        return {
            "mode": self.mode, "concurrency": self.concurrency,
            "rps": round(len(self.latencies) / self.seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2), "errors": self.errors,
            "correct": round(self.correct / self.labelled, 4) if self.labelled else None,
        }


def load_corpus(folder: Path) -> list[tuple[bytes, str | None]]:
    labels = {}
    if (folder / "labels.jsonl").is_file():
        for line in (folder / "labels.jsonl").read_text().splitlines():
            record = json.loads(line)
            labels[record["file"]] = record["code"]
    suffixes = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
    if not files:
        raise SystemExit(f"{folder}: no images")
    return [(p.read_bytes(), labels.get(p.name)) for p in files]


async def _unary_worker(stub, pb, corpus, start_index, stop_at, result, timeout):
    index = start_index
    while time.perf_counter() < stop_at:
        image, code = corpus[index % len(corpus)]
        index += 1
        began = time.perf_counter()
        try:
            answer = await stub.Recognize(pb.RecognizeRequest(image=image), timeout=timeout)
        except Exception:
            result.errors += 1
            continue
        result.latencies.append(time.perf_counter() - began)
        if code is not None:
            result.labelled += 1
            result.correct += answer.zip_code == code


async def _stream_worker(stub, pb, corpus, start_index, stop_at, result, timeout):
    """One open stream per worker, one item in flight on it: a sorting line's connection."""
    call = stub.RecognizeStream(timeout=timeout + MAX_DURATION_S)
    index = start_index
    try:
        while time.perf_counter() < stop_at:
            image, code = corpus[index % len(corpus)]
            index += 1
            began = time.perf_counter()
            await call.write(pb.RecognizeRequest(image=image, request_id=str(index)))
            answer = await asyncio.wait_for(call.read(), timeout)
            result.latencies.append(time.perf_counter() - began)
            if answer.HasField("error"):
                result.errors += 1
            elif code is not None:
                result.labelled += 1
                result.correct += answer.zip_code == code
        await call.done_writing()
    except Exception:
        result.errors += 1
        call.cancel()


async def run_load(target: str, corpus, concurrency: int, duration: float, mode: str = "unary",
                   timeout: float = 10.0, connections: int = DEFAULT_CONNECTIONS) -> LoadResult:
    """connections: TCP connections the callers are spread over, as several sorting machines would
    open. One connection always lands on one server process: with --workers, SO_REUSEPORT shares out
    connections, not calls."""
    import grpc

    from service.api import zipcode_pb2 as pb
    from service.api import zipcode_pb2_grpc as pb_grpc

    duration = min(duration, MAX_DURATION_S)
    result = LoadResult(mode, concurrency, duration)
    # A local subchannel pool per channel: otherwise channels to one target share one connection.
    options = [("grpc.max_send_message_length", 16 * 1024 * 1024), ("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(max(1, min(connections, concurrency)))]
    try:
        stubs = [pb_grpc.ZipCodeRecognizerStub(channel) for channel in channels]
        worker = _stream_worker if mode == "stream" else _unary_worker
        started = time.perf_counter()
        stop_at = started + duration
        await asyncio.gather(*(worker(stubs[i % len(stubs)], pb, corpus, i * 7, stop_at, result, timeout)
                               for i in range(concurrency)))
        result.seconds = time.perf_counter() - started
    finally:
        for channel in channels:
            await channel.close()
    return result


def make_corpus(data: str, count: int, out: Path) -> Path:
    from bench.zipgen import load_test_digits, write_corpus

    write_corpus(load_test_digits(data), "realistic", count, out, seed=2027)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--images", help="folder of images (+ labels.jsonl); default: generate one")
    parser.add_argument("--data", default="../shared/data/mnist.npz", help="MNIST .npz for the generated corpus")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help=f"seconds (at most {MAX_DURATION_S})")
    parser.add_argument("--mode", choices=("unary", "stream"), default="unary")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS,
                        help="TCP connections the callers share (sorting machines); at most --concurrency")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.images) if args.images else make_corpus(args.data, 200, Path(scratch))
        corpus = load_corpus(folder)
        result = asyncio.run(run_load(args.target, corpus, args.concurrency, args.duration, args.mode,
                                      connections=args.connections))
    print(json.dumps(result.summary()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
