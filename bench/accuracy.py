"""Accuracy of the recognition pipeline on generated zip-code images, per tier, against Tesseract.

    python bench/accuracy.py --data ../shared/data/mnist.npz --count 500 --curve docs/error_reject.png
    python bench/accuracy.py --tiers realistic --count 2000 --seeds 2026,11,15 --no-tesseract   # the spread

Per tier: exact-code accuracy with nothing rejected, per-digit accuracy, reject rate and error rate among
accepted reads at the default threshold, the reject rate needed for 1% and 0.5% error, the error at 5%
rejected; and the error-versus-reject curve drawn to a PNG. Tesseract 5 (digits whitelist, the best of
its page-segmentation modes on these images) reads the same images as the off-the-shelf baseline.

With several --seeds, each seed draws its own --count images per tier; the rows pool them all, and a
second table gives each draw's figures under the generator's seed (a tier's seeds are offset by its
place in --tiers, as with --seed): on 2,000 realistic fields the exact-code figure moves by up to
1.5 points from one draw to the next, and the reject figures by more (docs/benchmarks.md). --jobs reads
the seeds' draws in parallel processes.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.zipgen import (FIELD_OPTIONS, TIERS, Sample, add_field_options, directory_codes, field_options,  # noqa: E402
                          generate, load_test_digits)
from service.recognizer import threshold_decides  # noqa: E402

TESSERACT_MODES = (6, 7, 8, 13)


@dataclass
class Read:
    truth: str
    guess: str
    score: float  # confidence where the threshold decides the read (threshold_decides), else 0: rejected first
    accepted: bool
    suggested: str = ""  # with a directory, the known code suggested for an unknown one (Recognition)


def digits_of(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def digit_accuracy(reads: list[Read]) -> float:
    correct = sum(max(0, len(digits_of(r.truth)) - edit_distance(digits_of(r.guess), digits_of(r.truth))) for r in reads)
    return correct / sum(len(digits_of(r.truth)) for r in reads)


def error_at_reject(reads: list[Read], reject: float) -> float:
    ranked = sorted(reads, key=lambda r: -r.score)
    kept = ranked[: max(1, int(round(len(ranked) * (1 - reject))))]
    return sum(r.guess != r.truth for r in kept) / len(kept)


def reject_for_error(reads: list[Read], target: float) -> float:
    """Smallest share of reads to reject, lowest confidence first, so that the rest err at most target."""
    ranked = sorted(reads, key=lambda r: -r.score)
    wrong = np.cumsum([r.guess != r.truth for r in ranked])
    kept = np.arange(1, len(ranked) + 1)
    ok = np.flatnonzero(wrong / kept <= target)
    return 1.0 - (ok.max() + 1) / len(ranked) if ok.size else 1.0


def threshold_for_error(reads: list[Read], target: float) -> float:
    """The confidence that, used as the acceptance threshold, keeps the accepted reads' error at target."""
    ranked = sorted(reads, key=lambda r: -r.score)
    wrong = np.cumsum([r.guess != r.truth for r in ranked])
    ok = np.flatnonzero(wrong / np.arange(1, len(ranked) + 1) <= target)
    return float(ranked[ok.max()].score) if ok.size else 1.0


def curve(reads: list[Read]) -> tuple[np.ndarray, np.ndarray]:
    ranked = sorted(reads, key=lambda r: -r.score)
    wrong = np.cumsum([r.guess != r.truth for r in ranked])
    kept = np.arange(1, len(ranked) + 1)
    return 1.0 - kept / len(ranked), wrong / kept


def read_sample(sample: Sample, recognizer) -> Read:
    result = recognizer.recognize(sample.encoded)
    return Read(sample.code, result.zip_code, result.confidence if threshold_decides(result) else 0.0, result.accepted,
                result.suggested_zip_code)


@dataclass
class Draw:
    """What to generate and read in one process: `count` fields of a tier drawn from a seed."""
    data: str
    model: str | None
    tier: str
    seed: int
    count: int
    without: tuple[str, ...] = ()  # effects left out (bench/attribution.py)
    exposure: float = 1.0  # camera gain on every photo (zipgen.generate)
    pen: str | None = None  # a pen of zipgen.PENS instead of the drawn ink
    framing: str | None = None  # one of zipgen.FRAMINGS: upside down, or cut through the first or last digit
    codes: str | None = None  # a directory file (service/directory.py) whose codes the fields are addressed to
    check_codes: bool = False  # the recogniser rejects codes not in that directory
    motion: float = 0.0  # blur along the writing, as a share of the digit height (zipgen.generate)
    comb: float = 0.0  # boxes printed as a comb, ticks this share of the box height (zipgen.generate)
    dashed: bool = False  # underlines printed dashed (zipgen.generate)


