"""Scoring a model on a test set, and the two pictures an ML engineer looks at: the confusion matrix and
the misclassified digits. Drawn with OpenCV, which the project already depends on."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.data import NUM_CLASSES

CONFUSION_PNG = "confusion_matrix.png"
MISCLASSIFIED_PNG = "misclassified.png"


@dataclass
class Evaluation:
    labels: np.ndarray  # [N] true digits
    predictions: np.ndarray  # [N] predicted digits
    confidences: np.ndarray  # [N] probability of the predicted digit

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.labels == self.predictions))

    @property
    def confusion(self) -> np.ndarray:
        """counts[true, predicted]"""
        counts = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
        np.add.at(counts, (self.labels, self.predictions), 1)
        return counts

    @property
    def per_class_accuracy(self) -> np.ndarray:
        counts = self.confusion
        return np.diag(counts) / np.maximum(counts.sum(axis=1), 1)


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    probabilities = np.asarray(probabilities)
    return Evaluation(
        labels=np.asarray(labels).astype(np.int64),
        predictions=probabilities.argmax(axis=1),
        confidences=probabilities.max(axis=1),
    )


def predict_in_batches(predict, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return np.concatenate([np.asarray(predict(images[i: i + batch_size])) for i in range(0, len(images), batch_size)])


def draw_confusion_matrix(evaluation: Evaluation, title: str) -> np.ndarray:
    """A 10x10 grid of counts, the diagonal green, errors red with intensity by count."""
    cell, margin, top = 56, 70, 70
    counts = evaluation.confusion
    size = margin + cell * NUM_CLASSES + 20
    canvas = np.full((top + cell * NUM_CLASSES + margin, size, 3), 255, np.uint8)
    worst_error = max(int((counts - np.diag(np.diag(counts))).max()), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for true in range(NUM_CLASSES):
        for predicted in range(NUM_CLASSES):
            x0, y0 = margin + predicted * cell, top + true * cell
            count = int(counts[true, predicted])
            if true == predicted:
                colour = (170, 230, 170)
            elif count:
                shade = int(235 - 175 * count / worst_error)
                colour = (shade, shade, 255)
            else:
                colour = (250, 250, 250)
            cv2.rectangle(canvas, (x0, y0), (x0 + cell - 2, y0 + cell - 2), colour, -1)
            text = str(count)
            scale = 0.45 if len(text) > 3 else 0.55
            (w, h), _ = cv2.getTextSize(text, font, scale, 1)
            cv2.putText(canvas, text, (x0 + (cell - w) // 2, y0 + (cell + h) // 2), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(canvas, str(true), (margin - 22, top + true * cell + cell // 2 + 6), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(canvas, str(true), (margin + true * cell + cell // 2 - 6, top - 8), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, title, (10, 24), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "predicted ->", (margin, top - 32), font, 0.5, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.putText(canvas, "true", (8, top + 20), font, 0.5, (80, 80, 80), 1, cv2.LINE_AA)
    return canvas


def draw_misclassified(evaluation: Evaluation, images: np.ndarray, limit: int = 100, columns: int = 10) -> np.ndarray:
    """Up to `limit` misclassified digits, most confident mistakes first, each captioned true>predicted
    and the confidence of the wrong answer."""
    wrong = np.flatnonzero(evaluation.labels != evaluation.predictions)
    wrong = wrong[np.argsort(-evaluation.confidences[wrong])][:limit]
    tile_w, tile_h, zoom = 84, 108, 3
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    canvas = np.full((rows * tile_h, columns * tile_w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for slot, index in enumerate(wrong):
        y0, x0 = (slot // columns) * tile_h, (slot % columns) * tile_w
        digit = cv2.resize(images[index], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        canvas[y0: y0 + 84, x0: x0 + 84] = cv2.cvtColor(digit, cv2.COLOR_GRAY2BGR)
        caption = f"{evaluation.labels[index]}>{evaluation.predictions[index]} {evaluation.confidences[index]:.2f}"
        cv2.putText(canvas, caption, (x0 + 4, y0 + 101), font, 0.45, (0, 0, 200), 1, cv2.LINE_AA)
    if not len(wrong):
        cv2.putText(canvas, "no misclassified digits", (10, 60), font, 0.6, (0, 120, 0), 1, cv2.LINE_AA)
    return canvas


def save_pictures(evaluation: Evaluation, images: np.ndarray, directory: Path, title: str) -> list[Path]:
    paths = [directory / CONFUSION_PNG, directory / MISCLASSIFIED_PNG]
    cv2.imwrite(str(paths[0]), draw_confusion_matrix(evaluation, title))
    cv2.imwrite(str(paths[1]), draw_misclassified(evaluation, images))
    return paths
