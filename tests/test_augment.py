"""The training distortions change digits the way they claim to, and keep them valid images."""
import numpy as np
import tensorflow as tf

import training.augment as augment
from training.augment import augment_batch, make_augmenter, random_pen_skips, random_stroke_width


def test_stroke_width_thickens_some_digits_and_thins_others(subset_arrays):
    digits = tf.constant(subset_arrays["x_test"][:200, :, :, None].astype(np.float32))
    ink_before = tf.reduce_sum(tf.cast(digits > 127, tf.float32), axis=[1, 2, 3]).numpy()
    ink_after = tf.reduce_sum(tf.cast(random_stroke_width(digits, seed=3) > 127, tf.float32), axis=[1, 2, 3]).numpy()
    assert (ink_after > ink_before * 1.2).sum() > 20  # about a quarter thickened
    assert (ink_after < ink_before * 0.8).sum() > 20  # about a quarter thinned
    assert (ink_after == ink_before).sum() > 50  # about half untouched


def test_augmented_batch_keeps_shape_range_labels_and_most_ink(subset_arrays):
    pixels = tf.constant(subset_arrays["x_test"][:64].astype(np.float32))
    labels = tf.constant(subset_arrays["y_test"][:64].astype(np.int32))
    augmented, same_labels = augment_batch(make_augmenter(5), 5)(pixels, labels)
    assert augmented.shape == (64, 28, 28)
    assert float(tf.reduce_min(augmented)) >= 0 and float(tf.reduce_max(augmented)) <= 255
    np.testing.assert_array_equal(same_labels.numpy(), labels.numpy())
    assert not np.allclose(augmented.numpy(), pixels.numpy())
    # Distortions are small: the digit stays in the field, with most of its ink.
    ratio = augmented.numpy().sum(axis=(1, 2)) / pixels.numpy().sum(axis=(1, 2))
    assert np.median(ratio) > 0.7


def test_pen_skips_cut_a_thin_band_through_some_digits_and_leave_the_rest(subset_arrays):
    digits = tf.constant(subset_arrays["x_test"][:400, :, :, None].astype(np.float32))
    skipped = random_pen_skips(digits, seed=4).numpy()
    lost = (digits.numpy() > 0) & (skipped == 0)
    changed = lost.any(axis=(1, 2, 3))
    assert 20 <= changed.sum() <= 70  # about PEN_SKIP_SHARE of 400
    assert np.all(skipped[~changed] == digits.numpy()[~changed])
    for image in np.flatnonzero(changed):
        rows, columns = np.nonzero(lost[image, :, :, 0])
        # One band 1 or 2 pixels wide, across or down the digit, and most of the ink stays.
        assert min(np.ptp(rows), np.ptp(columns)) <= 1
        assert lost[image].sum() < 0.3 * (digits.numpy()[image] > 0).sum()


def test_every_digit_can_get_a_pen_skip_inside_its_inked_extent(subset_arrays, monkeypatch):
    monkeypatch.setattr(augment, "PEN_SKIP_SHARE", 1.0)
    digits = subset_arrays["x_test"][:100, :, :, None].astype(np.float32)
    skipped = random_pen_skips(tf.constant(digits), seed=5).numpy()
    ink_lost = ((digits > augment.INK) & (skipped == 0)).any(axis=(1, 2, 3))
    assert ink_lost.mean() > 0.9  # the band lands on strokes, not on the empty margin
