"""Training-time distortions for zipnet: the ways a digit cut out of a photographed envelope differs from
an MNIST digit after normalisation (off-centre, slightly rotated, a little too big or small, thinner or
thicker pen, a pen that skipped). Runs in the tf.data pipeline, outside the model, so the exported model
holds only standard inference layers.
"""
from __future__ import annotations

import keras
import tensorflow as tf

MAX_ROTATION_DEGREES = 12.0
MAX_SHIFT_FRACTION = 0.08  # about 2 pixels of 28
MAX_ZOOM_FRACTION = 0.12
# Share of digits that lose a thin band of their strokes: an open 4, a 9 whose loop does not close, a 5
# whose top bar floats free. Broken digits were read wrong 3 times as often as whole ones (3.1% against
# 1.0% of the digits of 2,000 realistic fields, model v4; docs/benchmarks.md).
PEN_SKIP_SHARE = 0.1
INK = 40.0  # grey level above which a pixel is stroke, as MNIST's anti-aliased edges go


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


def random_pen_skips(images: tf.Tensor, seed: int) -> tf.Tensor:
    """Per image, with probability PEN_SKIP_SHARE: a band 1 or 2 pixels wide erased across the digit
    (rows, 60%) or down it (columns), somewhere between a fifth and four fifths of its extent, so that a
    stroke is cut but the digit keeps its shape. images: float [B, 28, 28, 1]."""
    size = tf.shape(images)[1]
    batch = tf.shape(images)[0]
    positions = tf.range(size)[tf.newaxis, :]  # [1, 28]
    draws = tf.random.uniform([batch, 4], seed=seed)  # skip?, across?, where, how wide

    def band(profile: tf.Tensor) -> tf.Tensor:
        """[B, 28] bool: the pixels of the band along one axis, within the inked extent `profile`."""
        inked = tf.cast(profile > INK, tf.int32)
        first = tf.argmax(inked, axis=1, output_type=tf.int32)
        last = size - 1 - tf.argmax(tf.reverse(inked, axis=[1]), axis=1, output_type=tf.int32)
        extent = tf.cast(tf.maximum(last - first, 0), tf.float32)
        start = first + tf.cast(extent * (0.2 + 0.6 * draws[:, 2]), tf.int32)
        width = 1 + tf.cast(draws[:, 3] < 0.5, tf.int32)
        return (positions >= start[:, tf.newaxis]) & (positions < (start + width)[:, tf.newaxis])

    rows = band(tf.reduce_max(images, axis=[2, 3]))[:, :, tf.newaxis]
    columns = band(tf.reduce_max(images, axis=[1, 3]))[:, tf.newaxis, :]
    across = (draws[:, 1] < 0.6)[:, tf.newaxis, tf.newaxis]
    erased = tf.where(across, rows & tf.ones_like(columns), columns & tf.ones_like(rows))
    erased = erased & (draws[:, 0] < PEN_SKIP_SHARE)[:, tf.newaxis, tf.newaxis]
    return tf.where(erased[..., tf.newaxis], tf.zeros_like(images), images)


def augment_batch(augmenter: keras.Sequential, seed: int):
    """A tf.data map function over (pixels [B, 28, 28] float 0..255, labels)."""

    def apply(pixels: tf.Tensor, labels: tf.Tensor):
        images = pixels[..., tf.newaxis]
        images = augmenter(images, training=True)
        images = random_stroke_width(images, seed)
        images = random_pen_skips(images, seed + 3)
        return tf.clip_by_value(images[..., 0], 0.0, 255.0), labels

    return apply
