"""Cutting the ink of a zip-code field into digits: find the components, drop specks and stray marks,
merge the pieces of a broken digit, recognise the ZIP+4 hyphen, and propose the ways the remaining units
can be read: each unit as one digit, a blob of touching digits cut into several (with alternative cut
columns), two neighbours (the halves of a digit broken side by side) joined into one, or two neighbours
joined and cut again elsewhere (half a broken digit touching the next digit). The recogniser
classifies every proposal and picks the reading of the expected length the classifier is most confident
about (service/reading.py)."""
from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from service.components import labelled_components

CUT_CANDIDATES = 5  # alternatives tried for a two-digit blob
CUT_CANDIDATES_EACH = 3  # per boundary in a blob of three or four digits: at most 27 cuttings
CUT_WINDOW = 0.3  # cuts are sought this share of a part's width either side of the evenly spaced column
# A blob's two digits are often joined by a long thin stroke (a bar running into the next digit, two
# overlapping loops): the columns of least ink all lie on it, and the cheapest ones bunch at its left
# end, so every cut left one digit carrying a piece of the other (50776 read 55776, 45764 read 45704).
# The wide searches also cut at both ends of that bridge (Search.bridge_ends): its columns have at most
# the least ink times (1 + BRIDGE_SLACK) plus one pixel. 1.0 read 4 more codes than 0.5 on each of
# three sets of generated fields (10,000 and 8,000 realistic, 2,000 hard); 0.25 and 2.0 fewer than 1.0.
BRIDGE_SLACK = 1.0
MAX_DIGITS_PER_BLOB = 4
MAX_DIGIT_WIDTH = 1.9  # in digit heights: no single handwritten digit is wider
# Priors on the readings that width alone does not suggest, multiplied into the classifier's score. Even
# trained on not-digits, the classifier is sometimes sure of half a digit or of two digits joined; a cut
# into parts narrower than half a digit height, or a join of two full-height units, is rarely right.
# Chosen on generated realistic fields of a seed the benchmarks do not use (docs/benchmarks.md).
CUT_PRIOR_WIDE = 0.9
CUT_PRIOR_NARROW = 0.5
JOIN_PRIOR_FRAGMENT = 0.9
JOIN_PRIOR_FULL = 0.5
# A join is of a fragment when one of the two units is under this share of the digit height. 0.6 gave
# the lower part of a 7 broken down its stem (0.60 high) the full-height prior, and its top was read
# with the digit before it: 60471 read 60411. 0.8 read 3 more of 7,500 realistic fields right and broke
# none, 0.9 no more (docs/benchmarks.md, twelfth round).
JOIN_FRAGMENT_HEIGHT = 0.8
# Two neighbours joined and cut into two digits again: the cut moves ink from one to the other. Only
# for neighbours that (nearly) touch; the prior made no difference between 0.3 and 0.8 on seed 7.
JOIN_CUT_PRIOR = 0.5
JOIN_CUT_GAP = 0.1  # in digit heights
# A leaning cut, on top of the upright cut's prior. A reading that takes one carries it into its
# confidence too (Recognizer): the classifier is as sure of a bad leaning cut as of a good one.
SLANT_PRIOR = 0.5


@dataclass(frozen=True)
class Search:
    """How widely to look for other readings. Widths and gaps in digit heights."""
    wide: bool  # cut and join everywhere, not only where the unit count misses the length
    min_part: float  # narrowest digit a cut may make
    max_join: float  # widest digit a join may make
    max_gap: float  # widest gap a join may bridge
    # Two-digit blobs also cut along lines leaning this much (columns per row), for overlapping digits
    # that no upright cut separates. Only LEANING proposes them.
    slants: tuple[float, ...] = ()
    # Two neighbours joined and cut again along leaning lines: the field-digit harvest's, not the
    # service's (in its last search they cost a quarter more time per field for one code in 10,000).
    join_slants: tuple[float, ...] = ()
    # Two-digit blobs also cut where the thin stroke joining them meets either digit (BRIDGE_SLACK). In
    # the wide searches only: on 18,000 realistic fields 25 codes fixed and 3 broken, with fewer wrong
    # codes accepted; in the first search too (measured with BRIDGE_SLACK 0.5), no more fixed but 2 more
    # broken, one of them read wrong above the default threshold, and more to classify in every field
    # (docs/benchmarks.md, seventeenth round); with 1.0, once the pruning of proposals made it cheap
    # (0.6% more digits classified), 2 codes fixed that stayed rejected, and 1 broken, accepted wrong.
    bridge_ends: bool = False


