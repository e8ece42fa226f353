"""The recognition pipeline: encoded image in, zip code with per-digit confidences and an accept/reject
decision out. Stages: decode -> ink map -> guide removal -> segmentation into units -> proposed readings
(cuts, joins) -> MNIST normalisation -> the classifier, in batches, on the proposed digits that can be in
the best reading (most fields: one call for all) -> the most confident reading of the expected length ->
decision. A field read without confidence goes through the proposals and the classifier once more, with a
wider search."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from service.binarize import dropout_gray, ink_image, red_hides_ink, red_pen_gray
from service.bridge import bridged
from service.decode import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, decode_image
from service.directory import CodeDirectory
from service.guides import remove_guides
from service.normalize import normalize_digit
from service.reading import best_reading, reading_bounds
from service.segment import (LEANING, NARROW, SLANT_PRIOR, WIDE, Candidate, Piece, Search, Segmentation, candidates,
                             segment)

# Confidence of a whole code (the product of its digits' confidences) needed to accept the read. Chosen
# from the error-versus-reject curve of bench/accuracy.py; see docs/benchmarks.md.
DEFAULT_MIN_CONFIDENCE = 0.93
# A narrow-search read of a valid length below this confidence is searched again more widely, and a wide
# one below it once more with leaning cuts. Fixed, not the caller's threshold, so the code read does not
# depend on how strict the caller is. 0.93 and 0.995 read as many of 500 realistic fields right as 0.97
# (470); 0.995 took 8% longer, and on 10,000 with the thin-stroke cuts it fixed none and broke one
# (docs/benchmarks.md, seventeenth round).
WIDE_SEARCH_BELOW = 0.97
# A digit read below this marks the units (and their neighbours) the wide search looks at again. Looking
# everywhere read the same numbers of 500 realistic and 400 hard fields right (473, 332) with 45% more
# proposed digits to classify.
DOUBTFUL = 0.99
# Rounds of model calls one search may take to classify its proposals by their bounds (Recognizer.
# _best_read), at least 2: the first takes the proposals of the highest prior, the last every proposal
# that can still win. Without a limit a field with many units of noise could take a call per proposal;
# realistic fields take one call per search at the median.
MAX_ROUNDS = 4
WORKING_HEIGHT = 240  # larger photos are shrunk to this height first: digits stay well above 28 pixels
# Photos shorter than MIN_WORKING_HEIGHT are enlarged towards it (at most 4x, at most a megapixel): the
# ink map's blur and thresholds and segmentation's pixel sizes work poorly on digits 20-25 pixels high.
# On 4,000 generated realistic fields (1,249 of them under 120 pixels) 20 fields were read right only
# enlarged and 5 only as they were; clean 4 and 4, hard 5 and 10 (not significant); 4-9% of the
# throughput (docs/benchmarks.md). INTER_AREA, as for shrinking: with INTER_LINEAR the realistic count
# was 19 and 10.
MIN_WORKING_HEIGHT = 120
MAX_ENLARGEMENT = 4.0
MAX_ENLARGED_PIXELS = 1_000_000
# A zip-code field is mostly paper: generated fields of every tier have at most 22% ink (median 10%).
# Noise, texture or a dark photo has far more, and a classifier reads confident 8s in it.
MAX_INK_SHARE = 0.35
VALID_LENGTHS = (5, 9)
# An accepted code whose digits read less confidently than this (their product) has them read turned
# upside down too, to tell an upside-down photo (Recognizer._reads_turned_over_too). Of 300 realistic
# fields photographed upside down, the 20 accepted read at 0.938 to 0.9993; 57% of upright accepted
# fields read below 0.9995. Checking every accepted field, all its digits at once, cost 2 ms a field, a
# quarter of the pipeline; with this gate and the early stop of _turned_over_reads_as_well, 0.47 ms.
TURNED_OVER_BELOW = 0.9995
TURNS_INTO_A_DIGIT = (0, 1, 6, 8, 9)  # turned upside down these read as 0, 1, 9, 8 and 6
# A line of writing skewed more than this (rows per column: tan 5 degrees) is levelled before it is
# segmented. The realistic tier is photographed up to 3 degrees off, and the line through its digits'
# centres is estimated within 5 (docs/benchmarks.md).
LEVEL_FROM_SLOPE = 0.0875

Classifier = Callable[[np.ndarray], np.ndarray]  # uint8 [N, 28, 28] -> float probabilities [N, 10]


class RejectReason:
    NO_DIGITS = "no_digits"
    UNEXPECTED_LENGTH = "unexpected_length"
    LOW_CONFIDENCE = "low_confidence"
    CUT_OFF = "cut_off"
    ORIENTATION = "orientation"
    UNKNOWN_CODE = "unknown_code"


@dataclass
class DigitRead:
    value: int
    confidence: float
    alternatives: list[tuple[int, float]]  # top 3 (digit, probability), best first
    box: tuple[int, int, int, int]  # x, y, width, height in the input image's pixels
    crop: np.ndarray  # the 28x28 field the classifier saw


@dataclass
class Recognition:
    zip_code: str
    digits: list[DigitRead]
    confidence: float
    accepted: bool
    reject_reason: str | None
    stage_seconds: dict[str, float] = field(default_factory=dict)  # decode, segment, classify
    # With UNKNOWN_CODE: the directory's code the digits' alternatives make most probable, for the person
    # who sorts the item (the ZIP+4 part as read), and its probability; "" and 0 otherwise.
    suggested_zip_code: str = ""
    suggested_confidence: float = 0.0


def format_code(values: list[int]) -> str:
    """Nine digits are ZIP+4 and always shown with the hyphen, whether or not the writer drew one."""
    text = "".join(str(v) for v in values)
    if len(values) == 9:
        return f"{text[:5]}-{text[5:]}"
    return text


def _digit_field(ink: np.ndarray, piece: Piece) -> np.ndarray:
    region = ink[piece.y: piece.y + piece.height, piece.x: piece.x + piece.width]
    # Keep the anti-aliased rim of the stroke: grow the piece's own pixels by one before masking.
    keep = cv2.dilate(piece.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    digit = np.where(keep, region, 0)
    if cv2.connectedComponents(piece.mask.astype(np.uint8), connectivity=8)[0] > 2:  # in pieces: a broken digit
        digit = bridged(digit)
    return normalize_digit(digit)


def _pieces_of(proposals: list[Candidate]) -> list[Piece]:
    """Every proposed digit, in proposal order: the rows of the fields and probabilities."""
    return [piece for proposal in proposals for piece in proposal.digits]


@dataclass
class _Frame:
    """Where the pieces' pixels lie in the input image: the working image is the input scaled, and a
    skewed line of writing is then levelled by a rotation."""
    scale: float  # input pixels to working pixels
    to_working: np.ndarray | None = None  # 2x3 affine: levelled pixels to working ones; None if not levelled

    def box_in_input(self, piece: Piece) -> tuple[int, int, int, int]:
        if self.to_working is None:
            return tuple(int(round(v / self.scale)) for v in piece.box)
        x, y, width, height = piece.box
        corners = np.array([[x, y], [x + width, y], [x, y + height], [x + width, y + height]], np.float64)
        placed = (corners @ self.to_working[:, :2].T + self.to_working[:, 2]) / self.scale
        (left, top), (right, bottom) = placed.min(axis=0), placed.max(axis=0)
        return int(round(left)), int(round(top)), int(round(right - left)), int(round(bottom - top))


def _touches_side(digits: list[DigitRead], height: int, width: int) -> bool:
    """Whether a digit reaches the image's left or right edge: the photo may cut through it there, and
    the part of a digit left in the photo reads as another digit (a 4's right half as a 1, a 6's as a
    0), confidently. A top or bottom edge is not counted: a digit clipped there keeps its shape, and
    the hard tier's tilted photos clip many that still read right (docs/benchmarks.md). Within one
    working pixel (the ink map can lose the cut column of a stroke), and half more for the rounding
    of boxes mapped back."""
    margin = 1.5 / min(_working_scale(height, width), 1.0)
    return any(digit.box[0] < margin or digit.box[0] + digit.box[2] > width - margin for digit in digits)


def _suggest_a_known_code(recognition: Recognition, directory: CodeDirectory) -> None:
    """Fills in the read's suggested code: each of its first five digits one of its top 3."""
    found = directory.most_probable([digit.alternatives for digit in recognition.digits])
    if found:
        code, probability = found
        plus_four = [digit.value for digit in recognition.digits[5:]]
        recognition.suggested_zip_code = format_code([int(c) for c in code] + plus_four)
        recognition.suggested_confidence = probability


