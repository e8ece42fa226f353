"""Write a Keras-layout .npz of digits as the recognition pipeline cuts them out of generated zip-code
fields, for `zipcode-train finetune`.

    python tools/make_field_digits.py --data ../shared/data/mnist.npz --count 12000 --out field_digits.npz

MNIST digits are written on paper by bench/zipgen.py (every tier: boxes, lines, blur, JPEG, touching
and broken digits), then read back by the pipeline: each digit it finds, as the 28x28 field the
classifier sees, gets the label of the written digit whose box it lands on. A digit that lands on no
written digit (a bad cut, a stroke of a box) is left out: it has no label. x_train comes from MNIST's
training digits, x_test from its test digits, so a fine-tuned model is still scored on digits it has
never seen.

Besides the Keras arrays, x_train_not_digit and x_test_not_digit hold fields that are *not* one digit:
proposals of the pipeline's wide search (service/segment.py) that are no written digit: half a digit,
two digits joined, a loose stroke. Fine-tuning teaches the classifier to be unsure of them
(uniform probabilities), so the recogniser stops preferring a confident half digit to a whole one.
The harvest's wide search also cuts touching pairs and joined neighbours along leaning lines
(service.segment.LEANING, with join_slants), which the service tries only last and only for touching
pairs: as not-digits those pieces taught model version 5 to doubt odd pieces (its reject figures
improved on three sets of 2,000 realistic fields; docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.zipgen import TIERS, generate, make_pool  # noqa: E402

TIER_SHARES = {"clean": 0.2, "realistic": 0.4, "hard": 0.4}
MIN_OVERLAP = 0.5  # intersection over union of a found digit's box with a written digit's box
# A proposal is another reading of a digit (not a different thing) when its box overlaps the digit's by
# this much. Half a digit overlaps the whole by about 0.5; two joined digits overlap each by about 0.5.
SAME_DIGIT = 0.6
NOT_DIGITS_PER_FIELD = 3  # at most, drawn at random: a field proposes dozens


def overlap(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    across = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    down = max(0, min(ay + ah, by + bh) - max(ay, by))
    shared = across * down
    return shared / max(aw * ah + bw * bh - shared, 1)


def not_digit_crops(recognizer, sample, rng: np.random.Generator) -> list[np.ndarray]:
    """Fields of the wide search's proposals that are no written digit, at most NOT_DIGITS_PER_FIELD.
    Each written digit is represented by the proposal that matches its box best: the written boxes are
    loose after slant and rotation, the proposals' boxes are tight on the ink. A field in which some
    written digit has no matching proposal is skipped: what its proposals are cannot be told safely."""
    proposals = recognizer.proposals(sample.encoded)
    boxes = [box for box, _ in proposals]
    digits = []
    for written in sample.boxes:
        scores = [overlap(box, written) for box in boxes]
        if not scores or max(scores) < MIN_OVERLAP:
            return []
        digits.append(boxes[int(np.argmax(scores))])
    crops = [crop for box, crop in proposals if max(overlap(box, digit) for digit in digits) < SAME_DIGIT]
    chosen = rng.permutation(len(crops))[:NOT_DIGITS_PER_FIELD]
    return [crops[i] for i in chosen]


def labelled_crops(recognizer, sample) -> list[tuple[np.ndarray, int]]:
    """The pipeline's crops of one generated field, each with the written digit it landed on."""
    truth = [int(ch) for ch in sample.code if ch.isdigit()]
    found = recognizer.recognize(sample.encoded).digits
    crops, taken = [], set()
    for digit in found:
        scores = [overlap(digit.box, box) for box in sample.boxes]
        best = int(np.argmax(scores)) if scores else -1
        if best >= 0 and scores[best] >= MIN_OVERLAP and best not in taken:
            taken.add(best)
            crops.append((digit.crop, truth[best]))
    return crops


def harvest(recognizer, pool, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits with their labels, and fields that are not a digit."""
    crops, not_digits = [], []
    for tier in TIERS:
        for _ in range(int(round(count * TIER_SHARES[tier]))):
            sample = generate(pool, tier, rng)
            crops.extend(labelled_crops(recognizer, sample))
            not_digits.extend(not_digit_crops(recognizer, sample, rng))
    return (np.stack([c for c, _ in crops]).astype(np.uint8), np.array([label for _, label in crops], np.uint8),
            np.stack(not_digits).astype(np.uint8))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz", help="Keras-layout MNIST .npz")
    parser.add_argument("--model", help="model that cuts the digits (default: the bundled model)")
    parser.add_argument("--count", type=int, default=12000, help="fields from training digits")
    parser.add_argument("--test-count", type=int, default=2000, help="fields from test digits")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from dataclasses import replace

    from service.model import classifier, load_model
    from service.recognizer import Recognizer
    from service.segment import LEANING

    recognizer = Recognizer(classifier(load_model(args.model)), wide=replace(LEANING, join_slants=LEANING.slants))
    rng = np.random.default_rng(args.seed)
    with np.load(args.data, allow_pickle=False) as mnist:
        train_pool = make_pool(mnist["x_train"], mnist["y_train"])
        test_pool = make_pool(mnist["x_test"], mnist["y_test"])
    started = time.perf_counter()
    x_train, y_train, x_train_not_digit = harvest(recognizer, train_pool, args.count, rng)
    x_test, y_test, x_test_not_digit = harvest(recognizer, test_pool, args.test_count, rng)
    np.savez_compressed(args.out, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                        x_train_not_digit=x_train_not_digit, x_test_not_digit=x_test_not_digit)
    print(f"wrote {args.out}: {len(x_train)} training and {len(x_test)} test digits, {len(x_train_not_digit)} and "
          f"{len(x_test_not_digit)} not-digits, from {args.count + args.test_count} fields in "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