# The first pass: cheap, enough for most fields. The recogniser widens the search for a field the first
# pass could not read with confidence (see Recognizer.recognize_image).
NARROW = Search(wide=False, min_part=0.4, max_join=1.3, max_gap=0.3)
WIDE = Search(wide=True, min_part=0.35, max_join=1.6, max_gap=0.4, bridge_ends=True)
# The last resort for a field the wide search could not read with confidence either. In the wide search
# itself, leaning cuts read 17 more of 10,000 realistic fields right but also read 3 wrong codes above
# the default threshold that were below it (docs/benchmarks.md, sixteenth round): a reading that needs
# one is now only tried last, and its confidence carries SLANT_PRIOR.
LEANING = replace(WIDE, slants=(-0.3, 0.3))


@dataclass
class Piece:
    x: int  # left, in the mask's pixels
    y: int  # top
    mask: np.ndarray  # bool [h, w], the piece's own pixels
    _area: int | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    @property
    def height(self) -> int:
        return self.mask.shape[0]

    @property
    def area(self) -> int:
        # Asked for often, and the mask never changes (a merge makes a new Piece): computed once. Not
        # functools.cached_property: on Python 3.11 it takes one lock shared by every Piece, and the
        # server's 32 threads queued on it (14% of a profile's samples under load).
        if self._area is None:
            self._area = int(self.mask.sum())
        return self._area

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.width, self.height

    def centre_y(self) -> float:
        return self.y + self.height / 2


@dataclass
class Candidate:
    """One way to read units[start:end]: as these digits, left to right."""
    start: int
    end: int
    digits: list[Piece]
    prior: float = 1.0  # how plausible the cut or join is before the classifier has looked
    leaning: bool = False  # cut along a leaning line


@dataclass
class Segmentation:
    units: list[Piece] = field(default_factory=list)  # left to right, the hyphen and specks left out
    length: int = 0  # digits to read: the caller's hint, else 5 or 9 from the units and the hyphen
    hyphen_x: int | None = None  # left edge of a visible ZIP+4 hyphen
    digit_height: float = 0.0  # of the line, in the mask's pixels
    slope: float = 0.0  # of the line the large pieces are written along: rows per column, + falling to the right


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
    count, labels, boxes = labelled_components(mask)
    pieces = []
    for label in range(1, count):
        x, y, w, h = boxes[label]
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


def _cut_positions(profile: np.ndarray, parts: int, bridge_ends: bool) -> list[list[int]]:
    """Per boundary between parts, the candidate positions: near the evenly spaced ones, with the least
    ink in the profile; between two parts, if asked, also both ends of the thin bridge there."""
    width = len(profile)
    step = width / parts
    window = max(1, int(step * CUT_WINDOW))
    boundaries = []
    for k in range(1, parts):
        centre = int(k * step)
        low, high = max(1, centre - window), min(width - 1, centre + window)
        order = low + np.argsort(profile[low:high], kind="stable")
        chosen: list[int] = []
        for column in order:
            if _apart(int(column), chosen):
                chosen.append(int(column))
            if len(chosen) == (CUT_CANDIDATES if parts == 2 else CUT_CANDIDATES_EACH if parts <= 4 else 1):
                break
        for end in _bridge_ends(profile[low:high], low) if parts == 2 and bridge_ends else []:
            if _apart(end, chosen):
                chosen.append(end)
        boundaries.append(chosen or [centre])
    return boundaries


