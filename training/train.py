"""Training one architecture on a Dataset: the distribution strategy, the input pipeline, the timed fit,
and the test accuracy that every report quotes."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from training.architectures import ARCHITECTURES
from training.augment import augment_batch, make_augmenter
from training.data import Dataset
from training.options import STRATEGIES



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
) -> TrainResult:
    """Train `arch` from scratch; Adam with a cosine-decaying learning rate, a fixed number of epochs
    (no early stopping, so the test set never selects the model)."""
    spec = ARCHITECTURES[arch]
    epochs = spec.default_epochs if epochs is None else epochs
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, one line per epoch in logs
    keras.utils.set_random_seed(seed)
    train_data = _dataset(dataset.x_train, dataset.y_train, batch_size, seed, seed if spec.augment else None)
    test_data = _dataset(dataset.x_test, dataset.y_test, 512, None, None)
    steps = epochs * int(np.ceil(len(dataset.x_train) / batch_size))

    with choose_strategy(strategy).scope():
        model = spec.build()
        schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=max(steps, 1), alpha=0.01)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
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
