"""Closing the gaps of a digit in pieces (service/bridge.py), alone and through the recogniser."""
import cv2
import numpy as np

from service.bridge import _loops, _pieces, bridged


def _ring(gap_rows: int = 0) -> np.ndarray:
    """A 0 as a ring 100 pixels high, 12 thick, cut across its middle by a band gap_rows high."""
    digit = np.zeros((110, 80), np.uint8)
    cv2.ellipse(digit, (40, 55), (30, 48), 0, 0, 360, 255, 12)
    digit[55: 55 + gap_rows] = 0
    return digit


def _count(ink: np.ndarray, loops: bool = False) -> int:
    """Pieces (or loops) of the solid ink: above half of full ink, where a thin gap still shows in 28x28."""
    binary = (ink > 127).astype(np.uint8)
    return _loops(binary) if loops else _pieces(binary)


def test_a_thin_break_across_a_digit_is_closed_and_its_loop_comes_back():
    broken = _ring(gap_rows=5)
    assert _count(broken) == 2 and _count(broken, loops=True) == 0
    closed = bridged(broken)
    assert _count(closed) == 1 and _count(closed, loops=True) == 1
    assert np.count_nonzero(closed > 127) < 1.1 * np.count_nonzero(_ring() > 127)  # the gap filled, not the ring


def test_a_gap_wider_than_the_bridge_is_left_open():
    broken = _ring(gap_rows=20)
    assert np.array_equal(bridged(broken), broken)


def test_a_closing_that_would_fill_a_loop_is_not_taken():
    # A 9 in two pieces: a small loop (a hole about 5 pixels across) over a stem that stops 4 rows short
    # of it. Closing joins the pieces but fills the loop; a 9 without its loop reads as a 7.
    digit = np.zeros((100, 60), np.uint8)
    cv2.circle(digit, (30, 20), 9, 255, 12)
    digit[39:96, 34:42] = 255
    assert _count(digit) == 2 and _count(digit, loops=True) == 1
    assert np.array_equal(bridged(digit), digit)


def test_the_classifier_sees_a_digit_broken_across_with_its_gap_closed(recognizer):
    # A field of five 0s drawn as rings, the third broken across by a band 6% of its height, as a pen
    # skips: segmentation joins its two halves into one digit, and the 28x28 field the classifier sees
    # is one closed ring again, read as a 0.
    paper = np.full((160, 520), 255, np.uint8)
    for index in range(5):
        cv2.ellipse(paper, (60 + index * 100, 80), (28, 48), 0, 0, 360, 30, 11)
    paper[78:85, 215:305] = 255  # the break across the third ring: 7 rows of a ring 109 high
    result = recognizer.recognize(cv2.imencode(".png", paper)[1].tobytes(), expected_length=5)
    assert result.zip_code == "00000"
    third = result.digits[2].crop
    assert _count(third) == 1 and _count(third, loops=True) == 1
