"""Choosing how to read a segmented field. Of all the ways to read its units that service/segment.py
proposes, take the one with the expected number of digits whose digits the classifier is most confident
about. A reading's score is the product of its digits' top probabilities, so the best reading of the
first units with a given number of digits extends the best reading of a shorter prefix: a dynamic
programme over the units, left to right, instead of trying every combination."""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from service.segment import Candidate


def best_reading(unit_count: int, length: int, candidates: Sequence[Candidate],
                 scores: Sequence[float]) -> list[int]:
    """Indices of the candidates that, left to right, read every unit: with `length` digits where any
    reading has that many, else with the number nearest to it. Empty when nothing covers the units."""
    starting_at = defaultdict(list)
    for index, candidate in enumerate(candidates):
        starting_at[candidate.start].append(index)
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
