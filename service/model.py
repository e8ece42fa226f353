"""Where the bundled model lives, and a classifier over an exported SavedModel for the pipeline."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from training.export import ExportedModel, load_exported

BUNDLED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "zipnet"


def load_model(path: str | Path | None = None) -> ExportedModel:
    return load_exported(path or BUNDLED_MODEL_DIR)


def classifier(model: ExportedModel):
    """uint8 [N, 28, 28] -> float32 [N, 10] as NumPy, what service.recognizer.Recognizer calls."""

    def classify(fields: np.ndarray) -> np.ndarray:
        return model.predict(fields).numpy()

    return classify