def _turned_over_reads_as_well(digits: list[DigitRead], standing: float, classify: Classifier) -> tuple[bool, float]:
    """Whether the digits' fields turned upside down read at least as confidently as they stand (the
    product of their top probabilities against `standing`; a turned MNIST field is near enough the
    field of the turned digit to tell which way up the writing is), and the seconds the model took.
    The digit whose value is no digit turned over (a 7, unlike an 8 or a 6) goes first, alone: an upright
    field's usually reads below `standing` turned over, and the product can only fall with the rest."""
    order = sorted(range(len(digits)), key=lambda index: digits[index].value in TURNS_INTO_A_DIGIT)
    product, seconds = 1.0, 0.0
    for group in (order[:1], order[1:]):
        if not group:
            break
        turned = np.ascontiguousarray(np.stack([digits[index].crop for index in group])[:, ::-1, ::-1])
        started = time.perf_counter()
        product *= float(np.prod(np.asarray(classify(turned), dtype=np.float64).max(axis=1)))
        seconds += time.perf_counter() - started
        if product < standing:
            return False, seconds
    return True, seconds


def _levelled(image: np.ndarray, slope: float, interpolation: int) -> tuple[np.ndarray, np.ndarray]:
    """The image rotated so that a line of that slope is level, on a canvas large enough to hold all of
    it (the border is 0, no ink), and the 2x3 affine from its pixels back to the image's."""
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), float(np.degrees(np.arctan(slope))), 1.0)
    cosine, sine = abs(turn[0, 0]), abs(turn[0, 1])
    new_width, new_height = int(np.ceil(width * cosine + height * sine)), int(np.ceil(height * cosine + width * sine))
    turn[:, 2] += (new_width - width) / 2, (new_height - height) / 2
    rotated = cv2.warpAffine(image, turn, (new_width, new_height), flags=interpolation, borderValue=0)
    return rotated, cv2.invertAffineTransform(turn)


