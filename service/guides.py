"""Removing pre-printed boxes and guide lines from the ink mask without cutting the handwriting that
crosses them. Lines are found with a probabilistic Hough transform (so a slightly rotated form still
works; a dashed line's gaps filled first), box edges by a tall opening (on a copy sheared by the rules'
tilt) and a comb's ticks by a short one, then erased, keeping the pixels where strokes cross them
and, where a stroke lies along a rule (the ink across it thicker than the rule), the stroke's side."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.binarize import uint8_median
from service.components import labelled_components

MAX_TILT = np.deg2rad(12)  # how far from horizontal a printed rule may lie in the photo
PITCH_RANGE = (0.6, 1.7)  # box width against box height: boxes are about square
MAX_RULE_THICKNESS = 5.5  # in the photo's own pixels, blur included
# Box edges smeared wider than this share of the box height by motion are not looked for: the digits
# are smeared past reading by then (a blur of 30% of a digit's height reads 123 of 300 realistic fields).
MOTION_BLURRED_EDGE = 0.2
# A comb (a rule under the boxes, short ticks up their sides) has at least this many ticks in a row, of
# one height within this share of it (plus two pixels: the ticks' ends are blurred).
COMB_TICKS = 4
TICK_HEIGHT_TOLERANCE = 0.15
# Nor are a comb's ticks shorter than this share of the box width: bits of digits standing on an
# underline, a fifth of their height, made a row three box widths long.
MIN_TICK_SHARE = 0.2
# A dashed rule: at least this many dashes in line, gaps at most this many dash lengths (digits written
# on the line hide some), each within this share of the dashes' median length (plus two pixels).
DASHES = 4
DASH_GAPS = 4.0
DASH_LENGTH_TOLERANCE = 0.3
# A stroke lying along a rule (a 2's base written on the underline): the ink across the rule thicker
# than the rule by this share of a pen's width (at least this many pixels), over at least this many
# pen widths along it. Four widths left a 2's base on a thin rule cut (69062 read 69067, accepted).
ALONG_RULE_EXCESS = 0.5
ALONG_RULE_MIN_EXCESS = 2
ALONG_RULE_STRETCH = 3.0
PITCH_TOLERANCE = 0.04  # how far, as a share of the box width (plus a pixel), a box edge may stand off the pitch
# Lab a*b* distance between the median colours of the handwriting and of the printed lines above which
# the pen's colour tells a stroke lying along a line from the line itself.
MIN_COLOUR_SEPARATION = 12.0


@dataclass
class Guides:
    mask: np.ndarray  # uint8, 255 on the printed lines that were removed
    horizontal: int
    vertical: int


class _Components:
    """A mask and its 8-connected components with their boxes, labelled on first use: most fields never
    need them, and where both the rule search and the dash search do, they share one labelling."""

    def __init__(self, mask: np.ndarray):
        self.mask = mask
        # Not functools.cached_property: Python 3.11's holds one lock for every instance, and the
        # server's pipelines queued on it (docs/benchmarks.md, Piece.area).
        self._labelled: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def labelled(self) -> tuple[int, np.ndarray, np.ndarray]:
        """labelled_components: count, labels, boxes."""
        if self._labelled is None:
            self._labelled = labelled_components(self.mask)
        return self._labelled


def _rules(mask: np.ndarray, min_length: int, gap: int | None = None) -> list[tuple[int, int, int, int]]:
    """Near-horizontal line segments at least min_length long, with gaps up to `gap` pixels."""
    gap = gap or max(3, mask.shape[1] // 80)
    found = cv2.HoughLinesP(mask, 1, np.pi / 180, threshold=max(10, min_length // 2), minLineLength=min_length, maxLineGap=gap)
    keep = []
    for x0, y0, x1, y1 in ([] if found is None else found[:, 0]):
        angle = np.arctan2(abs(y1 - y0), abs(x1 - x0))
        if angle <= MAX_TILT:
            keep.append((int(x0), int(y0), int(x1), int(y1)))
    return keep


def _bridged_dashes(components: _Components, min_length: int, thickest: float) -> np.ndarray:
    """255 along the dashed (or broken) rules of the mask of `components`, gaps included, so that they
    are found and removed as whole rules: at least DASHES dashes (components as thin as a rule, at least
    twice as long as they are thick, shorter than a rule, of one length) in line, no more than DASH_GAPS
    dash lengths apart. Printed dashes are left in the ink as marks of their own otherwise, and stuck to
    the digits that touch them. Costs a labelling of the photo (0.16-0.17 ms on this project's 2-core
    machine) where the rule search has not made one."""
    bridged = np.zeros_like(components.mask)
    # Components of their own: the flat bottoms of digits written on a baseline lie in line too, and
    # taken from the strokes they passed for dashes (a third of 2,000 fields changed, most for worse).
    # Looked for at half the size, the search found fewer dashed rules and cost nearly as much.
    count, labels, boxes = components.labelled
    widths, heights = boxes[1:, cv2.CC_STAT_WIDTH], boxes[1:, cv2.CC_STAT_HEIGHT]
    # A dash tilted with the form is taller than thick by its length times the tilt's sine.
    dashes = np.flatnonzero((widths >= 2 * heights) & (widths < min_length)
                            & (heights <= thickest + np.sin(MAX_TILT) * widths)) + 1
    if dashes.size < DASHES:
        return bridged
    # Printed dashes are all of one length.
    length = float(np.median(boxes[dashes, cv2.CC_STAT_WIDTH]))
    dashes = dashes[np.abs(boxes[dashes, cv2.CC_STAT_WIDTH] - length) <= DASH_LENGTH_TOLERANCE * length + 2]
    if dashes.size < DASHES:
        return bridged
    keep = np.zeros(count, np.uint8)
    keep[dashes] = 255
    areas, centres = _areas_and_centres(labels, boxes, dashes)
    thickness = max(1, int(round(float(np.median(areas / boxes[dashes, cv2.CC_STAT_WIDTH])))))
    for segment in _rules(keep[labels], min_length, gap=int(DASH_GAPS * length)):
        # The gaps are filled along the line through the dashes' centres, as thick as they are: Hough's
        # segment runs anywhere within their thickness, and a rule found along it left a strip of each
        # dash beside it (a 7 standing on the line read as a 2).
        in_line = _off_line(centres[:, 0], centres[:, 1], segment) <= thickness + 1
        on_line = dashes[in_line]
        if on_line.size < DASHES:
            continue
        slope, intercept = np.polyfit(centres[in_line, 0], centres[in_line, 1], 1)
        left = int(boxes[on_line, cv2.CC_STAT_LEFT].min())
        right = int((boxes[on_line, cv2.CC_STAT_LEFT] + boxes[on_line, cv2.CC_STAT_WIDTH]).max()) - 1
        cv2.line(bridged, (left, int(round(slope * left + intercept))), (right, int(round(slope * right + intercept))),
                 255, thickness)
    return bridged


def _areas_and_centres(labels: np.ndarray, boxes: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixel counts and centroids (x, y) of the chosen components, from their boxes: a few dashes,
    where the statistics of every component would visit the whole photo."""
    areas, centres = np.zeros(chosen.size), np.zeros((chosen.size, 2))
    for row, label in enumerate(chosen):
        x, y, w, h = boxes[label]
        ys, xs = np.nonzero(labels[y: y + h, x: x + w] == label)
        # Sums of whole-photo coordinates over the count, as OpenCV's centroids: the same bits.
        areas[row], centres[row] = ys.size, ((xs.sum() + x * xs.size) / xs.size, (ys.sum() + y * ys.size) / ys.size)
    return areas, centres


