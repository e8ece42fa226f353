"""Closing the narrow gaps of a digit that reaches the classifier in pieces: a stroke broken across, the
halves of a digit split side by side and joined again by segmentation, which keeps only the pieces' own
pixels, so the seam between them shows in the 28x28 field. Measured on fields, not on digits alone:
MNIST test digits broken by a band of 4, 6 or 8% of their height read no better closed (996, 995,
994 of 1,000, against 999, 997, 994 as they were); on generated realistic fields, where blur,
binarisation and the seam widen the gaps, closing them reads more codes right (docs/benchmarks.md,
twelfth round)."""
from __future__ import annotations

import cv2
import numpy as np

from service.normalize import CROP_LEVEL

# The widest gap closed, as a share of the digit's height. Pen skips and the generator's broken strokes
# are 4-8% of the digit height. On 7,500 realistic fields (docs/benchmarks.md, twelfth round) 0.07 read
# 23 codes right that were wrong and 6 wrong that were right; 0.05 fixed 9 and broke 4; 0.1 and 0.14
# fixed 32 and 36 but broke 16 and 25 (9s in pieces closed into 7s). The guard below (keep the closing
# only where it joins pieces and fills no loop) gave 19 and 5, and on 2,000 hard fields -2 instead of -7.
BRIDGE_GAP = 0.07


def bridged(digit: np.ndarray) -> np.ndarray:
    """digit: the ink (bright on black) of one proposed digit. The same ink with gaps narrower than
    BRIDGE_GAP of its height closed, where that joins its pieces and fills none of its loops; else as it
    is. A closing also fills narrow notches and small loops, and a 9 or 0 with its loop closed reads as
    a 7 or 2: hence the guard."""
    size = max(3, round(BRIDGE_GAP * digit.shape[0]) | 1)
    closed = cv2.morphologyEx(digit, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    before, after = _ink(digit), _ink(closed)
    if _pieces(after) < _pieces(before) and _loops(after) >= _loops(before):
        return closed
    return digit


def _ink(digit: np.ndarray) -> np.ndarray:
    # Ink as normalize_digit boxes it: a quarter of the peak, above the blur around the strokes.
    return (digit > CROP_LEVEL * max(1, int(digit.max()))).astype(np.uint8)


def _pieces(ink: np.ndarray) -> int:
    return cv2.connectedComponents(ink, connectivity=8)[0] - 1


def _loops(ink: np.ndarray) -> int:
    """Enclosed holes: paper regions (4-connected, as a loop's inside is seen) not reaching the border."""
    paper = cv2.copyMakeBorder(1 - ink, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    return cv2.connectedComponents(paper, connectivity=4)[0] - 2
