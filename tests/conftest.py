import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "tests" / "data" / "mnist_subset.npz"
BUNDLED_MODEL = REPO / "models" / "zipnet"
# The version the server must serve from the bundled model root: its highest version folder.
BUNDLED_VERSION = str(max(int(child.name) for child in BUNDLED_MODEL.iterdir() if child.name.isdigit()))


@pytest.fixture(scope="session")
def subset_path() -> Path:
    return SUBSET


@pytest.fixture(scope="session")
def subset_arrays() -> dict[str, np.ndarray]:
    with np.load(SUBSET, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.fixture(scope="session")
def subset(subset_path):
    from training.data import load_dataset

    return load_dataset(subset_path)


@pytest.fixture(scope="session")
def bundled_model():
    from training.export import load_exported

    return load_exported(BUNDLED_MODEL)


@pytest.fixture(scope="session")
def digit_pool(subset_arrays):
    """Generator digits: the shipped subset's MNIST *test* digits only."""
    from bench.zipgen import make_pool

    return make_pool(subset_arrays["x_test"], subset_arrays["y_test"])


@pytest.fixture(scope="session")
def recognizer(bundled_model):
    from service.model import classifier
    from service.recognizer import Recognizer

    return Recognizer(classifier(bundled_model))