def generated(pool: dict[int, np.ndarray], draw: Draw) -> Iterator[Sample]:
    """The draw's fields one at a time (a hard field's photo can be megabytes), the same every time: the
    generator draws only from the seed's random numbers."""
    rng = np.random.default_rng(draw.seed)
    codes = directory_codes(draw.codes) if draw.codes else None
    for _ in range(draw.count):
        yield generate(pool, draw.tier, rng, without=draw.without, codes=codes,
                       **{name: getattr(draw, name) for name in FIELD_OPTIONS})


@lru_cache(maxsize=1)
def process_reader(model: str | None, data: str, directory: str | None = None):
    """The recogniser and the test digits of this process, loaded once however many draws it reads (a
    process of the pool reads several, and so does one process without --jobs). directory: a file of
    valid codes for the recogniser to check its reads against."""
    from service.directory import load_directory
    from service.model import classifier, load_model
    from service.recognizer import Recognizer

    return (Recognizer(classifier(load_model(model)), directory=load_directory(directory) if directory else None),
            load_test_digits(data))


def read_draw(draw: Draw) -> tuple[list[Read], list[list[tuple[int, int]]], float]:
    """Generate the draw's fields and read them with the model: the reads, each field's source digits, and
    seconds per field. Loads the model in the process it runs in, so that a spawned process can run it."""
    recognizer, pool = process_reader(draw.model, draw.data, draw.codes if draw.check_codes else None)
    reads, sources, seconds = [], [], 0.0
    for sample in generated(pool, draw):
        started = time.perf_counter()  # the reading only, not the generator
        reads.append(read_sample(sample, recognizer))
        seconds += time.perf_counter() - started
        sources.append(sample.sources)
    return reads, sources, seconds / max(1, draw.count)


def read_draws(draws: list[Draw], jobs: int) -> list[tuple[list[Read], list[list[tuple[int, int]]], float]]:
    """read_draw for each draw, in up to `jobs` processes."""
    if jobs > 1 and len(draws) > 1:
        # spawn: a forked child of a process that has TensorFlow running can hang.
        with get_context("spawn").Pool(min(jobs, len(draws))) as workers:
            return workers.map(read_draw, draws)
    return [read_draw(draw) for draw in draws]


def tesseract_read(path: Path, mode: int) -> str:
    completed = subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", str(mode), "-c", "tessedit_char_whitelist=0123456789-"],
        capture_output=True, text=True, timeout=60,
    )
    found = digits_of(completed.stdout)
    return f"{found[:5]}-{found[5:]}" if len(found) == 9 else found