class _ColumnRuns:
    """The vertical runs of ink in every column of a mask, to look up the run through any pixel."""

    def __init__(self, ink: np.ndarray):
        self.height = ink.shape[0]
        # Column by column with a row of paper after each, so that no run goes on into the next column.
        flat = np.vstack([ink > 0, np.zeros((1, ink.shape[1]), bool)]).T.ravel().astype(np.int8)
        steps = np.diff(np.concatenate(([0], flat)))
        self.starts, self.ends = np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)

    def through(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the pixels (xs, ys): whether they are ink, and the first and last row of their run."""
        at = xs * (self.height + 1) + ys
        if self.starts.size == 0:
            return np.zeros(at.shape, bool), at * 0, at * 0 - 1
        run = np.maximum(np.searchsorted(self.starts, at, side="right") - 1, 0)
        inked = (self.starts[run] <= at) & (at < self.ends[run])
        return inked, self.starts[run] - xs * (self.height + 1), self.ends[run] - 1 - xs * (self.height + 1)


def _vertical_runs(columns: _ColumnRuns, segment) -> list[tuple[int, int]]:
    """The vertical runs of ink (first row, last row) through a rule at points along it."""
    x0, y0, x1, y1 = segment
    along = np.linspace(0.05, 0.95, 15)
    xs, ys = np.round(x0 + along * (x1 - x0)).astype(int), np.round(y0 + along * (y1 - y0)).astype(int)
    inked, lows, highs = columns.through(xs, ys)
    return list(zip(lows[inked].tolist(), highs[inked].tolist()))


def _thickness(runs: list[tuple[int, int]]) -> int:
    """Median length of a rule's vertical runs; strokes crossing it make the long outliers."""
    return int(np.median([high - low + 1 for low, high in runs])) if runs else 1


def _at_photo_edge(runs: list[tuple[int, int]], height: int) -> bool:
    """Whether along most of a rule its ink runs on to the top or bottom of the photo: a printed rule
    cropped by the frame, or the edge of the sheet against the background of a rotated photo."""
    return sum(low == 0 or high == height - 1 for low, high in runs) > len(runs) / 2


def _true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of True in a 1-D bool array starts, and where it ends (one past its last)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    return edges[::2], edges[1::2]


def _longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D bool array."""
    starts, ends = _true_runs(flags)
    return int((ends - starts).max()) if starts.size else 0


def _off_line(xs, ys, rule):
    """How far the points (xs, ys: numbers or arrays) lie from the straight line through rule, in pixels."""
    x0, y0, x1, y1 = rule
    length = max(1.0, float(np.hypot(x1 - x0, y1 - y0)))
    return np.abs((x1 - x0) * (np.asarray(ys) - y0) - (y1 - y0) * (np.asarray(xs) - x0)) / length


def _on_line(segment, rule, tolerance: float) -> bool:
    """Whether both ends of segment lie within tolerance pixels of the straight line through rule."""
    return bool((_off_line(segment[0::2], segment[1::2], rule) <= tolerance).all())


def _box_height(rules: np.ndarray, widest: int) -> float | None:
    """Distance between the top and bottom rules, measured column by column so a tilted form does not
    inflate it; None where no column crosses two rules. Two rules closer than three rule widths are one
    thick rule found twice by Hough (a blurred or tilted line), no box."""
    columns = np.flatnonzero(rules.any(axis=0))
    sampled = rules[:, columns[:: max(1, len(columns) // 50)]] > 0
    # Each sampled column's first and last rule row, all columns at once.
    spans = sampled.shape[0] - 1 - np.argmax(sampled[::-1], axis=0) - np.argmax(sampled, axis=0)
    spans = spans[spans > max(10, 3 * widest)]
    return float(np.median(spans)) if spans.size else None


def _ink_on_both_sides(ink: np.ndarray, reach: int, vertical: bool) -> np.ndarray:
    """255 where ink lies within reach pixels on one side and on the other: above and below when
    vertical, left and right otherwise."""
    size = 2 * reach + 1
    before, after = np.zeros((3, size), np.uint8), np.zeros((3, size), np.uint8)
    before[:, : reach + 1], after[:, reach:] = 1, 1  # dilation reads src(x - reach .. x), src(x .. x + reach)
    if vertical:
        before, after = before.T.copy(), after.T.copy()
    return cv2.bitwise_and(cv2.dilate(ink, before), cv2.dilate(ink, after))


def _stroke_width(ink: np.ndarray) -> float:
    """The pen's width in pixels: the ink's area over half its outline (a stroke w wide and L long has
    area wL and about 2L outline pixels)."""
    outline = np.count_nonzero(ink) - np.count_nonzero(cv2.erode(ink, np.ones((3, 3), np.uint8)))
    return 2 * np.count_nonzero(ink) / max(1, outline)


def _rule_lines(found_rules: list) -> list:
    """The found rules' segments as lines: Hough finds one printed rule as several overlapping segments.
    Each line is its longest segment (x0 <= x1) and the columns its segments span together."""
    lines: list = []
    for segment, thickness in sorted(found_rules, key=lambda found: -abs(found[0][2] - found[0][0])):
        x0, y0, x1, y1 = segment if segment[0] <= segment[2] else (*segment[2:], *segment[:2])
        for line in lines:
            if _on_line(segment, line[0], thickness / 2 + 1):
                line[1] = (min(line[1][0], x0), max(line[1][1], x1))
                break
        else:
            lines.append([(x0, y0, x1, y1), (x0, x1)])
    return lines


def _straight_lines(xs: np.ndarray, fitted: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    """For each of `values` (one per column xs), the least-squares straight line through its `fitted`
    columns (at least two), evaluated at every column. Closed form: np.polyfit's general solver costs
    more than the rest of the along-rule search per line."""
    x = xs[fitted].astype(np.float64)
    mean_x = x.mean()
    spread = x - mean_x
    lines = []
    for value in values:
        y = value[fitted].astype(np.float64)
        slope = float(spread @ (y - y.mean())) / float(spread @ spread)
        lines.append(y.mean() + slope * (xs - mean_x))
    return lines


def _strokes_along_rules(ink: np.ndarray, found_rules: list, pen_width: float) -> np.ndarray:
    """255 on the pixels of a stroke lying along a rule (a 2's base written on the underline), which the
    rule's band would erase with it: where the ink across the rule is thicker than the rule there (by
    ALONG_RULE_EXCESS of a pen's width) over ALONG_RULE_STRETCH pen widths, the ink from the rule's
    centre line out to the stroke's side. A stroke crossing or touching the rule is thicker there over
    about its own width only. Where the stroke covers the rule it cannot be told from it: keeping half
    the rule with it read better than keeping none (a 5's base cut through) or all of it (a 0 standing
    on a bar)."""
    along = np.zeros_like(ink)
    height, width = ink.shape
    # Only the rows near the rules: runs cut off there are thicker than any rule with a stroke on it.
    reach = int(max(thickness for _, thickness in found_rules) + 3 * pen_width) + 2
    rows = [segment[1::2] for segment, _ in found_rules]
    top, bottom = max(0, int(np.min(rows)) - reach), min(height, int(np.max(rows)) + reach + 1)
    runs = _ColumnRuns(ink[top:bottom])
    shortest = max(3, int(ALONG_RULE_STRETCH * pen_width))
    for (x0, y0, x1, y1), (left, right) in _rule_lines(found_rules):
        xs = np.arange(max(0, left), min(width - 1, right) + 1)
        if xs.size < shortest:
            continue
        ys = np.clip(np.round(y0 + (y1 - y0) * (xs - x0) / max(1, x1 - x0)).astype(int), 0, height - 1)
        inked, lows, highs = runs.through(xs, ys - top)
        lows, highs = lows + top, highs + top
        lengths = highs - lows + 1
        # The rule's own thickness and centre, which drift along it (blur, light, perspective): lines
        # through the columns where nothing lies on it. Strokes lying along it can be most of its
        # columns; the bare ones are within a quarter (two pixels at least) of the thinnest quarter's.
        if not inked.any():
            continue
        inked_lengths = lengths[inked]
        thinnest = np.partition(inked_lengths, inked_lengths.size // 4)[inked_lengths.size // 4]
        bare = inked & (lengths <= thinnest + max(2.0, 0.25 * thinnest))
        if np.count_nonzero(bare) < 2:
            continue
        own, centre = _straight_lines(xs, bare, lengths, (lows + highs) / 2)
        thick = inked & (lengths >= own + max(ALONG_RULE_MIN_EXCESS, ALONG_RULE_EXCESS * pen_width))
        for start, end in zip(*_true_runs(thick)):
            if end - start < shortest:
                continue
            span = slice(start, end)
            above = np.sum(centre[span] - own[span] / 2 - lows[span])
            below = np.sum(highs[span] - centre[span] - own[span] / 2)
            for x, low, high, middle in zip(xs[span], lows[span], highs[span], centre[span]):
                if above >= below:
                    along[low: int(np.floor(middle)) + 1, x] = 255
                else:
                    along[int(np.ceil(middle)): high + 1, x] = 255
    return along


def _ends_on_rules(rules: np.ndarray, x: int, y: int, w: int, h: int, reach: int) -> tuple[bool, bool]:
    """Whether the upright line in (x, y, w, h) ends on a rule at its top, and at its bottom."""
    columns = slice(max(0, x - reach), x + w + reach)
    return (bool(rules[max(0, y - reach): y + reach + 1, columns].any()),
            bool(rules[max(0, y + h - 1 - reach): y + h + reach, columns].any()))


def _reachable(linked: np.ndarray) -> np.ndarray:
    """Which lines each line reaches through linked pairs, itself included: the rows they make. linked:
    [..., n, n], a stack of link matrices closed together."""
    reach = linked | np.eye(linked.shape[-1], dtype=bool)
    while True:  # a handful of lines: squaring the reachability matrix until it settles is enough
        wider = (reach.astype(np.int32) @ reach.astype(np.int32)) > 0
        if (wider == reach).all():
            return reach
        reach = wider


def _row_sizes(linked: np.ndarray) -> np.ndarray:
    """For each line, how many lines its row holds: the lines reachable through linked pairs. linked:
    [..., n, n]."""
    return _reachable(linked).sum(axis=-1)


def _one_pitch_apart(apart, pitch: float):
    """Whether distances between upright lines' centres (a number or an array) are one box width, within
    PITCH_TOLERANCE of it plus a pixel."""
    return np.abs(apart - pitch) <= PITCH_TOLERANCE * pitch + 1


def _whole_pitches_apart(apart: float, pitch: float) -> bool:
    """Whether upright lines' centres `apart` pixels apart are a whole number of box widths apart, within
    the tolerance of one (not that tolerance times the count: a stroke inside the fourth box passed)."""
    return apart >= pitch / 2 and bool(_one_pitch_apart(apart - (round(apart / pitch) - 1) * pitch, pitch))


def _box_edges(lines: list, box_height: float) -> list:
    """The upright lines (x centre first) that are printed box edges: those in a row of at least three
    lines one box width apart. A digit's stroke as tall as a small box (a 1, the stem of a 7 or a 9
    close to an edge) passes every other test but stands off the form's regular pitch. Boxes are about
    as wide as they are tall; the pitch is the box width that puts the most lines in such rows, the
    narrowest of equals (every other edge is a row too, at twice the width)."""
    if len(lines) < 4:
        return lines
    centres = np.array([line[0] for line in lines])
    apart = np.abs(centres[:, None] - centres[None, :])
    # Every pitch at once (55 of them): one stack of link matrices closed together.
    pitches = np.arange(*PITCH_RANGE, 0.02) * box_height
    in_rows = _row_sizes(_one_pitch_apart(apart[None], pitches[:, None, None])) >= 3
    best = in_rows[int(np.argmax(in_rows.sum(axis=1)))]  # the first, narrowest, of equals
    return [line for line, keep in zip(lines, best) if keep] if best.any() else lines


def _edges_on_pitch(edges: list, strays: list, loners: list, box_height: float) -> list:
    """Box edges that do not meet the rules at both ends (strays: Hough found only part of a faint or
    tilted rule, or the rule ends short of the corner) but stand one box width from an edge that does,
    or from one taken so: the row of boxes continues. And edges that meet the rules but are in no row
    of their own (loners: the first box's left edge, when the edges between it and the rest were hidden
    by digits written over them) standing a whole number of box widths from an edge, or in a pair one
    box width apart. A digit's upright stroke stands inside a box, about half a box width off the
    pitch."""
    centres = sorted(edge[0] for edge in edges)
    low, high = (share * box_height for share in PITCH_RANGE)
    gaps = [b - a for a, b in zip(centres, centres[1:]) if low <= b - a <= high]
    if not gaps:
        return edges
    pitch = float(np.median(gaps))
    # The short second group of a ZIP+4's boxes, past a gutter off the pitch, may have only two edges
    # left whole: a pair one box width apart. Then any edge a whole number of box widths from one.
    paired = [loner for loner in loners if any(
        other is not loner and _one_pitch_apart(abs(loner[0] - other[0]), pitch) for other in loners)]
    edges = list(edges) + paired
    edges += [loner for loner in loners if not any(loner is edge for edge in paired) and any(
        _whole_pitches_apart(abs(loner[0] - edge[0]), pitch) for edge in edges)]
    strays = list(strays)
    while True:
        found = [stray for stray in strays if any(_one_pitch_apart(abs(stray[0] - edge[0]), pitch) for edge in edges)]
        if not found:
            return edges
        edges += found
        strays = [stray for stray in strays if not any(stray is other for other in found)]


def _uprighting_shear(segments: list, height: int, width: int) -> tuple[np.ndarray, int] | None:
    """The horizontal shear that stands the box edges of a form rotated like its rules upright, and the
    width that holds the sheared photo. None for rules within a degree of level: the edge search
    tolerates that, and most photos keep their exact pixels."""
    lengths = np.array([np.hypot(x1 - x0, y1 - y0) for x0, y0, x1, y1 in segments])
    slopes = np.array([(y1 - y0) / (x1 - x0) if x1 != x0 else 0.0 for x0, y0, x1, y1 in segments])
    order = np.argsort(slopes)
    # The length-weighted median: the long rules tell the form's tilt, short pieces wobble.
    slope = float(slopes[order][np.searchsorted(np.cumsum(lengths[order]), lengths.sum() / 2)])
    if abs(slope) < np.tan(np.deg2rad(1.0)):
        return None
    # An edge leans back by the rule's slope: x = x0 - slope * y. Adding slope * y puts it at x0.
    margin = int(np.ceil(abs(slope) * (height - 1)))
    return np.float32([[1, slope, margin if slope < 0 else 0], [0, 1, 0]]), width + margin


def _upright_box_edges(search: np.ndarray, rules: np.ndarray, box_height: float,
                       widest: int) -> tuple[np.ndarray, int, int]:
    """The printed box edges among the upright lines of `search` (a photo whose rules are `rules`): their
    mask, how many, and how far either side of one a crossing stroke must reach."""
    edges, vertical, edge_reach = np.zeros_like(search), 0, 0
    # Box edges join the top and bottom rules; handwriting inside a box is shorter than the box.
    candidates = [  # (x centre, the line itself, w, its median width, meets the rules at both ends)
        (x + w / 2, line, w, thickness, all(_ends_on_rules(rules, x, y, w, h, widest + 2)))
        for x, y, w, h, line, thickness in _upright_lines(search, max(5, int(0.7 * box_height)),
                                                           lambda x, y, w, h: h >= 0.85 * box_height)]
    # The allowance that finds the most edges, the rules' own on a tie.
    allowances = _edge_widths(candidates, widest, box_height)
    found = max((_edges_within(candidates, allowance, box_height) for allowance in allowances), key=len)
    for _, line, w in found:
        edges = cv2.bitwise_or(edges, cv2.dilate(line, np.ones((3, 3), np.uint8)))
        edge_reach = max(edge_reach, w - 2)  # the widening added 4 to the line's width
        vertical += 1
    return edges, vertical, edge_reach


def _edges_within(candidates: list, allowance: int, box_height: float) -> list:
    """The box edges among the tall upright lines (_upright_box_edges) at most `allowance` thick. As thin
    as the rules (plus the widening), nearly as tall as the box, and meeting a rule at both ends: a
    narrow upright digit (a 1, a thin 8) can be as tall, but floats between them, and its stroke is
    thicker than the printed lines. One that does not meet them is still an edge when it stands on the
    boxes' pitch."""
    lines, strays = [], []  # meeting the rules at both ends, and not
    for centre, line, w, thickness, meets in candidates:
        if w <= allowance + 6 and thickness <= allowance:
            (lines if meets else strays).append((centre, line, w))
    in_rows = _box_edges(lines, box_height)
    loners = [line for line in lines if not any(line is edge for edge in in_rows)]
    return _edges_on_pitch(in_rows, strays, loners, box_height)


def _edge_widths(candidates: list, widest: int, box_height: float) -> list[int]:
    """How thick a box edge may be: as the rules (widest), or as the upright lines that meet the rules at
    both ends are at the median, when that is thicker and within MOTION_BLURRED_EDGE of the box height.
    A photo blurred along the writing (an item moving past the camera) leaves the rules thin and smears
    the edges wide: with 10% of a digit's height of blur, edges 10 pixels thick against rules of 7 were
    all kept and read as 1s, confidently."""
    meeting = [thickness for *_, thickness, meets in candidates if meets]
    if len(meeting) < 3:
        return [widest]
    smeared = int(np.ceil(np.median(meeting)))
    return [widest, smeared] if widest < smeared <= MOTION_BLURRED_EDGE * box_height else [widest]


def _upright_ticks(search: np.ndarray, rules: np.ndarray, widest: int) -> tuple[np.ndarray, int, int]:
    """A comb's ticks: the short upright lines standing on a rule (or hanging from it) between the boxes
    of a form printed without top rules, as _upright_box_edges gives box edges. Without a box height the
    ticks are told from handwriting by what printing makes them and writing does not: as thin as the
    rule, of one height, and at least COMB_TICKS of them on one pitch (_ticks_in_rows). A written 1
    standing on an underline is thicker, or alone, or off its neighbours' pitch and height."""
    ticks, count, reach = np.zeros_like(search), 0, 0
    shortest = max(6, 2 * widest)
    found, pitch = _ticks_in_rows(_tick_candidates(search, rules, widest, shortest), widest)
    if found:
        # A digit touching a tick joins it in a search this short, and hides it. Searched again as tall
        # as the ticks found, the digit's curves drop out: a line there on the comb's pitch is a tick.
        typical = float(np.median([tick[-1] for tick in found]))
        for tick in _tick_candidates(search, rules, widest, max(shortest, int(0.7 * typical))):
            alike = abs(tick[-1] - typical) <= TICK_HEIGHT_TOLERANCE * typical + 2
            apart = [abs(tick[0] - other[0]) for other in found]
            if alike and min(apart) > pitch / 2 and any(_whole_pitches_apart(gap, pitch) for gap in apart):
                found.append(tick)
    for _, line, w, _ in found:
        ticks = cv2.bitwise_or(ticks, cv2.dilate(line, np.ones((3, 3), np.uint8)))
        reach = max(reach, w - 2)  # the widening added 4 to the line's width
        count += 1
    return ticks, count, reach


def _tick_candidates(search: np.ndarray, rules: np.ndarray, widest: int, shortest: int) -> list:
    """The upright lines of `search` at least `shortest` tall that end on a rule and are as thin as it:
    (x centre, the line itself, w, h)."""
    return [(x + w / 2, line, w, h) for x, y, w, h, line, thickness in _upright_lines(
                search, shortest, lambda x, y, w, h: w <= widest + 6 and any(_ends_on_rules(rules, x, y, w, h, widest + 2)))
            if thickness <= widest]


def _upright_lines(search: np.ndarray, shortest: int, wanted) -> list:
    """The upright lines of `search` at least `shortest` tall whose bounding box (x, y, w, h) is
    `wanted`: (x, y, w, h, the line itself, its median width). Hough breaks thin, slightly tilted
    upright lines into short pieces, so they are found by a tall opening instead, after a two-pixel
    widening that tolerates a few degrees of tilt (w is the widened width)."""
    widened = cv2.dilate(search, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1)))
    upright = cv2.morphologyEx(widened, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, shortest)))
    count, labels, boxes = labelled_components(upright)
    lines = []
    for label in range(1, count):
        x, y, w, h = (int(value) for value in boxes[label])
        if not wanted(x, y, w, h):
            continue
        # The line itself (the opening ran on a widened copy).
        line = cv2.bitwise_and((labels == label).astype(np.uint8) * 255, search)
        lines.append((x, y, w, h, line, float(np.median(np.count_nonzero(line[y: y + h, x: x + w], axis=1)))))
    return lines


