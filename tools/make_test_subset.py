"""Write tests/data/mnist_subset.npz: a small, class-balanced MNIST sample in Keras' layout, so the tests
never need the full data set. Training digits come from MNIST's training split, test digits from its
test split. Run once: python tools/make_test_subset.py ../shared/data/mnist.npz"""
import sys
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS, TEST_PER_CLASS = 200, 100


def balanced(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.choice(np.flatnonzero(labels == digit), per_class, replace=False) for digit in range(10)]
    return rng.permutation(np.concatenate(picks))


def main(source: str) -> None:
    rng = np.random.default_rng(20261124)
    with np.load(source, allow_pickle=False) as mnist:
        train = balanced(mnist["y_train"], TRAIN_PER_CLASS, rng)
        test = balanced(mnist["y_test"], TEST_PER_CLASS, rng)
        out = Path(__file__).resolve().parents[1] / "tests" / "data" / "mnist_subset.npz"
        np.savez_compressed(
            out,
            x_train=mnist["x_train"][train], y_train=mnist["y_train"][train],
            x_test=mnist["x_test"][test], y_test=mnist["y_test"][test],
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1])
