"""From a decoded photo to an ink map: how much ink each pixel holds, 0..255, whatever the paper, the
light or the polarity; plus the binary mask of ink that segmentation works on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

MIN_INK_CONTRAST = 60  # grey levels above the paper; below this it is paper grain or shadow, not ink
# Ink is measured as a share of the paper's brightness, but of no less than this: on an underexposed
# photo (paper at 20 grey levels) sensor noise of a few levels would otherwise count as ink.
DARKEST_PAPER = 40.0
# Where the paper is overexposed to white (clipped at 255) it has no grain, and the gain that clipped it
# also made the ink paler than it is, so there ink needs less contrast than MIN_INK_CONTRAST.
CLIPPED_PAPER = 250.0  # a paper estimate this bright is clipped white
# Not lower: a JPEG's colour fringes along a red box's edges show in the red channel as ink of 30 to 55
# where everything else has clipped, and at 30 those edges were read as confident 1s (docs/benchmarks.md).
CLIPPED_PAPER_CONTRAST = 40
# How many times more a photo must stand out of its paper in the green channel than in the red one for
# its ink to be taken for a red pen's (red_hides_ink).
RED_HIDES_INK = 2.0


@dataclass
class InkImage:
    ink: np.ndarray  # float32 [H, W], 0 = paper .. 255 = full ink
    mask: np.ndarray  # uint8 [H, W], 255 where ink
    faint_mask: np.ndarray  # uint8 [H, W], 255 where at least faint ink: where printed lines are looked for
    light_on_dark: bool


def dropout_gray(bgr: np.ndarray) -> np.ndarray:
    """The red channel: pre-printed orange and red boxes are bright in it and drop out like paper, while
    blue, black and pencil ink stay dark. This is the 'dropout colour' trick of forms readers."""
    return bgr[:, :, 2]


def red_pen_gray(bgr: np.ndarray) -> np.ndarray:
    """The green channel: a red or pink pen, which drops out of the red channel with the boxes, is dark
    in it (and orange boxes grey, to be removed as printed lines like black ones)."""
    return bgr[:, :, 1]


def uint8_median(pixels: np.ndarray) -> float:
    """np.median of uint8 pixels from their histogram: the same value, without sorting the image (a
    sort of every pixel was a tenth of the pipeline's time)."""
    counts = np.cumsum(cv2.calcHist([np.ascontiguousarray(pixels)], [0], None, [256], [0, 256])[:, 0])
    total = int(counts[-1])
    lower = int(np.searchsorted(counts, (total - 1) // 2 + 1))
    upper = int(np.searchsorted(counts, total // 2 + 1))
    return (lower + upper) / 2


def _quarter_size(image: np.ndarray) -> np.ndarray:
    """The image at a quarter of its size: enough to follow the light, which varies slowly."""
    height, width = image.shape[:2]
    return cv2.resize(image, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)


def _paper_window(small: np.ndarray) -> int:
    """A window, in quarter-size pixels, wider than any pen stroke: within it most pixels are paper."""
    return max(5, (min(small.shape) // 3) | 1)


def _off_paper(small: np.ndarray) -> np.ndarray:
    """How far each pixel of a quarter-size image (float or 8-bit) stands above (+) or below (-) the
    median of the window around it, which is the paper there: ink stands out of it on one side, while
    paper grain does on both and uneven light not at all. int16."""
    levels = (small + 0.5).astype(np.uint8)  # a median window this wide needs 8 bits (cv2.medianBlur)
    return levels.astype(np.int16) - cv2.medianBlur(levels, _paper_window(levels))


def _is_light_on_dark(small: np.ndarray) -> bool:
    """Whether the ink is lighter than the paper, from the quarter-size float image: the side of the
    paper that holds more of the distance. Relative, so an underexposed photo (paper at 50 grey levels)
    is not taken for light ink, as a fixed threshold on the median took it; on 22,000 generated fields
    of normal exposure both give the same answer (docs/benchmarks.md)."""
    above_paper = _off_paper(small)
    return int(np.maximum(above_paper, 0).sum()) > int(np.maximum(-above_paper, 0).sum())


def red_hides_ink(bgr: np.ndarray) -> bool:
    """Whether the photo holds marks that the red channel hides: they stand out of the paper in the green
    channel more than RED_HIDES_INK times as much as in the red one. On 150 generated fields a red pen
    gave 2 or more in 95% of realistic and 91% of hard ones, the generator's pens at most 1.95, also in
    orange or red boxes (docs/benchmarks.md). Made on the input photo: only unaccepted reads ask."""
    small = _quarter_size(bgr)
    green, red = (int(np.abs(_off_paper(small[:, :, channel])).sum()) for channel in (1, 2))
    return green > RED_HIDES_INK * max(red, 1)


def ink_image(bgr: np.ndarray, gray_of: Callable[[np.ndarray], np.ndarray] = dropout_gray) -> InkImage:
    """gray_of: the channel the ink is read in (red_pen_gray where red_hides_ink)."""
    gray = gray_of(bgr).astype(np.float32)
    # Paper brightness under uneven light is estimated at a quarter of the size (a grey closing wider
    # than any pen stroke removes the ink); the same small image tells the polarity.
    small = _quarter_size(gray)
    light_on_dark = _is_light_on_dark(small)
    if light_on_dark:
        gray = cv2.subtract(255.0, gray)
        small = _quarter_size(gray)  # of the negative itself, not 255 - small: the same bits as before
    height, width = gray.shape
    size = _paper_window(small)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    paper = cv2.blur(paper, (size, size))
    darkest_paper, brightest_paper = float(paper.min()), float(paper.max())
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    # 255 * (1 - gray / paper), clipped: OpenCV's float arithmetic gives numpy's values to the bit, with
    # fewer temporaries (this and the thresholds below were an eighth of the ink map's time).
    ink = cv2.multiply(cv2.subtract(1.0, cv2.divide(gray, cv2.max(paper, 1.0))), 255.0)
    np.clip(ink, 0, 255, out=ink)
    if darkest_paper < DARKEST_PAPER:  # an underexposed photo: where paper is dark, ink is judged as if it were not
        ink = cv2.multiply(ink, cv2.min(paper * (1.0 / DARKEST_PAPER), 1.0))
    # Smooth out JPEG ringing and paper grain a little before deciding what is ink.
    smoothed = cv2.GaussianBlur(ink, (3, 3), 0)
    otsu, _ = cv2.threshold(smoothed.astype(np.uint8), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    threshold = max(otsu, MIN_INK_CONTRAST)
    mask = _above(smoothed, threshold)
    # Faint pre-printed lines hover around the threshold and come out dotted; at half of it they are
    # whole. Long straight lines are safe to look for there; handwriting is judged on the real mask.
    faint_mask = _above(smoothed, threshold / 2)
    if brightest_paper >= CLIPPED_PAPER and otsu < MIN_INK_CONTRAST:
        clipped = _above(paper, CLIPPED_PAPER - 0.5)
        paler = max(otsu, CLIPPED_PAPER_CONTRAST)
        mask |= cv2.bitwise_and(_above(smoothed, paler), clipped)
        faint_mask |= cv2.bitwise_and(_above(smoothed, paler / 2), clipped)
    return InkImage(ink=ink, mask=mask, faint_mask=faint_mask, light_on_dark=light_on_dark)


def _above(image: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 255 where image > threshold, 0 elsewhere."""
    return cv2.threshold(image, threshold, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