def _ticks_in_rows(candidates: list, widest: int) -> tuple[list, float]:
    """The candidates (x centre first, height last) that make a comb: at least COMB_TICKS a whole number
    of pitches from each other, two of them one pitch apart (the ticks between may be hidden by digits
    written over them), each within TICK_HEIGHT_TOLERANCE of the median height of the lines one pitch
    from another and at least MIN_TICK_SHARE of the pitch tall. The pitch is the distance between two
    candidates that keeps the most; a box is wider than four rules. Returns those kept and the pitch."""
    if len(candidates) < COMB_TICKS:
        return [], 0.0
    centres = np.array([candidate[0] for candidate in candidates])
    heights = np.array([candidate[-1] for candidate in candidates], float)
    apart = np.abs(centres[:, None] - centres[None, :])
    others = ~np.eye(len(candidates), dtype=bool)
    best, best_pitch = np.zeros(len(candidates), bool), 0.0
    for pitch in sorted(set(apart[np.triu_indices(len(candidates), 1)].tolist())):
        if pitch < 4 * widest:
            continue
        linked = _one_pitch_apart(apart, pitch) & others
        typical = float(np.median(heights[linked.any(axis=1)]))
        alike = (np.abs(heights - typical) <= TICK_HEIGHT_TOLERANCE * typical + 2) & (heights >= MIN_TICK_SHARE * pitch)
        alike = alike[:, None] & alike[None, :]
        grids = _reachable(np.array([[_whole_pitches_apart(float(d), pitch) for d in row] for row in apart]) & alike)
        paired = (linked & alike).any(axis=1)
        kept = np.array([grid.sum() >= COMB_TICKS and paired[grid].any() and _evenly_spaced(centres[grid], pitch)
                         for grid in grids])
        if kept.sum() > best.sum():
            best, best_pitch = kept, pitch
    return [candidate for candidate, keep in zip(candidates, best) if keep], best_pitch


