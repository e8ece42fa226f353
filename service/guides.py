"""Removing pre-printed boxes and guide lines from the ink mask without cutting the handwriting that
crosses them. Lines are found with a probabilistic Hough transform (so a slightly rotated form still
works) and box edges by a tall opening, then erased, keeping the pixels where strokes cross them."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_TILT = np.deg2rad(12)  # how far from horizontal a printed rule may lie in the photo


@dataclass
class Guides:
    mask: np.ndarray  # uint8, 255 on the printed lines that were removed
    horizontal: int
    vertical: int


def _rules(mask: np.ndarray, min_length: int) -> list[tuple[int, int, int, int]]:
    """Near-horizontal line segments at least min_length long."""
    gap = max(3, mask.shape[1] // 80)
    found = cv2.HoughLinesP(mask, 1, np.pi / 180, threshold=max(10, min_length // 2), minLineLength=min_length, maxLineGap=gap)
    keep = []
    for x0, y0, x1, y1 in ([] if found is None else found[:, 0]):
        angle = np.arctan2(abs(y1 - y0), abs(x1 - x0))
        if angle <= MAX_TILT:
            keep.append((int(x0), int(y0), int(x1), int(y1)))
    return keep


def _thickness(mask: np.ndarray, segment) -> int:
    """Median vertical run of ink through a rule at points along it; strokes crossing it make the long
    outliers."""
    x0, y0, x1, y1 = segment
    runs = []
    for t in np.linspace(0.05, 0.95, 15):
        x, y = int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
        line, centre = mask[:, x], y
        if not line[centre]:
            continue
        low = centre
        while low > 0 and line[low - 1]:
            low -= 1
        high = centre
        while high < len(line) - 1 and line[high + 1]:
            high += 1
        runs.append(high - low + 1)
    return int(np.median(runs)) if runs else 1


def _box_height(rules: np.ndarray) -> float:
    """Distance between the top and bottom rules, measured column by column so a tilted form does not
    inflate it."""
    columns = np.flatnonzero(rules.any(axis=0))
    spans = []
    for x in columns[:: max(1, len(columns) // 50)]:
        rows = np.flatnonzero(rules[:, x])
        if rows[-1] - rows[0] > 10:
            spans.append(rows[-1] - rows[0])
    return float(np.median(spans)) if spans else float(rules.shape[0])


def remove_guides(mask: np.ndarray, faint_mask: np.ndarray | None = None) -> tuple[np.ndarray, Guides]:
    """Returns the mask without printed lines, and what was removed. Lines are looked for in
    `faint_mask` (ink at a lower threshold, where faint printed lines are whole) when given."""
    search = mask if faint_mask is None else cv2.bitwise_or(mask, faint_mask)
    height, width = mask.shape
    rules = np.zeros_like(mask)  # horizontal lines
    edges = np.zeros_like(mask)  # vertical box edges
    min_length = max(20, width // 3)
    # A printed rule or box is one connected component at least min_length wide. Labelling is linear
    # and cheap; Hough is not (it was a fifth of the server's time): most fields have no printed lines
    # and skip it, the others give Hough only the wide components' pixels.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(search, connectivity=8)
    wide = np.flatnonzero(stats[1:, cv2.CC_STAT_WIDTH] >= min_length) + 1
    if wide.size == 0:
        return mask, Guides(rules, 0, 0)
    keep = np.zeros(count, np.uint8)
    keep[wide] = 255
    search = keep[labels]
    spans, widest = 0, 0
    for segment in _rules(search, min_length):
        thickness = _thickness(search, segment)
        if thickness > max(3, height // 12):  # too thick to be a printed rule: a stroke or a blot
            continue
        cv2.line(rules, segment[:2], segment[2:], 255, thickness + 2)
        widest = max(widest, thickness + 2)
        spans += 1
    vertical = 0
    if spans >= 2:
        # Box edges join the top and bottom rules; handwriting inside a box is shorter than the box.
        # Hough breaks thin, slightly tilted vertical lines into short pieces, so these are found by a
        # tall opening instead (after a two-pixel widening that tolerates a few degrees of tilt).
        box_height = _box_height(rules)
        widened = cv2.dilate(search, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1)))
        tall = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(5, int(0.7 * box_height))))
        upright = cv2.morphologyEx(widened, cv2.MORPH_OPEN, tall)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(upright, connectivity=8)
        for label in range(1, count):
            _, _, w, h, _ = stats[label]
            # As thin as the rules (plus the widening), and nearly as tall as the box.
            if h >= 0.85 * box_height and w <= widest + 6:
                edge = cv2.dilate((labels == label).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
                edges = cv2.bitwise_or(edges, edge)
                widest = max(widest, int(w) + 2)
                vertical += 1
    rules, edges = cv2.bitwise_and(rules, mask), cv2.bitwise_and(edges, mask)
    guides = cv2.bitwise_or(rules, edges)
    if not guides.any():
        return mask, Guides(guides, 0, 0)
    cleaned = cv2.bitwise_and(mask, cv2.bitwise_not(guides))
    # Where handwriting runs into a line from either side, keep the line's pixels there: that is the
    # stroke crossing it. Looking a column either way follows slanted strokes.
    reach = widest + 2
    strokes_across_rules = cv2.dilate(cleaned, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 2 * reach + 1)))
    strokes_across_edges = cv2.dilate(cleaned, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 3)))
    crossings = cv2.bitwise_or(cv2.bitwise_and(rules, strokes_across_rules), cv2.bitwise_and(edges, strokes_across_edges))
    return cv2.bitwise_or(cleaned, crossings), Guides(cv2.bitwise_and(guides, cv2.bitwise_not(crossings)), spans, vertical)
