"""One digit to a 28x28 MNIST-style field, the way MNIST itself was made: crop to the ink, scale the
longer side to 20 pixels keeping the aspect ratio (anti-aliased, so grey levels), and centre by centre of
mass in a 28x28 field. The service uses this for every digit it cuts out; any training augmentation that
imitates service digits must call this same function."""
from __future__ import annotations

import cv2
import numpy as np

FIELD = 28
BOX = 20
CROP_LEVEL = 0.25


def normalize_digit(ink: np.ndarray) -> np.ndarray:
    """ink: 2-D array, digit bright on black (0..255, any size). Returns uint8 [28, 28]."""
    ink = np.asarray(ink, dtype=np.float32)
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0:
        return np.zeros((FIELD, FIELD), np.uint8)
    # MNIST boxed the binary NIST strokes before anti-aliasing; boxing our grey strokes at a quarter of
    # the peak ignores the faint blur around them, which would otherwise shrink every digit.
    rows = np.flatnonzero(ink.max(axis=1) > CROP_LEVEL * peak)
    cols = np.flatnonzero(ink.max(axis=0) > CROP_LEVEL * peak)
    # MNIST strokes are saturated at their centre; faint pencil or grey ink is stretched to match.
    crop = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1] * (255.0 / peak)
    height, width = crop.shape
    scale = BOX / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA averages the source pixels under each target pixel: the anti-aliasing MNIST applied.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)

    field = np.zeros((FIELD, FIELD), np.float32)
    top, left = (FIELD - new_h) // 2, (FIELD - new_w) // 2
    field[top: top + new_h, left: left + new_w] = small
    moments = cv2.moments(field)
    if moments["m00"] > 0:
        shift_x = FIELD / 2 - moments["m10"] / moments["m00"]
        shift_y = FIELD / 2 - moments["m01"] / moments["m00"]
        # Sub-pixel shift with bilinear interpolation, as LeCun's centring did.
        transform = np.float32([[1, 0, shift_x], [0, 1, shift_y]])
        field = cv2.warpAffine(field, transform, (FIELD, FIELD), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.clip(field + 0.5, 0, 255).astype(np.uint8)