def _working_scale(height: int, width: int) -> float:
    """Input pixels to working pixels: shrink a tall photo to WORKING_HEIGHT, enlarge a short one
    towards MIN_WORKING_HEIGHT within the limits, leave the rest."""
    if height > WORKING_HEIGHT:
        return WORKING_HEIGHT / height
    enlargement = min(MIN_WORKING_HEIGHT / height, MAX_ENLARGEMENT, (MAX_ENLARGED_PIXELS / (height * width)) ** 0.5)
    return max(1.0, enlargement)


def _segmented(bgr: np.ndarray, expected_length: int = 0,
               gray_of: Callable[[np.ndarray], np.ndarray] = dropout_gray) -> tuple[np.ndarray, Segmentation, _Frame]:
    """The field's ink map (at the working resolution, levelled when the writing is skewed), its units,
    and where their pixels lie in the input."""
    scale = _working_scale(*bgr.shape[:2])
    working = bgr if scale == 1.0 else cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    inked = ink_image(working, gray_of)
    mask, _ = remove_guides(inked.mask, inked.faint_mask, working, enlargement=scale)
    if np.count_nonzero(mask) > MAX_INK_SHARE * mask.size:
        return inked.ink, Segmentation(), _Frame(scale)
    segmentation = segment(mask, expected_length)
    if abs(segmentation.slope) < LEVEL_FROM_SLOPE:
        return inked.ink, segmentation, _Frame(scale)
    # The writing band of a skewed line misses its first and last digits (a tilted ZIP+4 read as the
    # five in the middle, confidently), and the digits lean: segment the levelled ink map instead.
    level_mask, to_working = _levelled(mask, segmentation.slope, cv2.INTER_NEAREST)
    level_ink, _ = _levelled(inked.ink, segmentation.slope, cv2.INTER_LINEAR)
    return level_ink, segment(level_mask, expected_length), _Frame(scale, to_working)


