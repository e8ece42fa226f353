"""Training one architecture on a Dataset: the distribution strategy, the input pipeline, the timed fit,
and the test accuracy that every report quotes."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.architectures import ARCHITECTURES
from training.augment import augment_batch, make_augmenter
from training.data import NOT_A_DIGIT, NUM_CLASSES, Dataset, NotDigits
from training.options import STRATEGIES


# Weight of a not-digit's loss against a digit's: flattens the classifier's answer on half digits and
# joined pairs (outlier exposure, Hendrycks et al. 2019) while costing whole digits little. 0.5 measured
# worse (MNIST 99.57% against 99.62%, realistic fields 94.0% against 94.2%; docs/benchmarks.md).
NOT_DIGIT_WEIGHT = 0.25
CONFIDENT = 0.9  # a top probability above this on a not-digit would win the recogniser's choice


@dataclass
class FieldScores:
    digit_accuracy: float  # on held-out digits cut from fields
    not_digit_confident: float | None  # share of held-out not-digits read as some digit above CONFIDENT


def digit_or_not_digit_loss(labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
    """Cross-entropy against the digit for labels 0..9, and against the uniform answer for NOT_A_DIGIT."""
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    is_digit = labels < NOT_A_DIGIT
    targets = tf.where(is_digit[:, tf.newaxis], tf.one_hot(tf.minimum(labels, NUM_CLASSES - 1), NUM_CLASSES),
                       tf.fill(tf.shape(probabilities), 1.0 / NUM_CLASSES))
    weights = tf.where(is_digit, 1.0, NOT_DIGIT_WEIGHT)
    return weights * keras.losses.categorical_crossentropy(targets, probabilities)


@dataclass
class TrainResult:
    model: keras.Model
    arch: str
    epochs: int
    parameters: int
    training_seconds: float
    test_accuracy: float


def choose_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto: MirroredStrategy across GPUs when more than one is visible, otherwise the default
    (single device) strategy, which is what CPU and one-GPU training want."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_physical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _dataset(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle_seed: int | None, augment_seed: int | None):
    data = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.int32)))
    if shuffle_seed is not None:
        data = data.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if augment_seed is not None:
        data = data.map(augment_batch(make_augmenter(augment_seed), augment_seed), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def train(
    arch: str,
    dataset: Dataset,
    epochs: int | None = None,
    batch_size: int = 128,
    seed: int = 1,
    strategy: str = "auto",
    verbose: int | None = None,
    extra: Dataset | None = None,
    not_digits: NotDigits | None = None,
) -> TrainResult:
    """Train `arch` from scratch; Adam with a cosine-decaying learning rate, a fixed number of epochs
    (no early stopping, so the test set never selects the model). extra and not_digits: field digits
    and not-digits to train on from the start, beside `dataset` (see fine_tune)."""
    spec = ARCHITECTURES[arch]
    epochs = spec.default_epochs if epochs is None else epochs
    keras.utils.set_random_seed(seed)
    distribution = choose_strategy(strategy)
    with distribution.scope():
        model = spec.build()
    data = dataset if extra is None else with_fields(dataset, extra, not_digits)
    return _fit(model, arch, data, epochs, batch_size, seed, spec.augment, 1e-3, distribution, verbose)


def with_fields(dataset: Dataset, extra: Dataset, not_digits: NotDigits | None) -> Dataset:
    """dataset's training digits plus extra's and the not-digits (labelled NOT_A_DIGIT); dataset's
    test split, so the reported accuracy stays MNIST's."""
    rejects = not_digits.x_train if not_digits is not None else np.zeros((0, *dataset.x_train.shape[1:]), np.uint8)
    return Dataset(
        x_train=np.concatenate([dataset.x_train, extra.x_train, rejects]),
        y_train=np.concatenate([dataset.y_train, extra.y_train, np.full(len(rejects), NOT_A_DIGIT, np.uint8)]),
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        source=f"{dataset.source} + {extra.source}",
    )


def field_scores(model: keras.Model, extra: Dataset, not_digits: NotDigits | None) -> FieldScores:
    """How a trained model does on the held-out field digits and not-digits."""
    _, extra_accuracy = model.evaluate(_dataset(extra.x_test, extra.y_test, 512, None, None), verbose=0)
    confident = None
    if not_digits is not None and len(not_digits.x_test):
        top = model.predict(not_digits.x_test.astype(np.float32), batch_size=512, verbose=0).max(axis=1)
        confident = float((top > CONFIDENT).mean())
    return FieldScores(float(extra_accuracy), confident)


def fine_tune(
    keras_file: str | Path,
    arch: str,
    dataset: Dataset,
    extra: Dataset,
    epochs: int = 3,
    batch_size: int = 128,
    seed: int = 1,
    learning_rate: float = 2e-4,
    strategy: str = "auto",
    verbose: int | None = None,
    not_digits: NotDigits | None = None,
) -> tuple[TrainResult, FieldScores]:
    """Go on training a trained model (its .keras file) on `dataset` plus `extra` (digits as the pipeline
    cuts them out of photographed fields), and `not_digits` (fields that are no digit, to be unsure of),
    at a lower learning rate. Keeping MNIST in the mix keeps the model as good on clean digits. Returns
    the result (scored on dataset's test split) and the scores on the held-out field digits."""
    keras.utils.set_random_seed(seed)
    mixed = with_fields(dataset, extra, not_digits)
    distribution = choose_strategy(strategy)
    with distribution.scope():  # its variables must live where the strategy trains them
        model = keras.models.load_model(keras_file)
    result = _fit(model, arch, mixed, epochs, batch_size, seed, ARCHITECTURES[arch].augment, learning_rate,
                  distribution, verbose)
    return result, field_scores(model, extra, not_digits)


def _fit(model: keras.Model, arch: str, dataset: Dataset, epochs: int, batch_size: int, seed: int, augment: bool,
         learning_rate: float, distribution: tf.distribute.Strategy, verbose: int | None) -> TrainResult:
    """distribution: the strategy the model was built under; compiling under another one (a second
    MirroredStrategy) fails, so it is chosen once by the caller."""
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, one line per epoch in logs
    train_data = _dataset(dataset.x_train, dataset.y_train, batch_size, seed, seed if augment else None)
    test_data = _dataset(dataset.x_test, dataset.y_test, 512, None, None)
    steps = epochs * int(np.ceil(len(dataset.x_train) / batch_size))
    with distribution.scope():
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1), alpha=0.01)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            # The same as sparse categorical cross-entropy on digits; also takes NOT_A_DIGIT labels.
            loss=digit_or_not_digit_loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    started = time.perf_counter()
    # shuffle=False: the tf.data pipeline already reshuffles every epoch.
    model.fit(train_data, epochs=epochs, validation_data=test_data, verbose=verbose, shuffle=False)
    training_seconds = time.perf_counter() - started
    _, test_accuracy = model.evaluate(test_data, verbose=0)
    return TrainResult(
        model=model,
        arch=arch,
        epochs=epochs,
        parameters=model.count_params(),
        training_seconds=training_seconds,
        test_accuracy=float(test_accuracy),
    )
