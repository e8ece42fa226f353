"""The digit classifiers. Every model takes raw pixels, float [N, 28, 28] in 0..255 (white digit on black,
as MNIST), and returns softmax probabilities [N, 10]; scaling to [0, 1] is the model's first layer, so
the exported graph and the .keras file both take raw pixels and no client has to know the scaling.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

from training.data import IMAGE_SHAPE, NUM_CLASSES
from training.options import ARCHITECTURE_NAMES


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    build: Callable[[], keras.Model]
    default_epochs: int
    augment: bool  # train on shifted/rotated/scaled/restroked digits


def _pixels_in(name: str) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Input of raw pixels and the [0, 1] image with a channel axis that conv layers need."""
    pixels = keras.Input(shape=IMAGE_SHAPE, name="images")
    scaled = layers.Rescaling(1.0 / 255.0, name="scale_to_unit")(pixels)
    return pixels, layers.Reshape((*IMAGE_SHAPE, 1), name=f"{name}_channel")(scaled)


def build_fc() -> keras.Model:
    """Fully connected network on the unrolled 784-pixel vector: 784 -> 128 -> 10."""
    pixels = keras.Input(shape=IMAGE_SHAPE, name="images")
    x = layers.Rescaling(1.0 / 255.0, name="scale_to_unit")(pixels)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="fc")


def build_base() -> keras.Model:
    """The exercise's starting CNN: Conv2D(32, 3x3) -> MaxPool2D -> Flatten -> Dense(10) softmax."""
    pixels, x = _pixels_in("base")
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPool2D()(x)
    x = layers.Flatten()(x)
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="base")


def build_exercise() -> keras.Model:
    """The exercise's network: conv, pool, conv with 64 filters, pool, activation, dense."""
    pixels, x = _pixels_in("exercise")
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPool2D()(x)
    x = layers.Conv2D(64, 3)(x)
    x = layers.MaxPool2D()(x)
    x = layers.Activation("relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="exercise")


def _conv_bn_relu(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)  # BN supplies the bias
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_zipnet() -> keras.Model:
    """The production model: two VGG-style blocks with batch norm and dropout, trained with augmentation
    because the service feeds it digits cut out of photos, not MNIST's own."""
    pixels, x = _pixels_in("zipnet")
    for filters in (32, 64):
        x = _conv_bn_relu(x, filters)
        x = _conv_bn_relu(x, filters)
        x = layers.MaxPool2D()(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.4)(x)
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="zipnet")


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("fc", "fully connected 784-128-10", build_fc, default_epochs=10, augment=False),
        Architecture("base", "Conv2D(32)-MaxPool-Dense(10)", build_base, default_epochs=10, augment=False),
        Architecture(
            "exercise", "Conv32-Pool-Conv64-Pool-ReLU-Dense128-Dense10", build_exercise, default_epochs=10, augment=False
        ),
        Architecture(
            "zipnet", "2x(Conv-BN-ReLU x2, Pool, Dropout), Dense256-BN, augmented", build_zipnet, default_epochs=20, augment=True
        ),
    )
}
assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES, "training.options lists the architectures built here"
