"""Cutting the ink of a zip-code field into digits: find the components, drop specks and stray marks,
merge the pieces of a broken digit, recognise the ZIP+4 hyphen, and propose cuts through touching digits.
Where a cut is uncertain the candidates are kept as alternatives; the recogniser lets the classifier
choose the one it is most confident about."""
from __future__ import annotations

import functools
import itertools
import statistics
from dataclasses import dataclass, field

import cv2
import numpy as np

CUT_CANDIDATES = 5  # alternatives tried for a two-digit blob
CUT_CANDIDATES_EACH = 3  # per boundary in a blob of three or four digits: at most 27 cuttings


@dataclass
class Piece:
    x: int  # left, in the mask's pixels
    y: int  # top
    mask: np.ndarray  # bool [h, w], the piece's own pixels

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    @property
    def height(self) -> int:
        return self.mask.shape[0]

    @functools.cached_property
    def area(self) -> int:  # asked for often, and the mask never changes: a merge makes a new Piece
        return int(self.mask.sum())

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.width, self.height

    def centre_y(self) -> float:
        return self.y + self.height / 2


@dataclass
class Segmentation:
    # One entry per digit position or touching blob; each is a list of alternative cuttings,
    # each cutting a list of pieces, left to right. Most slots have one alternative of one piece.
    slots: list[list[list[Piece]]] = field(default_factory=list)
    hyphen_after: int | None = None  # number of digits before a visible hyphen


def _union(a: Piece, b: Piece) -> Piece:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for piece in (a, b):
        mask[piece.y - y0: piece.y - y0 + piece.height, piece.x - x0: piece.x - x0 + piece.width] |= piece.mask
    return Piece(x0, y0, mask)


def _trimmed(x: int, y: int, mask: np.ndarray) -> Piece | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return Piece(x + int(cols[0]), y + int(rows[0]), mask[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1])


def _components(mask: np.ndarray) -> list[Piece]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    pieces = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        pieces.append(Piece(int(x), int(y), labels[y: y + h, x: x + w] == label))
    return pieces


def _overlap(a: Piece, b: Piece) -> int:
    return min(a.x + a.width, b.x + b.width) - max(a.x, b.x)


def _merge_broken(pieces: list[Piece], digit_height: float) -> list[Piece]:
    """Pieces stacked over each other (x-ranges overlapping by half the narrower one) are one digit."""
    pieces = sorted(pieces, key=lambda p: p.x)
    merged = True
    while merged:
        merged = False
        for i in range(len(pieces)):
            for j in range(i + 1, len(pieces)):
                a, b = pieces[i], pieces[j]
                if b.x >= a.x + a.width:
                    break
                narrower = min(a.width, b.width)
                joined_height = max(a.y + a.height, b.y + b.height) - min(a.y, b.y)
                # A fragment (much shorter than a digit) needs less overlap: a 2's base under its arc.
                fragment = min(a.height, b.height) < 0.6 * digit_height
                needed = 0.3 if fragment else 0.5
                if _overlap(a, b) >= needed * narrower and joined_height <= 1.6 * digit_height:
                    pieces[i] = _union(a, b)
                    del pieces[j]
                    merged = True
                    break
            if merged:
                break
    return pieces


def _cut(piece: Piece, columns: list[int]) -> list[Piece] | None:
    parts, edges = [], [0, *columns, piece.width]
    for left, right in zip(edges, edges[1:]):
        part = _trimmed(piece.x + left, piece.y, piece.mask[:, left:right])
        if part is None:
            return None
        parts.append(part)
    return parts


def _cuttings(piece: Piece, parts: int) -> list[list[Piece]]:
    """Ways to cut a blob of `parts` touching digits: near the evenly spaced positions, at the columns
    with the least ink; every combination of the candidate columns, for the classifier to choose from."""
    profile = piece.mask.sum(axis=0).astype(np.float32)
    step = piece.width / parts
    window = max(1, int(step * 0.3))
    boundaries = []
    for k in range(1, parts):
        centre = int(k * step)
        low, high = max(1, centre - window), min(piece.width - 1, centre + window)
        order = low + np.argsort(profile[low:high], kind="stable")
        chosen: list[int] = []
        for column in order:
            if all(abs(int(column) - c) > 1 for c in chosen):
                chosen.append(int(column))
            if len(chosen) == (CUT_CANDIDATES if parts == 2 else CUT_CANDIDATES_EACH if parts <= 4 else 1):
                break
        boundaries.append(chosen or [centre])
    options = [list(option) for option in itertools.product(*boundaries) if list(option) == sorted(set(option))]
    cuttings = [cut for cut in (_cut(piece, option) for option in options) if cut]
    return cuttings or [[piece]]


def _attach_fragments(pieces: list[Piece], digit_height: float, line_centre: float) -> list[Piece]:
    """A small piece that touches or overlaps a neighbour horizontally, or sits high or low in the line,
    is part of that neighbour (a 5's floating bar, the tail of a 9). A small piece at mid-height with
    space on both sides stays: it may be the ZIP+4 hyphen."""
    pieces = sorted(pieces, key=lambda p: p.x)
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        small = piece.height < 0.5 * digit_height and piece.width < 0.9 * digit_height
        neighbours = [j for j in (index - 1, index + 1) if 0 <= j < len(pieces)]
        if not small or not neighbours:
            index += 1
            continue
        gaps = {j: -_overlap(piece, pieces[j]) for j in neighbours}
        nearest = min(gaps, key=gaps.get)
        mid_height = abs(piece.centre_y() - line_centre) < 0.2 * digit_height
        if gaps[nearest] < 0.05 * digit_height and not (mid_height and gaps[nearest] > 0) or \
                (not mid_height and gaps[nearest] < 0.25 * digit_height):
            pieces[nearest] = _union(pieces[nearest], piece)
            del pieces[index]
            index = max(0, index - 1)
            continue
        index += 1
    return pieces