def _apart(column: int, chosen: list[int]) -> bool:
    """Whether a candidate cut column is at least two columns from those chosen: neighbouring columns
    cut a blob into nearly the same parts, a classifier call for nothing new."""
    return all(abs(column - c) > 1 for c in chosen)


def _bridge_ends(window: np.ndarray, offset: int) -> list[int]:
    """Cut columns on either side of the thin columns of the window (at `offset` in the blob): those
    with at most the least ink times (1 + BRIDGE_SLACK) plus one pixel. A cut at column c gives the
    columns from c on to the right part, so the two cuts give the whole bridge to one part or the other."""
    if window.size == 0:
        return []
    thin = np.flatnonzero(window <= window.min() * (1 + BRIDGE_SLACK) + 1)
    return [offset + int(thin[0]), offset + int(thin[-1]) + 1]


def _cuttings(piece: Piece, parts: int, bridge_ends: bool) -> list[list[Piece]]:
    """Ways to cut a blob of `parts` touching digits: near the evenly spaced positions, at the columns
    with the least ink; every combination of the candidate columns, for the classifier to choose from."""
    boundaries = _cut_positions(piece.mask.sum(axis=0).astype(np.float32), parts, bridge_ends)
    options = [list(option) for option in itertools.product(*boundaries) if list(option) == sorted(set(option))]
    cuttings = [cut for cut in (_cut(piece, option) for option in options) if cut]
    return cuttings or [[piece]]


def _slanted_halves(piece: Piece, slant: float, bridge_ends: bool) -> list[list[Piece]]:
    """A blob of two touching digits cut along straight lines leaning `slant` columns per row (negative:
    top to the right, as a forward-slanted 1), at the least ink near its middle: where two slanted
    digits overlap, every upright cut leaves one a piece of the other."""
    ys, xs = np.nonzero(piece.mask)
    lean = xs + slant * (piece.height / 2 - ys)
    position = np.round(lean - lean.min()).astype(np.int64)
    halves = []
    for cut in _cut_positions(np.bincount(position).astype(np.float32), 2, bridge_ends)[0]:
        parts = []
        for side in (position < cut, position >= cut):
            part = np.zeros_like(piece.mask)
            part[ys[side], xs[side]] = True
            parts.append(_trimmed(piece.x, piece.y, part))
        if all(parts):
            halves.append(parts)
    return halves


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


def _large(pieces: list[Piece]) -> list[Piece]:
    """The pieces with a real share of the ink: what the line is measured on, not specks and fragments."""
    largest = max(p.area for p in pieces)
    return [p for p in pieces if p.area >= 0.15 * largest]


def _line_metrics(pieces: list[Piece]) -> tuple[float, float]:
    """Digit height and the line's vertical centre, from the large pieces. Upper quartile, not
    median: the pieces of broken digits are short and would pull a median down."""
    big = _large(pieces)
    # statistics, not numpy: on a handful of values numpy's per-call overhead was 6% of the pipeline.
    heights = [p.height for p in big]
    upper_quartile = statistics.quantiles(heights, n=4, method="inclusive")[2] if len(heights) > 1 else heights[0]
    return float(upper_quartile), float(statistics.median([p.centre_y() for p in big]))


def _writing_slope(pieces: list[Piece], digit_height: float) -> float:
    """The slope of the line through the centres of the large pieces: the median of the slopes between
    pairs at least half a digit apart (Theil-Sen), so a stray mark or a digit written high does not
    tilt it."""
    centres = [(p.x + p.width / 2, p.centre_y()) for p in _large(pieces)]
    slopes = [(y1 - y0) / (x1 - x0) for i, (x0, y0) in enumerate(centres) for x1, y1 in centres[i + 1:]
              if abs(x1 - x0) >= 0.5 * digit_height]
    return float(statistics.median(slopes)) if slopes else 0.0