def _evenly_spaced(centres: np.ndarray, pitch: float) -> bool:
    """Whether lines at `centres` stand a whole number of pitches from their neighbours: not two lines
    close together, both a pitch from a third."""
    ordered = np.sort(centres)
    return all(_whole_pitches_apart(float(gap), pitch) for gap in np.diff(ordered))


def _in_pen_colour(bgr: np.ndarray, handwriting: np.ndarray, guides: np.ndarray) -> np.ndarray:
    """255 on the pixels of the printed lines that have the handwriting's colour rather than the lines'
    (a blue stroke lying along a black box edge); nothing where the two colours are alike."""
    kept = np.zeros_like(guides)
    on_line, on_pen = guides > 0, handwriting > 0
    if not on_line.any() or not on_pen.any():
        return kept
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)  # the whole photo: faster than gathering pixels first
    line_a, line_b = lab[:, :, 1][on_line], lab[:, :, 2][on_line]
    line_colour = np.array([uint8_median(line_a), uint8_median(line_b)])
    pen_colour = np.array([uint8_median(lab[:, :, 1][on_pen]), uint8_median(lab[:, :, 2][on_pen])])
    axis = pen_colour - line_colour
    separation = float(np.hypot(*axis))
    if separation < MIN_COLOUR_SEPARATION:
        return kept
    # How far along the way from the line's colour to the pen's each line pixel lies: past halfway is pen.
    towards_pen = ((line_a - line_colour[0]) * axis[0] + (line_b - line_colour[1]) * axis[1]) / separation ** 2
    kept[on_line] = np.where(towards_pen > 0.5, 255, 0).astype(np.uint8)
    return kept