def read_with_tesseract(samples: Iterable[Sample], mode: int, folder: Path) -> tuple[list[Read], float]:
    reads, started = [], time.perf_counter()
    for index, sample in enumerate(samples):
        path = folder / f"{index}{sample.extension}"
        path.write_bytes(sample.encoded)
        guess = tesseract_read(path, mode)
        reads.append(Read(sample.code, guess, 0.0, False))
    return reads, (time.perf_counter() - started) / max(1, len(reads))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz", help="MNIST .npz; its test split is used")
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--count", type=int, default=500, help="images per tier")
    parser.add_argument("--tiers", default=",".join(TIERS))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--seeds", help="comma-separated seeds, each drawing --count images per tier (replaces --seed)")
    parser.add_argument("--curve", help="write the error-versus-reject curve to this PNG")
    parser.add_argument("--no-tesseract", action="store_true")
    add_field_options(parser)
    parser.add_argument("--check-codes", action="store_true",
                        help="the pipeline rejects reads whose code is not in --codes, as the server's --valid-codes does")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes reading the seeds' draws in parallel (time per image is then each process's)")
    args = parser.parse_args(argv)
    if args.check_codes and not args.codes:
        parser.error("--check-codes needs --codes FILE")

    from service.recognizer import DEFAULT_MIN_CONFIDENCE

    tesseract = None if args.no_tesseract else shutil.which("tesseract")
    pool = load_test_digits(args.data) if tesseract else None  # Tesseract reads the same fields, generated again
    seeds = [int(seed) for seed in args.seeds.split(",")] if args.seeds else [args.seed]
    rows, curves, mode, thresholds, per_seed, suggested = [], {}, None, {}, [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for offset, tier in enumerate(args.tiers.split(",")):
            draws = [Draw(args.data, args.model, tier, seed + offset, args.count, codes=args.codes,
                          check_codes=args.check_codes, **field_options(args))
                     for seed in seeds]
            reads, seconds = [], 0.0
            for draw, (seed_reads, _, seed_seconds) in zip(draws, read_draws(draws, args.jobs)):
                per_seed.append((tier, draw.seed, seed_reads))  # the generator's seed: --seed TIER_SEED reproduces it
                reads += seed_reads
                seconds += seed_seconds / len(seeds)
            curves[tier] = curve(reads)
            accepted = [r for r in reads if r.accepted]
            rows.append((
                f"zipnet pipeline | {tier}", np.mean([r.guess == r.truth for r in reads]), digit_accuracy(reads),
                1 - len(accepted) / len(reads), (sum(r.guess != r.truth for r in accepted) / len(accepted)) if accepted else float("nan"),
                reject_for_error(reads, 0.01), reject_for_error(reads, 0.005), error_at_reject(reads, 0.05), seconds,
            ))
            thresholds[tier] = (threshold_for_error(reads, 0.01), threshold_for_error(reads, 0.005))
            suggested[tier] = [r for r in reads if r.suggested]
            if tesseract:
                if mode is None:  # choose Tesseract's best page-segmentation mode once, on the first tier
                    trial = list(islice(generated(pool, draws[0]), 60))
                    scores = {m: float(np.mean([r.guess == r.truth for r in read_with_tesseract(trial, m, Path(scratch))[0]]))
                              for m in TESSERACT_MODES}
                    mode = max(scores, key=scores.get)
                    print(f"tesseract page-segmentation modes on {len(trial)} {tier} images: {scores}; using --psm {mode}")
                samples = (sample for draw in draws for sample in generated(pool, draw))  # the same fields again
                t_reads, t_seconds = read_with_tesseract(samples, mode, Path(scratch))
                rows.append((f"tesseract --psm {mode} | {tier}", np.mean([r.guess == r.truth for r in t_reads]),
                             digit_accuracy(t_reads), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), t_seconds))
    drawn = f"{args.count} images per tier" + (f" and seed ({len(seeds)} seeds)" if len(seeds) > 1 else "")
    print(f"\n{drawn}, default threshold {DEFAULT_MIN_CONFIDENCE}\n")
    print("| reader | tier | exact code | per digit | rejected at default | error among accepted | reject for 1% error | reject for 0.5% error | error at 5% rejected | time per image |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    pct = lambda v: "n/a" if np.isnan(v) else f"{v:.1%}"
    for name, exact, digit, rejected, wrong, r1, r05, e5, seconds in rows:
        print(f"| {name} | {pct(exact)} | {pct(digit)} | {pct(rejected)} | {pct(wrong)} | {pct(r1)} | {pct(r05)} | {pct(e5)} | {seconds * 1000:.0f} ms |")
    print("\n| tier | threshold for 1% error | threshold for 0.5% error |\n|---|---:|---:|")
    for tier, (t1, t05) in thresholds.items():
        print(f"| {tier} | {t1:.3f} | {t05:.3f} |")
    if args.check_codes:
        print("\n| tier | codes not in the directory, with a suggestion | the suggestion the written code |\n|---|---:|---:|")
        for tier, reads in suggested.items():
            print(f"| {tier} | {len(reads)} | {sum(r.suggested == r.truth for r in reads)} |")
    if len(seeds) > 1:
        print("\n| tier | seed | exact code | rejected at default | reject for 1% error | reject for 0.5% error | error at 5% rejected |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for tier, seed, reads in per_seed:
            rejected = np.mean([not r.accepted for r in reads])
            print(f"| {tier} | {seed} | {pct(np.mean([r.guess == r.truth for r in reads]))} | {pct(rejected)} | "
                  f"{pct(reject_for_error(reads, 0.01))} | {pct(reject_for_error(reads, 0.005))} | {pct(error_at_reject(reads, 0.05))} |")
    if args.curve:
        draw_curves(curves, Path(args.curve))
        print(f"\nwrote {args.curve}")
    return 0


def draw_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    for tier, (reject, error) in curves.items():
        axis.plot(reject * 100, error * 100, label=tier)
    axis.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    axis.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
    axis.set_xlabel("reads rejected to manual sorting (%), lowest confidence first")
    axis.set_ylabel("wrong codes among accepted (%)")
    axis.set_title("zipcode-recognizer: error versus reject")
    axis.set_xlim(0, 60)
    axis.set_ylim(0, None)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