def segment(mask: np.ndarray, expected_length: int = 0) -> Segmentation:
    pieces = _components(mask)
    if not pieces:
        return Segmentation()
    digit_height, line_centre = _line_metrics(pieces)
    slope = _writing_slope(pieces, digit_height)
    # Stray marks: outside the band the digits are written in, or specks too small to be a digit part.
    in_band = [p for p in pieces if abs(p.centre_y() - line_centre) < 0.75 * digit_height]
    pieces = [p for p in in_band if p.area >= 0.004 * digit_height ** 2]
    if not pieces:  # nothing left in the band (found by fuzzing: marks far apart, band between them)
        return Segmentation(slope=slope)
    # Broken digits make the first height estimate short; merge, measure again on the merged pieces,
    # and merge once more with the better estimate.
    for _ in range(2):
        pieces = _merge_broken(pieces, digit_height)
        digit_height, line_centre = _line_metrics(pieces)
    pieces = _attach_fragments(pieces, digit_height, line_centre)

    units, marks = [], []
    for piece in pieces:
        if piece.height >= 0.4 * digit_height or piece.width >= 0.9 * digit_height:
            units.append(piece)
        elif piece.width >= 0.08 * digit_height and abs(piece.centre_y() - line_centre) < 0.3 * digit_height:
            # The hyphen, or a loose part of a digit that sits at mid-height: the first digit's too (the
            # left end of a 7's bar, broken off, was dropped and the stem read as a 1).
            marks.append(piece)
        # Other small marks (dots, specks) are dropped.
    hyphen = _hyphen([mark for mark in marks if _between_groups(mark, units, digit_height)])
    if hyphen is not None and _target_length(_digits_by_width(units, digit_height), expected_length, True) == 5:
        # Five digits even with a hyphen seen: there is no hyphen, and the mark is a loose part of a digit
        # (the arm of a 4 broken off its stem, which read as a confident 1).
        hyphen = None
    units = _attach_marks([mark for mark in marks if mark is not hyphen], units, digit_height)
    hyphen_x = hyphen.x if hyphen is not None else None

    length = _target_length(_digits_by_width(units, digit_height), expected_length, hyphen_x is not None)
    return Segmentation(units=units, length=length, hyphen_x=hyphen_x, digit_height=digit_height, slope=slope)


def _hyphen(marks: list[Piece]) -> Piece | None:
    """The mark most like a written hyphen: a solid dash, else a solid dot. The first mark at mid-height
    used to be taken, and the left half of a 4 broken side by side was taken for the hyphen."""
    def dash_like(mark: Piece) -> float:
        return mark.area / (mark.width * mark.height) * min(3.0, mark.width / mark.height)

    return max(marks, key=dash_like, default=None)


def _between_groups(mark: Piece, units: list[Piece], digit_height: float) -> bool:
    """Whether a mark stands where a ZIP+4 hyphen can: after a group that may hold five digits and
    before one that may hold four. Three units, or ink two digit heights wide (touching digits), to its
    left; two units, or one and a half digit heights, to its right. A loose piece of the second digit
    of a five-digit code was taken for the hyphen, and the digit read without it."""
    left = [unit for unit in units if unit.x + unit.width / 2 < mark.x]
    right = [unit for unit in units if unit.x + unit.width / 2 > mark.x + mark.width]
    return (len(left) >= 3 or sum(unit.width for unit in left) >= 2 * digit_height) and \
        (len(right) >= 2 or sum(unit.width for unit in right) >= 1.5 * digit_height)


def _attach_marks(marks: list[Piece], units: list[Piece], digit_height: float) -> list[Piece]:
    """Mid-height marks that are not the hyphen join the nearest unit when close to it (a loose part of
    that digit); farther ones are dropped like specks. Close: within 0.35 digit heights (0.25 dropped a
    4's arm 0.25 heights from its stem, and the stem read as a 1; on 10,000 realistic fields no other
    code changed)."""
    if not units:  # marks alone are no digits
        return []
    units = list(units)
    for mark in marks:
        gaps = [-_overlap(mark, unit) for unit in units]
        nearest = int(np.argmin(gaps))
        if gaps[nearest] < 0.35 * digit_height:
            units[nearest] = _union(units[nearest], mark)
    return units


