"""Several trained classifiers as one model that averages their probabilities. Networks trained from
different starting points err on different digits, so the average is right more often and, where the
members disagree, less sure: a confident misread of one member becomes a doubtful read that the
recogniser rejects. One model keeps the serving contract: one SavedModel, one call per field."""
from __future__ import annotations

import keras
from keras import layers

from training.data import IMAGE_SHAPE
from training.export import copy_of

MEMBER_PREFIX = "member_"  # the members' layer names: member_1, member_2, ...


def average_of(members: list[keras.Model]) -> keras.Model:
    """A model with the members' input (raw pixels [N, 28, 28]) whose output is the mean of their
    probabilities. The members are copied (same weights) under the names member_1, member_2, ...: nested
    models must have distinct names, and two members of one architecture share theirs."""
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two members")
    pixels = keras.Input(shape=IMAGE_SHAPE, name="images")
    outputs = []
    for number, member in enumerate(members, start=1):
        outputs.append(copy_of(member, f"{MEMBER_PREFIX}{number}")(pixels))
    return keras.Model(pixels, layers.Average(name="probabilities")(outputs), name="ensemble")


def members_of(ensemble: keras.Model) -> list[keras.Model]:
    """The members of a model made by average_of, in their order (member_1 first)."""
    members = [layer for layer in ensemble.layers if layer.name.startswith(MEMBER_PREFIX)]
    return sorted(members, key=lambda member: int(member.name[len(MEMBER_PREFIX):]))
