"""The networks' shapes and sizes, checked against arithmetic done by hand."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from training.architectures import ARCHITECTURES, build_base, build_exercise
from training.options import ARCHITECTURE_NAMES
from training.train import choose_strategy


def conv_output_size(width: int, kernel: int, padding: int, stride: int) -> int:
    """o = (W - K + 2P) / S + 1, floored as the layers do."""
    return (width - kernel + 2 * padding) // stride + 1


@pytest.mark.parametrize("stride, expected", [(1, 7), (2, 4), (3, 3)])
def test_conv_output_size_formula_on_real_layers(stride, expected):
    assert conv_output_size(9, 3, 0, stride) == expected
    layer = keras.layers.Conv2D(1, 3, strides=stride, padding="valid")
    output = layer(np.zeros((1, 9, 9, 1), np.float32))
    assert tuple(output.shape[1:3]) == (expected, expected)


def test_fc_needs_far_more_weights_than_conv_for_the_same_32_units():
    # A 10x10 image into 32 dense units: every unit sees every pixel, 100 * 32 = 3,200 weights.
    dense = keras.layers.Dense(32)
    dense.build((None, 10 * 10))
    assert int(np.prod(dense.kernel.shape)) == 10 * 10 * 32 == 3200
    # 32 filters of 3x3 on one channel share their weights across the image: 3 * 3 * 32 = 288.
    conv = keras.layers.Conv2D(32, 3)
    conv.build((None, 10, 10, 1))
    assert int(np.prod(conv.kernel.shape)) == 3 * 3 * 1 * 32 == 288


def test_exercise_parameter_count_by_hand():
    conv1 = 3 * 3 * 1 * 32 + 32  # 26x26x32 out
    conv2 = 3 * 3 * 32 * 64 + 64  # after 13x13 pooling: 11x11x64 out, pooled to 5x5x64
    dense = 5 * 5 * 64 * 128 + 128
    output = 128 * 10 + 10
    model = build_exercise()
    assert model.count_params() == conv1 + conv2 + dense + output == 225_034
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 2 and kinds.count("MaxPooling2D") == 2
    assert kinds.index("Activation") > max(i for i, kind in enumerate(kinds) if kind == "MaxPooling2D")


def test_base_is_the_smaller_network():
    by_hand = (3 * 3 * 32 + 32) + (13 * 13 * 32 * 10 + 10)
    assert build_base().count_params() == by_hand == 54_410
    assert build_base().count_params() < build_exercise().count_params()


@pytest.mark.parametrize("name", ARCHITECTURE_NAMES)
def test_every_model_takes_raw_pixels_and_returns_probabilities(name):
    model = ARCHITECTURES[name].build()
    pixels = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28)).astype(np.float32)
    probabilities = np.asarray(model(pixels, training=False))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The scaling to [0, 1] is inside the model: its first layer after the input rescales by 1/255.
    rescaling = next(layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling))
    assert rescaling.scale == pytest.approx(1 / 255)


def test_strategy_on_cpu_is_the_default_one():
    assert tf.config.list_physical_devices("GPU") == []  # CI has no GPU; this test is about that case
    assert not isinstance(choose_strategy("auto"), tf.distribute.MirroredStrategy)
    assert isinstance(choose_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="unknown strategy"):
        choose_strategy("tpu")