def _line_metrics(pieces: list[Piece]) -> tuple[float, float]:
    """Digit height and the line's vertical centre, from the pieces with a real share of the ink.
    Upper quartile, not median: the pieces of broken digits are short and would pull a median down."""
    largest = max(p.area for p in pieces)
    big = [p for p in pieces if p.area >= 0.15 * largest]
    # statistics, not numpy: on a handful of values numpy's per-call overhead was 6% of the pipeline.
    heights = [p.height for p in big]
    upper_quartile = statistics.quantiles(heights, n=4, method="inclusive")[2] if len(heights) > 1 else heights[0]
    return float(upper_quartile), float(statistics.median([p.centre_y() for p in big]))


def segment(mask: np.ndarray, expected_length: int = 0) -> Segmentation:
    pieces = _components(mask)
    if not pieces:
        return Segmentation()
    digit_height, line_centre = _line_metrics(pieces)
    # Stray marks: outside the band the digits are written in, or specks too small to be a digit part.
    in_band = [p for p in pieces if abs(p.centre_y() - line_centre) < 0.75 * digit_height]
    pieces = [p for p in in_band if p.area >= 0.004 * digit_height ** 2]
    if not pieces:  # nothing left in the band (found by fuzzing: marks far apart, band between them)
        return Segmentation()
    # Broken digits make the first height estimate short; merge, measure again on the merged pieces,
    # and merge once more with the better estimate.
    for _ in range(2):
        pieces = _merge_broken(pieces, digit_height)
        digit_height, line_centre = _line_metrics(pieces)
    pieces = _attach_fragments(pieces, digit_height, line_centre)

    digits, hyphen_x = [], None
    for piece in pieces:
        if piece.height >= 0.4 * digit_height or piece.width >= 0.9 * digit_height:
            digits.append(piece)
        elif digits and hyphen_x is None and piece.width >= 0.08 * digit_height \
                and abs(piece.centre_y() - line_centre) < 0.3 * digit_height:
            hyphen_x = piece.x
        # Other small marks (dots, specks) are dropped.
    if hyphen_x is not None and hyphen_x > digits[-1].x:
        hyphen_x = None  # a mark after the last digit is not a separator

    digits, parts = _fit_length(digits, digit_height, expected_length, hyphen_x is not None)
    slots = [_cuttings(piece, n) if n > 1 else [[piece]] for piece, n in zip(digits, parts)]
    # Counted from the hyphen's position once cuts and joins are settled, so neither can shift it.
    hyphen_after = None if hyphen_x is None else sum(n for piece, n in zip(digits, parts) if piece.x < hyphen_x)
    return Segmentation(slots=slots, hyphen_after=hyphen_after)


def _target_length(count: int, expected_length: int, hyphen_seen: bool) -> int:
    if expected_length:
        return expected_length
    if count <= 5:
        return 5
    if count < 9:
        # Six or seven pieces are more often a 5-digit code with a broken digit than a ZIP+4 with
        # two or three touching pairs, unless a hyphen was seen.
        return 9 if hyphen_seen or count >= 8 else 5
    return 9


def _fit_length(digits: list[Piece], digit_height: float, expected_length: int,
                hyphen_seen: bool) -> tuple[list[Piece], list[int]]:
    """How many digits each blob holds. A single handwritten digit can be wider than tall (a sweeping 2,
    5 or 7), so width alone settles only blobs over about two digits wide; the length of a zip code (the
    caller's hint, else 5 or 9) decides the rest. Too few: cut the widest blobs. Too many: join the
    narrowest neighbours that together still look like one digit (the halves of a broken digit)."""
    parts = [max(1, int(round(p.width / (0.75 * digit_height)))) if p.width > 1.9 * digit_height else 1 for p in digits]
    target = _target_length(sum(parts), expected_length, hyphen_seen)
    while sum(parts) < target:
        ratios = [p.width / (n + 1) / digit_height for p, n in zip(digits, parts)]
        widest = int(np.argmax(ratios))
        if ratios[widest] < 0.4:
            break
        parts[widest] += 1
    while sum(parts) > target:
        # First undo a cut that width alone made: the blob whose parts would be narrowest.
        over_cut = [(p.width / n / digit_height, i) for i, (p, n) in enumerate(zip(digits, parts)) if n > 1]
        ratio, i = min(over_cut, default=(np.inf, -1))
        if ratio < 0.9:
            parts[i] -= 1
            continue
        if len(digits) < 2:
            break
        joins = [
            (_union(a, b).width, i) for i, (a, b) in enumerate(zip(digits, digits[1:]))
            if parts[i] == 1 and parts[i + 1] == 1 and -_overlap(a, b) < 0.3 * digit_height
        ]
        width, i = min(joins, default=(np.inf, -1))
        if width > 1.3 * digit_height:
            break
        digits[i: i + 2] = [_union(digits[i], digits[i + 1])]
        parts[i: i + 2] = [1]
    return digits, parts