class _ClassifiedPieces:
    """The 28x28 fields and probabilities of one field's pieces. Each distinct piece is normalised and
    classified once: the wide search proposes the narrow one's pieces again, and cuttings share parts.
    Every call classifies its new pieces in one model call."""

    def __init__(self, ink: np.ndarray, classify: Classifier):
        self.ink, self.model = ink, classify
        self.known: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.model_seconds = 0.0

    def classify(self, pieces: list[Piece]) -> tuple[np.ndarray, np.ndarray]:
        """pieces: at least one."""
        keys = [(piece.x, piece.y, piece.mask.shape, piece.mask.tobytes()) for piece in pieces]
        new = {key: piece for key, piece in zip(keys, pieces) if key not in self.known}
        fields = [_digit_field(self.ink, piece) for piece in new.values()]
        if fields:
            started = time.perf_counter()
            rows = np.asarray(self.model(np.stack(fields)), dtype=np.float64)
            self.model_seconds += time.perf_counter() - started
            self.known.update(zip(new, zip(fields, rows)))
        return np.stack([self.known[key][0] for key in keys]), np.stack([self.known[key][1] for key in keys])


def threshold_decides(recognition: Recognition) -> bool:
    """Whether the confidence threshold alone decides the reading: its length is valid, and nothing else
    (a cut, the way up, a code not in the directory) rejects it, so a stricter or laxer threshold would
    change its fate."""
    return recognition.reject_reason in (None, RejectReason.LOW_CONFIDENCE)


def _rank(recognition: Recognition) -> tuple[bool, bool, float]:
    """Orders two readings of one field: accepted first, then a valid length, then confidence."""
    return recognition.accepted, threshold_decides(recognition), recognition.confidence


def _units_in_doubt(chosen: list[Candidate], digits: list[DigitRead], unit_count: int) -> set[int]:
    """The units under a digit read below DOUBTFUL, and their neighbours: where a better cut or join may be."""
    doubtful, digit_index = set(), 0
    for proposal in chosen:
        confidences = [digit.confidence for digit in digits[digit_index: digit_index + len(proposal.digits)]]
        digit_index += len(proposal.digits)
        if min(confidences) < DOUBTFUL:
            doubtful.update(range(max(0, proposal.start - 1), min(unit_count, proposal.end + 1)))
    return doubtful


def _scores(proposals: list[Candidate], probabilities: np.ndarray) -> list[float]:
    """Each proposal's prior times its digits' top probabilities. probabilities: one row per proposed
    digit, in proposal order."""
    tops, scores, row = probabilities.max(axis=1), [], 0
    for proposal in proposals:
        scores.append(proposal.prior * float(np.prod(tops[row: row + len(proposal.digits)])))
        row += len(proposal.digits)
    return scores


def _can_win(bound: float, floor: float) -> bool:
    """Whether a proposal whose readings score at most `bound` (its prior, or reading_bounds) can be in a
    reading that scores at least `floor`, a score already reached: if not, it is not worth classifying.
    Exact: the best reading is the same. The margin: reading_bounds multiplies the same scores in
    another order than best_reading, which can differ in the last bits, and a tie must stay a tie."""
    return bound * (1 + 1e-9) >= floor