def _parts_by_width(unit: Piece, digit_height: float) -> int:
    """A single handwritten digit can be wider than tall (a sweeping 2, 5 or 7), so width alone says
    only that a blob over about two digits wide holds several."""
    return max(1, int(round(unit.width / (0.75 * digit_height)))) if unit.width > 1.9 * digit_height else 1


def _digits_by_width(units: list[Piece], digit_height: float) -> int:
    return sum(_parts_by_width(unit, digit_height) for unit in units)


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


def candidates(segmentation: Segmentation, search: Search, around: set[int] | None = None) -> list[Candidate]:
    """Every reading of a unit or of two neighbours that the search allows: the unit as one digit, cut
    into several, or joined with its right neighbour into one (or, wide, into one cut in two). A narrow
    search cuts only when the field has too few units for the length and joins only when it has too
    many; a wide one tries both.
    around: the units that get the given search (and joins between two of them); the others get the
    narrow one, so the proposals always include the narrow search's."""
    units, digit_height = segmentation.units, segmentation.digit_height
    width_parts = [_parts_by_width(unit, digit_height) for unit in units]
    missing = segmentation.length - sum(width_parts)
    proposals = []
    for index, (unit, estimate) in enumerate(zip(units, width_parts)):
        unit_search = search if around is None or index in around else NARROW
        counts = {estimate}
        if unit_search.wide or missing > 0:
            most = MAX_DIGITS_PER_BLOB if unit_search.wide else min(MAX_DIGITS_PER_BLOB, estimate + missing)
            counts.update(k for k in range(1, most + 1)
                          if _part_width_allowed(unit.width / k / digit_height, k, unit_search))
        for count in sorted(counts):
            cuttings = _cuttings(unit, count, unit_search.bridge_ends) if count > 1 else [[unit]]
            part_prior = CUT_PRIOR_WIDE if unit.width / count >= 0.5 * digit_height else CUT_PRIOR_NARROW
            prior = part_prior ** abs(count - estimate)
            proposals.extend(Candidate(index, index + 1, cutting, prior) for cutting in cuttings)
            if count == 2:
                proposals.extend(Candidate(index, index + 1, halves, prior * SLANT_PRIOR, leaning=True)
                                 for slant in unit_search.slants
                                 for halves in _slanted_halves(unit, slant, unit_search.bridge_ends))
        join_search = search if around is None or {index, index + 1} <= around else NARROW
        if (join_search.wide or missing < 0) and index + 1 < len(units):
            right = units[index + 1]
            joined = _union(unit, right)
            if -_overlap(unit, right) < join_search.max_gap * digit_height \
                    and joined.width <= join_search.max_join * digit_height:
                fragment = min(unit.height, right.height) < JOIN_FRAGMENT_HEIGHT * digit_height
                proposals.append(Candidate(index, index + 2, [joined], JOIN_PRIOR_FRAGMENT if fragment else JOIN_PRIOR_FULL))
            if join_search.wide and -_overlap(unit, right) < JOIN_CUT_GAP * digit_height \
                    and _part_width_allowed(joined.width / 2 / digit_height, 2, join_search):
                proposals.extend(Candidate(index, index + 2, cutting, JOIN_CUT_PRIOR)
                                 for cutting in _cuttings(joined, 2, join_search.bridge_ends)
                                 if len(cutting) == 2)  # not the join again
                proposals.extend(Candidate(index, index + 2, halves, JOIN_CUT_PRIOR * SLANT_PRIOR, leaning=True)
                                 for slant in join_search.join_slants
                                 for halves in _slanted_halves(joined, slant, join_search.bridge_ends))
    return proposals


def _part_width_allowed(part_width: float, count: int, search: Search) -> bool:
    if count == 1:
        return part_width <= MAX_DIGIT_WIDTH
    # Three or four parts multiply the cuttings to classify; only blobs clearly that wide get them.
    return search.min_part * (1 if count == 2 else 1.4) <= part_width <= MAX_DIGIT_WIDTH
