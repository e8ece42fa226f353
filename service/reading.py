"""Choosing how to read a segmented field. Of all the ways to read its units that service/segment.py
proposes, take the one with the expected number of digits whose digits the classifier is most confident
about. A reading's score is the product of its digits' top probabilities, so the best reading of the
first units with a given number of digits extends the best reading of a shorter prefix: a dynamic
programme over the units, left to right, instead of trying every combination. The same programme run
from both ends bounds what a proposal not yet classified can reach (reading_bounds), so the recogniser
classifies only the proposals that can be in the best reading."""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from service.segment import Candidate


def best_reading(unit_count: int, length: int, candidates: Sequence[Candidate],
                 scores: Sequence[float]) -> list[int]:
    """Indices of the candidates that, left to right, read every unit: with `length` digits where any
    reading has that many, else with the number nearest to it. Empty when nothing covers the units."""
    starting_at = _indices_by(candidates, "start")
    # best[units read][digits read] = (score, candidate taken last, digits read before it)
    best: list[dict[int, tuple[float, int, int]]] = [{} for _ in range(unit_count + 1)]
    best[0][0] = (1.0, -1, 0)
    for start in range(unit_count):
        for digits, (score, _, _) in best[start].items():
            for index in starting_at[start]:
                candidate = candidates[index]
                reached = best[candidate.end]
                total = digits + len(candidate.digits)
                extended = score * scores[index]
                if total not in reached or extended > reached[total][0]:
                    reached[total] = (extended, index, digits)
    finished = best[unit_count]
    if not finished or unit_count == 0:
        return []
    digits = min(finished, key=lambda count: (abs(count - length), -finished[count][0]))
    path, units = [], unit_count
    while units > 0:
        _, index, digits = best[units][digits]
        path.append(index)
        units = candidates[index].start
    return path[::-1]


def reading_bounds(unit_count: int, length: int, candidates: Sequence[Candidate],
                   scores: Sequence[float]) -> list[float]:
    """Per candidate, the best score of a reading with `length` digits that takes it (0.0 where none
    does): the best reading of the units before it times its score times the best of the units after.
    With a candidate not yet classified scored by its prior alone, the bound on what it can reach."""
    starting_at, ending_at = _indices_by(candidates, "start"), _indices_by(candidates, "end")
    # before[units read from the left][digits] and after[first unit of the rest][digits]: best scores
    before: list[dict[int, float]] = [{} for _ in range(unit_count + 1)]
    after: list[dict[int, float]] = [{} for _ in range(unit_count + 1)]
    before[0][0], after[unit_count][0] = 1.0, 1.0
    for start in range(unit_count):
        for digits, score in before[start].items():
            for index in starting_at[start]:
                candidate = candidates[index]
                _keep_best(before[candidate.end], digits + len(candidate.digits), score * scores[index], length)
    for end in range(unit_count, 0, -1):
        for digits, score in after[end].items():
            for index in ending_at[end]:
                candidate = candidates[index]
                _keep_best(after[candidate.start], digits + len(candidate.digits), score * scores[index], length)
    bounds = []
    for index, candidate in enumerate(candidates):
        rest = length - len(candidate.digits)
        bounds.append(max((score * scores[index] * after[candidate.end].get(rest - digits, 0.0)
                           for digits, score in before[candidate.start].items()), default=0.0))
    return bounds


def _keep_best(best: dict[int, float], digits: int, score: float, length: int) -> None:
    """best[digits]: the highest score of the readings with that many digits; none over `length`."""
    if digits <= length and score > best.get(digits, 0.0):
        best[digits] = score


def _indices_by(candidates: Sequence[Candidate], edge: str) -> dict[int, list[int]]:
    """The candidates' indices by the unit they start at (edge "start") or end before ("end")."""
    indices = defaultdict(list)
    for index, candidate in enumerate(candidates):
        indices[getattr(candidate, edge)].append(index)
    return indices
