"""The training distortions change digits the way they claim to, and keep them valid images."""
import numpy as np
import tensorflow as tf

from training.augment import augment_batch, make_augmenter, random_stroke_width


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
