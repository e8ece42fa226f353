"""Where a tier's wrong codes come from: the classifier's own misreads, and each effect of the generator.

    python bench/attribution.py --data ../shared/data/mnist.npz --tier realistic --count 2000

Two measurements on the same generated fields:
- Fields holding an MNIST digit that the model misreads on its own, as the 28x28 MNIST image itself:
  no pipeline can read those fields right except by luck, so they bound the exact-code accuracy this
  model can reach. The rest of the fields measure the pipeline; among them, those holding a digit the
  model reads right on its own but unsure (below --unsure), which the field's rendering tips over far
  more often than the others (docs/benchmarks.md, fourteenth round).
- Each effect of the tier (broken strokes, guides, slant, light, noise, blur, rotation, dark paper, JPEG)
  left out of every field while every other random draw stays the same (bench/zipgen.py, `without`):
  the codes read right only without the effect are what it costs, those read right only with it are
  the noise of the comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.accuracy import Draw, Read, process_reader, read_draws, reject_for_error  # noqa: E402
from bench.zipgen import EFFECTS, TIERS  # noqa: E402

BASELINE = "nothing"


def misread_alone(classify, pool: dict[int, np.ndarray]) -> set[tuple[int, int]]:
    """(digit, index in the pool) of every pool digit the model reads as another digit on its own."""
    return _alone(classify, pool, lambda probabilities, digit: probabilities.argmax(axis=1) != digit)


def unsure_alone(classify, pool: dict[int, np.ndarray], below: float) -> set[tuple[int, int]]:
    """(digit, index in the pool) of every pool digit the model reads right on its own, but with a
    probability below `below`."""
    return _alone(classify, pool, lambda probabilities, digit:
                  (probabilities.argmax(axis=1) == digit) & (probabilities.max(axis=1) < below))


def _alone(classify, pool, chosen) -> set[tuple[int, int]]:
    found = set()
    for digit, images in pool.items():
        probabilities = np.asarray(classify(images))
        found.update((digit, int(index)) for index in np.flatnonzero(chosen(probabilities, digit)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz", help="MNIST .npz; its test split is used")
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--tier", choices=TIERS, default="realistic")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--effects", default=",".join(EFFECTS), help="effects to leave out, one run each")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes reading in parallel")
    parser.add_argument("--reads", help="write every field's reads to this JSON-lines file, to look the fields up")
    parser.add_argument("--unsure", type=float, default=0.9,
                        help="a digit read right on its own below this probability counts as unsure")
    args = parser.parse_args(argv)
    effects = [effect for effect in args.effects.split(",") if effect]
    unknown = set(effects) - set(EFFECTS)
    if unknown:
        parser.error(f"unknown effects {sorted(unknown)}; known: {', '.join(EFFECTS)}")

    # The same fields with one effect left out each: the generator draws the same random numbers.
    names = [BASELINE, *effects]
    draws = [Draw(args.data, args.model, args.tier, args.seed, args.count, () if name == BASELINE else (name,))
             for name in names]
    runs = {name: (reads, sources) for name, (reads, sources, _) in zip(names, read_draws(draws, args.jobs))}
    reads, sources = runs[BASELINE]

    recognizer, pool = process_reader(args.model, args.data)  # loaded already when --jobs 1
    misread = misread_alone(recognizer.classify, pool)
    unsure = unsure_alone(recognizer.classify, pool, args.unsure)
    limited = [any(source in misread for source in field) for field in sources]
    fragile = [not bad and any(source in unsure for source in field) for field, bad in zip(sources, limited)]
    right = [r.guess == r.truth for r in reads]
    others = [ok for ok, bad in zip(right, limited) if not bad]
    sure = [ok for ok, bad, weak in zip(right, limited, fragile) if not bad and not weak]
    print(f"\n{args.count} {args.tier} fields, seed {args.seed}: {sum(right)} codes read right ({np.mean(right):.1%})")
    print(f"test digits the model misreads on their own: {len(misread)} of {sum(len(images) for images in pool.values())}")
    print(f"fields holding one: {sum(limited)} ({np.mean(limited):.1%}), read right anyway: "
          f"{sum(ok for ok, bad in zip(right, limited) if bad)}")
    print(f"exact on the other {len(others)} fields: {np.mean(others):.1%}; wrong codes there: {len(others) - sum(others)}")
    print(f"test digits the model reads right on their own but below {args.unsure}: {len(unsure)}")
    print(f"of the other fields, holding one: {sum(fragile)}, read right: {sum(ok for ok, weak in zip(right, fragile) if weak)}; "
          f"exact on the {len(sure)} holding neither: {np.mean(sure):.1%}, wrong codes there: {len(sure) - sum(sure)}")

    print("\n| left out | exact codes | right only without it | right only with it | net | reject for 0.5% error |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| {BASELINE} | {sum(right)} | | | | {reject_for_error(reads, 0.005):.1%} |")
    for effect in effects:
        twin = runs[effect][0]
        gained = sum(not a and (b.guess == b.truth) for a, b in zip(right, twin))
        lost = sum(a and (b.guess != b.truth) for a, b in zip(right, twin))
        print(f"| {effect} | {sum(b.guess == b.truth for b in twin)} | {gained} | {lost} | {gained - lost:+d} | "
              f"{reject_for_error(twin, 0.005):.1%} |")
    if args.reads:
        write_reads(Path(args.reads), runs, limited, fragile)
    return 0


def write_reads(path: Path, runs: dict[str, tuple[list[Read], list]], limited: list[bool], fragile: list[bool]) -> None:
    """One line per field: its index (regenerate it with the same seed), truth, sources, whether it holds
    a digit the model misreads alone (or else one it reads right but unsure), and each run's code and
    confidence."""
    reads, sources = runs[BASELINE]
    with open(path, "w") as out:
        for index, (read, field_sources, bad, weak) in enumerate(zip(reads, sources, limited, fragile)):
            out.write(json.dumps({
                "index": index, "truth": read.truth, "sources": field_sources, "model_misreads_a_digit": bad,
                "model_unsure_of_a_digit": weak,
                "reads": {name: {"code": run[index].guess, "confidence": round(run[index].score, 4)}
                          for name, (run, _) in runs.items()},
            }) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