def _printed_rules(components: _Components, min_length: int, thickest: float) -> tuple:
    """The printed rules in the mask of `components`: at least min_length long, at most `thickest` thick.
    Returns the wide components they were looked for in, the mask of the rules, of those not at the
    photo's top or bottom, the widest rule's band, and each rule's segment and thickness."""
    search = components.mask
    height = search.shape[0]
    rules = np.zeros_like(search)  # horizontal lines
    inner_rules = np.zeros_like(search)  # those not at the top or bottom of the photo
    # A printed rule or box is one connected component at least min_length wide. Labelling is linear
    # and cheap; Hough is not (it was a fifth of the server's time): most fields have no printed lines
    # and skip it, the others give Hough only the wide components' pixels.
    # A component that wide has ink in every column it spans; handwriting alone leaves gaps between
    # digits. Finding no run of inked columns that long is exact, and cheaper than the labelling.
    # numpy's any: cv2.reduce took 60-90 us here, on every field.
    if _longest_run(search.any(axis=0)) < min_length:
        return search, rules, inner_rules, 0, []
    count, labels, boxes = components.labelled
    wide = np.flatnonzero(boxes[1:, cv2.CC_STAT_WIDTH] >= min_length) + 1
    if wide.size == 0:
        return search, rules, inner_rules, 0, []
    keep = np.zeros(count, np.uint8)
    keep[wide] = 255
    search = keep[labels]
    widest = 0
    # The probabilistic Hough transform sometimes walks off a thin, tilted rule and discards its pixels,
    # losing the whole rule; a second look at what the first one left finds it (2 of 300 boxed ZIP+4
    # fields kept a rule before, 1 after).
    # The second look also takes shorter pieces that lie on the line of a rule already found: Hough
    # gives up on a thin, tilted rule after a wobble, and the piece left behind was read as a digit's bar.
    remaining, found_rules = search, []
    columns = _ColumnRuns(search)
    for shortest in (min_length, max(10, min_length // 3)):
        found = []
        for segment in _rules(remaining, shortest):
            runs = _vertical_runs(columns, segment)
            thickness = _thickness(runs)
            if thickness > thickest:
                continue
            length = np.hypot(segment[2] - segment[0], segment[3] - segment[1])
            if length < min_length and not any(_on_line(segment, rule, rule_thickness / 2 + 1)
                                               for rule, rule_thickness in found_rules):
                continue
            cv2.line(rules, segment[:2], segment[2:], 255, thickness + 2)
            if not _at_photo_edge(runs, height):
                cv2.line(inner_rules, segment[:2], segment[2:], 255, thickness + 2)
            widest = max(widest, thickness + 2)
            found.append((segment, thickness))
        if not found:
            break
        found_rules += found
        remaining = cv2.bitwise_and(search, cv2.bitwise_not(rules))
    return search, rules, inner_rules, widest, found_rules


def remove_guides(mask: np.ndarray, faint_mask: np.ndarray | None = None,
                  bgr: np.ndarray | None = None, enlargement: float = 1.0) -> tuple[np.ndarray, Guides]:
    """Returns the mask without printed lines, and what was removed. Lines are looked for in
    `faint_mask` (ink at a lower threshold, where faint printed lines are whole) when given. With the
    photo (`bgr`, same size), line pixels in the handwriting's colour are kept as strokes.
    `enlargement`: how much a small photo was enlarged before, which thickens its printed lines."""
    search = mask if faint_mask is None else cv2.bitwise_or(mask, faint_mask)
    height, width = mask.shape
    edges = np.zeros_like(mask)  # vertical box edges
    # A quarter of the photo: the four boxes of a ZIP+4's second group can be less than a third of it.
    # And longer than the photo is high: on a short field the bars of two neighbouring 7s, in line,
    # were as long as a quarter of it.
    min_length = max(20, width // 4, int(1.2 * height))
    # Too thick to be a printed rule: a stroke or a blot. A small, blurred photo enlarged to the working
    # height has rules 5 of its own pixels thick, 11 to 13 enlarged.
    thickest = max(6, height // 12, MAX_RULE_THICKNESS * enlargement)
    components = _Components(search)
    looked_in, rules, inner_rules, widest, found_rules = _printed_rules(components, min_length, thickest)
    if not found_rules:
        # Perhaps a dashed rule: no dash is as long as a rule is, nor are they one component.
        bridged = _bridged_dashes(components, min_length, thickest)
        if bridged.any():
            looked_in, rules, inner_rules, widest, found_rules = _printed_rules(
                _Components(cv2.bitwise_or(search, bridged)), min_length, thickest)
    search = looked_in
    spans = len(found_rules)
    vertical, edge_reach = 0, 0
    if spans:
        # The sheet's edge in a corner of a rotated photo can pass for a rule above the top one or below
        # the bottom one: it made the boxes look taller than their edges, and no edge was found. Rules
        # at the photo's top or bottom count only when the others do not make a box (a field cropped
        # to its printed box).
        box_height = (_box_height(inner_rules, widest) or _box_height(rules, widest)) if spans >= 2 else None

        def find(upright_search, upright_rules):
            # No box edge, or no box: one line of rules (an underline, a comb's rule with ticks on it), or
            # a comb's rule and another line (the sheet's edge, a stroke) that passed for the boxes' top.
            found = (0, 0, 0) if box_height is None else _upright_box_edges(upright_search, upright_rules, box_height, widest)
            return found if found[1] else _upright_ticks(upright_search, upright_rules, widest)
        # On a rotated photo the box edges lean as far from upright as the rules from level: the search
        # runs on a copy sheared so that they stand upright again.
        shear = _uprighting_shear([segment for segment, _ in found_rules], height, width)
        if shear is None:
            edges, vertical, edge_reach = find(search, rules)
        else:
            matrix, sheared_width = shear
            upright_search, upright_rules = (cv2.warpAffine(image, matrix, (sheared_width, height), flags=cv2.INTER_NEAREST)
                                             for image in (search, rules))
            upright_edges, vertical, edge_reach = find(upright_search, upright_rules)
            edges = cv2.warpAffine(upright_edges, matrix, (width, height), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    # The box edges' own ink, faint included, does not thicken the rules where the two meet.
    strokes_and_rules = cv2.bitwise_and(search, cv2.bitwise_not(edges))
    rules, edges = cv2.bitwise_and(rules, mask), cv2.bitwise_and(edges, mask)
    guides = cv2.bitwise_or(rules, edges)
    if not guides.any():
        return mask, Guides(guides, 0, 0)
    cleaned = cv2.bitwise_and(mask, cv2.bitwise_not(guides))
    # A stroke that crosses a line has ink on both sides of it: keep the line's pixels there. Ink on one
    # side only is a digit written close to (or touching) the line, and the line goes. Each side looks
    # a row either way, which follows slanted strokes. The reach is the width of what was erased: an edge
    # is one line (a digit in the next box is too far away to count); a rule is often found as two or
    # three overlapping Hough segments, so its band is up to twice as wide.
    crossings = cv2.bitwise_or(
        cv2.bitwise_and(rules, _ink_on_both_sides(cleaned, 2 * widest, vertical=True)),
        cv2.bitwise_and(edges, _ink_on_both_sides(cleaned, edge_reach + 1, vertical=False)),
    )
    if found_rules:
        along = _strokes_along_rules(strokes_and_rules, found_rules, _stroke_width(cleaned))
        crossings = cv2.bitwise_or(crossings, cv2.bitwise_and(rules, along))
    if bgr is not None:
        crossings = cv2.bitwise_or(crossings, _in_pen_colour(bgr, cleaned, guides))
    return cv2.bitwise_or(cleaned, crossings), Guides(cv2.bitwise_and(guides, cv2.bitwise_not(crossings)), spans, vertical)
