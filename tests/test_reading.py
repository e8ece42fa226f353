"""Choosing a field's reading among the proposals: the expected length first, then the classifier's
confidence times each proposal's prior."""
import numpy as np

from service.reading import best_reading
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
