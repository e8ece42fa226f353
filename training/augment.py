"""Training-time distortions for zipnet: the ways a digit cut out of a photographed envelope differs from
an MNIST digit after normalisation (off-centre, slightly rotated, a little too big or small, thinner or
thicker pen). Runs in the tf.data pipeline, outside the model, so the exported model holds only
standard inference layers.
"""
from __future__ import annotations

import keras
import tensorflow as tf

MAX_ROTATION_DEGREES = 12.0
MAX_SHIFT_FRACTION = 0.08  # about 2 pixels of 28
MAX_ZOOM_FRACTION = 0.12


def make_augmenter(seed: int) -> keras.Sequential:
    return keras.Sequential(
        [
            # RandomRotation takes a fraction of a full turn.
            keras.layers.RandomRotation(MAX_ROTATION_DEGREES / 360.0, fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(MAX_SHIFT_FRACTION, MAX_SHIFT_FRACTION, fill_mode="constant", seed=seed + 1),
            keras.layers.RandomZoom(MAX_ZOOM_FRACTION, fill_mode="constant", seed=seed + 2),
        ],
        name="augmenter",
    )


def random_stroke_width(images: tf.Tensor, seed: int) -> tf.Tensor:
    """Per image: a quarter thickened (2x2 grey dilation), a quarter thinned (erosion), half unchanged.
    images: float [B, 28, 28, 1]."""
    thicker = tf.nn.max_pool2d(images, ksize=2, strides=1, padding="SAME")
    thinner = -tf.nn.max_pool2d(-images, ksize=2, strides=1, padding="SAME")
    choice = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], maxval=4, dtype=tf.int32, seed=seed)
    return tf.where(choice == 0, thicker, tf.where(choice == 1, thinner, images))


def augment_batch(augmenter: keras.Sequential, seed: int):
    """A tf.data map function over (pixels [B, 28, 28] float 0..255, labels)."""

    def apply(pixels: tf.Tensor, labels: tf.Tensor):
        images = pixels[..., tf.newaxis]
        images = augmenter(images, training=True)
        images = random_stroke_width(images, seed)
        return tf.clip_by_value(images[..., 0], 0.0, 255.0), labels

    return apply
