"""Soak: a server under moderate load for a long time (default 10 minutes), reporting errors, latency
drift and memory growth minute by minute. A benchmark, not a test.

    python bench/soak.py --data ../shared/data/mnist.npz --minutes 10 --concurrency 4

Starts its own server on 127.0.0.1 and talks to nothing else.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import load_corpus, make_corpus, run_load  # noqa: E402
from bench.throughput import ServerProcess  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4, help="moderate: below the server's saturation")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per reported window")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        corpus = load_corpus(make_corpus(args.data, 200, Path(scratch)))
    server = ServerProcess()
    windows = []
    try:
        asyncio.run(run_load(server.target, corpus, args.concurrency, 5.0))  # warm-up, not reported
        print("| minute | images/s | p50 ms | p99 ms | errors | correct | server RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        started = time.monotonic()
        while time.monotonic() - started < args.minutes * 60:
            result = asyncio.run(run_load(server.target, corpus, args.concurrency, args.window))
            row = {**result.summary(), "rss": rss_mb(server.process.pid)}
            windows.append(row)
            print(f"| {len(windows)} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | {row['errors']} | "
                  f"{row['correct']:.1%} | {row['rss']:.0f} |", flush=True)
    finally:
        server.stop()
    first, last = windows[0], windows[-1]
    print(f"\nerrors: {sum(w['errors'] for w in windows)}; "
          f"p50 drift: {first['p50_ms']} -> {last['p50_ms']} ms ({last['p50_ms'] / first['p50_ms'] - 1:+.1%}); "
          f"p99 drift: {first['p99_ms']} -> {last['p99_ms']} ms; "
          f"memory: {first['rss']:.0f} -> {last['rss']:.0f} MiB ({last['rss'] / first['rss'] - 1:+.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