class Recognizer:
    def __init__(self, classify: Classifier, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int = DEFAULT_MAX_SIDE, wide: Search = WIDE,
                 directory: CodeDirectory | None = None):
        """wide: the second, wider search (the field-digit harvest widens it further). directory: the codes
        that exist (service/directory.py); a read of another code is rejected as UNKNOWN_CODE."""
        self.classify = classify
        self.directory = directory
        self.wide = wide
        self.min_confidence = min_confidence
        self.max_pixels = max_pixels
        self.max_side = max_side

    def recognize(self, data: bytes, expected_length: int = 0, min_confidence: float | None = None,
                  classify: Classifier | None = None) -> Recognition:
        """classify: this call's own classifier (the server passes one that knows when the call is
        cancelled); the recogniser's by default."""
        started = time.perf_counter()
        image = decode_image(data, self.max_pixels, self.max_side)
        decoded = time.perf_counter()
        recognition = self.recognize_image(image, expected_length, min_confidence, classify)
        recognition.stage_seconds["decode"] = decoded - started
        return recognition

    def recognize_image(self, bgr: np.ndarray, expected_length: int = 0, min_confidence: float | None = None,
                        classify: Classifier | None = None) -> Recognition:
        threshold = self.min_confidence if not min_confidence else min_confidence
        started = time.perf_counter()
        classify = classify or self.classify
        recognition, model_seconds = self._read_in_either_pen(bgr, classify, expected_length, threshold)
        # These come last, so the searches and the choice of channel are as without them; the code
        # read stays as the suggestion for manual sorting, and the reason tells what to look at (the
        # camera's framing, the way items are fed, a code that does not exist) besides the handwriting.
        if threshold_decides(recognition) and _touches_side(recognition.digits, *bgr.shape[:2]):
            recognition.accepted, recognition.reject_reason = False, RejectReason.CUT_OFF
        # At any confidence, so that no threshold accepts a code that does not exist.
        if threshold_decides(recognition) and not self._exists(recognition.zip_code):
            recognition.accepted, recognition.reject_reason = False, RejectReason.UNKNOWN_CODE
            _suggest_a_known_code(recognition, self.directory)
        if recognition.accepted:
            turned_reads, more_seconds = self._reads_turned_over_too(recognition, bgr, classify, expected_length,
                                                                     threshold)
            model_seconds += more_seconds
            if turned_reads:
                recognition.accepted, recognition.reject_reason = False, RejectReason.ORIENTATION
        # Everything but the model calls counts as segmentation: ink map, lines, cuts, normalisation.
        recognition.stage_seconds.update(segment=time.perf_counter() - started - model_seconds,
                                         classify=model_seconds)
        return recognition

    def _reads_turned_over_too(self, recognition: Recognition, bgr: np.ndarray, classify: Classifier,
                               expected_length: int, threshold: float) -> tuple[bool, float]:
        """Whether the photo turned upside down is accepted as another code too (one of the directory's,
        when there is one), and the seconds the model calls took. A photo taken upside down reads as
        digits (a 6 as a 9, an 8 as an 8): of 300 realistic fields turned over, 20 were accepted, all
        wrong (docs/benchmarks.md). Its digits turned over read at least as confidently as they stand,
        which an upright field's rarely do: only those fields are read turned over."""
        standing = float(np.prod([digit.confidence for digit in recognition.digits]))
        if standing >= TURNED_OVER_BELOW:
            return False, 0.0
        as_well, seconds = _turned_over_reads_as_well(recognition.digits, standing, classify)
        if not as_well:
            return False, seconds
        turned, more_seconds = self._read_in_either_pen(cv2.rotate(bgr, cv2.ROTATE_180), classify, expected_length,
                                                        threshold)
        # A turned code that does not exist is no other way to read the item: mail is addressed to codes that do.
        other = turned.zip_code != recognition.zip_code and self._exists(turned.zip_code)
        return turned.accepted and other, seconds + more_seconds

    def _exists(self, zip_code: str) -> bool:
        """Whether a code may exist: it is in the directory, or no directory was given."""
        return self.directory is None or self.directory.knows(zip_code)

    def _read_in_either_pen(self, bgr: np.ndarray, classify: Classifier, expected_length: int,
                            threshold: float) -> tuple[Recognition, float]:
        """The field read from the red channel, and from the green one where a red or pink pen may have
        dropped out of the red channel with the printed boxes; and the seconds its model calls took."""
        recognition, model_seconds = self._read_in(dropout_gray, bgr, classify, expected_length, threshold)
        # Only a field that was not accepted is looked at for a red pen, so an accepted read never
        # changes; the green channel's reading replaces it where it ranks higher.
        if not recognition.accepted and red_hides_ink(bgr):
            in_green, more_seconds = self._read_in(red_pen_gray, bgr, classify, expected_length, threshold)
            model_seconds += more_seconds
            if _rank(in_green) > _rank(recognition):
                recognition = in_green
        return recognition, model_seconds

    def _read_in(self, gray_of: Callable[[np.ndarray], np.ndarray], bgr: np.ndarray, classify: Classifier,
                 expected_length: int, threshold: float) -> tuple[Recognition, float]:
        """The field read with its ink taken from one channel (binarize.ink_image's gray_of), and the
        seconds its model calls took."""
        ink, segmentation, frame = _segmented(bgr, expected_length, gray_of)
        seen = _ClassifiedPieces(ink, classify)  # each search repeats the one before's pieces
        # Most fields read confidently on the narrow search; only the others pay for the wide one, and
        # only around the digits in doubt; the few still in doubt then for the leaning cuts, around the
        # same digits. Each search's proposals include the one before's, so its best reading never scores
        # below the one before's.
        around: set[int] | None = None
        floor = 0.0
        for number, search in enumerate((NARROW, self.wide, LEANING)):
            if number == 2 and floor >= SLANT_PRIOR:
                break  # no reading with a leaning cut can score as high as the one made
            proposals = candidates(segmentation, search, around)
            digits, chosen, score = self._best_read(seen, segmentation, proposals, frame, floor)
            leaning = any(proposal.leaning for proposal in chosen)
            recognition = self._decide(digits, expected_length, threshold, SLANT_PRIOR if leaning else 1.0)
            valid_length = threshold_decides(recognition)
            if not digits or (valid_length and recognition.confidence >= WIDE_SEARCH_BELOW):
                break
            if number == 0:
                around = _units_in_doubt(chosen, digits, len(segmentation.units)) if valid_length else None
            # Only a reading of the length sought bounds the next search's: another length is not compared.
            floor = score if len(digits) == segmentation.length else 0.0
        return recognition, seen.model_seconds

    def proposals(self, data: bytes) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Every digit the wide search proposes in a field, good cuts and bad, as (box in the input
        image's pixels, 28x28 field): what tools/make_field_digits.py labels to teach the classifier
        what is not a digit."""
        ink, segmentation, frame = _segmented(decode_image(data, self.max_pixels, self.max_side))
        return [(frame.box_in_input(piece), _digit_field(ink, piece))
                for piece in _pieces_of(candidates(segmentation, self.wide))]

    def _best_read(self, seen: _ClassifiedPieces, segmentation: Segmentation, proposals: list[Candidate],
                   frame: _Frame, floor: float) -> tuple[list[DigitRead], list[Candidate], float]:
        """The best reading of the proposals (see _read), without classifying those that cannot be in it.
        First the proposals of the highest prior; then, one model call a round, the unclassified ones
        through which the best reading of the field's length could still pass, each taken as sure of its
        digits (reading_bounds), until none of them can beat the best reading made (_can_win). On 10,000
        realistic fields 30% fewer digits classified, and every answer the same to the last bit as with
        all classified. floor: a score already reached (by the search before, whose proposals this one's
        include)."""
        units, length = len(segmentation.units), segmentation.length
        scores = [proposal.prior for proposal in proposals]  # unclassified: as if sure of their digits
        top = max(scores, default=0.0)
        wanted = {index for index, prior in enumerate(scores) if prior == top and _can_win(prior, floor)}
        if len(wanted) < len(proposals) and max(reading_bounds(units, length, proposals, scores)) == 0.0:
            wanted = set(range(len(proposals)))  # no reading has the length: the nearest one is read, from all
        asked, reading = [], ([], [], 0.0)  # nothing classified: no digits read
        for round_number in range(1, MAX_ROUNDS + 1):
            if not wanted:
                break
            asked = sorted({*asked, *wanted})  # in proposal order, as best_reading breaks ties
            chosen = [proposals[index] for index in asked]
            fields, probabilities = seen.classify(_pieces_of(chosen))
            chosen_scores = _scores(chosen, probabilities)
            reading = self._read(fields, probabilities, chosen_scores, segmentation, chosen, frame)
            if len(reading[0]) == length:
                floor = max(floor, reading[2])
            if len(asked) == len(proposals) or round_number == MAX_ROUNDS:
                break
            for index, score in zip(asked, chosen_scores):
                scores[index] = score
            done = set(asked)
            open_bounds = {index: bound for index, bound in enumerate(reading_bounds(units, length, proposals, scores))
                           if index not in done and bound > 0.0 and _can_win(bound, floor)}
            top = max(open_bounds.values(), default=None)
            if round_number == MAX_ROUNDS - 1:  # the next round is the last
                wanted = set(open_bounds)
            else:
                wanted = {index for index, bound in open_bounds.items() if bound == top}
        return reading

    @staticmethod
    def _read(fields: np.ndarray, probabilities: np.ndarray, scores: list[float], segmentation: Segmentation,
              proposals: list[Candidate], frame: _Frame) -> tuple[list[DigitRead], list[Candidate], float]:
        """The reading of the field the classifier is most confident about (service/reading.py): its
        digits, the proposals they came from, and its score (priors times top probabilities). fields and
        probabilities: one row per proposed digit; scores: one per proposal (_scores)."""
        rows_of, index = [], 0
        for proposal in proposals:
            rows_of.append(range(index, index + len(proposal.digits)))
            index += len(proposal.digits)
        reads, chosen = [], best_reading(len(segmentation.units), segmentation.length, proposals, scores)
        for index in chosen:
            for piece, row_index in zip(proposals[index].digits, rows_of[index]):
                row = probabilities[row_index]
                top = np.argsort(-row)[:3]
                reads.append(DigitRead(int(top[0]), float(row[top[0]]), [(int(d), float(row[d])) for d in top],
                                       frame.box_in_input(piece), fields[row_index]))
        return reads, [proposals[index] for index in chosen], float(np.prod([scores[index] for index in chosen]))

    @staticmethod
    def _decide(digits, expected_length, threshold, prior: float = 1.0) -> Recognition:
        """prior: of a leaning cut the reading takes, which the code's confidence carries."""
        values = [d.value for d in digits]
        confidence = prior * float(np.prod([d.confidence for d in digits])) if digits else 0.0
        allowed = (expected_length,) if expected_length else VALID_LENGTHS
        if not digits:
            reason = RejectReason.NO_DIGITS
        elif len(digits) not in allowed:
            reason = RejectReason.UNEXPECTED_LENGTH
        elif confidence < threshold:
            reason = RejectReason.LOW_CONFIDENCE
        else:
            reason = None
        return Recognition(
            zip_code=format_code(values),
            digits=digits,
            confidence=confidence,
            accepted=reason is None,
            reject_reason=reason,
        )
