"""Choosing a field's reading among the proposals: the expected length first, then the classifier's
confidence times each proposal's prior."""
import itertools

import numpy as np
import pytest

from service.reading import best_reading, reading_bounds
from service.segment import Candidate, Piece


def piece(x: int) -> Piece:
    return Piece(x, 0, np.ones((10, 6), bool))


def single(index: int) -> Candidate:
    return Candidate(index, index + 1, [piece(10 * index)])


def test_the_most_confident_reading_of_the_expected_length_wins():
    # Three units; the last two are the halves of one digit (joined: confident), or two digits.
    candidates = [single(0), single(1), single(2), Candidate(1, 3, [piece(10)])]
    assert best_reading(3, 2, candidates, [0.99, 0.6, 0.7, 0.98]) == [0, 3]
    # With three digits expected, only the reading of every unit as a digit has the length.
    assert best_reading(3, 3, candidates, [0.99, 0.6, 0.7, 0.98]) == [0, 1, 2]


def test_a_blob_is_cut_when_the_length_needs_it():
    cut = Candidate(1, 2, [piece(10), piece(13)])
    candidates = [single(0), single(1), cut, single(2)]
    assert best_reading(3, 4, candidates, [0.99, 0.99, 0.5, 0.99]) == [0, 2, 3]
    assert best_reading(3, 3, candidates, [0.99, 0.99, 0.5, 0.99]) == [0, 1, 3]


def test_among_readings_of_the_same_length_the_higher_score_wins():
    # Units 0 and 1 joined plus unit 2 cut, or every unit on its own: both read three digits.
    candidates = [single(0), single(1), single(2), Candidate(0, 2, [piece(0)]),
                  Candidate(2, 3, [piece(20), piece(24)])]
    assert best_reading(3, 3, candidates, [0.9, 0.5, 0.9, 0.95, 0.9]) == [3, 4]
    assert best_reading(3, 3, candidates, [0.9, 0.9, 0.9, 0.95, 0.5]) == [0, 1, 2]


def test_an_unreachable_length_gives_the_nearest_one():
    candidates = [single(0), single(1)]
    assert best_reading(2, 5, candidates, [0.9, 0.9]) == [0, 1]
    assert best_reading(0, 5, [], []) == []


def _every_reading(unit_count: int, length: int, candidates: list[Candidate]) -> list[tuple[int, ...]]:
    """Brute force: every chain of candidates that reads all units, left to right, with `length` digits."""
    readings = []
    for size in range(1, unit_count + 1):
        for chain in itertools.permutations(range(len(candidates)), size):
            taken = [candidates[index] for index in chain]
            if taken[0].start == 0 and taken[-1].end == unit_count and \
                    all(a.end == b.start for a, b in zip(taken, taken[1:])) and \
                    sum(len(c.digits) for c in taken) == length:
                readings.append(chain)
    return readings


@pytest.mark.parametrize("length", [2, 3, 4, 5, 6])
def test_a_candidates_bound_is_the_best_score_of_a_reading_of_the_length_that_takes_it(length):
    # Units 0-2 with joins and a cut, read with 2 to 6 digits; 6 is out of reach (bounds all 0).
    candidates = [single(0), single(1), single(2), Candidate(0, 2, [piece(0)]), Candidate(1, 3, [piece(10)]),
                  Candidate(2, 3, [piece(20), piece(24)]), Candidate(0, 1, [piece(0), piece(3)])]
    scores = [0.9, 0.5, 0.8, 0.7, 0.95, 0.45, 0.3]
    readings = _every_reading(3, length, candidates)
    expected = [max((float(np.prod([scores[i] for i in chain])) for chain in readings if index in chain), default=0.0)
                for index in range(len(candidates))]
    assert reading_bounds(3, length, candidates, scores) == pytest.approx(expected, abs=1e-12)
    assert (max(expected) == 0.0) == (length == 6)
    if readings:  # the best reading's score is the largest bound
        best = best_reading(3, length, candidates, scores)
        assert float(np.prod([scores[i] for i in best])) == pytest.approx(max(expected))
