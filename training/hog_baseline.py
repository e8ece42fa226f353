"""The hand-engineered baseline for `compare`: OpenCV HOG features and a linear softmax classifier,
what a digit reader looked like before CNNs."""
from __future__ import annotations

import time

import cv2
import keras
import numpy as np

from training.data import Dataset, NUM_CLASSES
from training.train import TrainResult


def hog_descriptor() -> cv2.HOGDescriptor:
    # 28x28 window, 14x14 blocks sliding by 7, 7x7 cells, 9 orientation bins: 3x3 blocks x 4 cells x 9 = 324.
    return cv2.HOGDescriptor((28, 28), (14, 14), (7, 7), (7, 7), 9)


def hog_features(images: np.ndarray) -> np.ndarray:
    descriptor = hog_descriptor()
    return np.stack([descriptor.compute(image).ravel() for image in images]).astype(np.float32)


def train_hog_linear(dataset: Dataset, epochs: int = 10, seed: int = 1, verbose: int = 2) -> TrainResult:
    """Training time includes the feature extraction, which is this model's real cost."""
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    train_features = hog_features(dataset.x_train)
    mean, std = train_features.mean(axis=0), train_features.std(axis=0) + 1e-6
    train_features = (train_features - mean) / std
    features = keras.Input(shape=(train_features.shape[1],), name="hog")
    probabilities = keras.layers.Dense(NUM_CLASSES, activation="softmax")(features)
    model = keras.Model(features, probabilities, name="hog_linear")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_features, dataset.y_train, epochs=epochs, batch_size=128, verbose=verbose)
    training_seconds = time.perf_counter() - started
    test_features = (hog_features(dataset.x_test) - mean) / std
    _, accuracy = model.evaluate(test_features, dataset.y_test, verbose=0)
    return TrainResult(
        model=model,
        arch="hog+linear",
        epochs=epochs,
        parameters=model.count_params(),
        training_seconds=training_seconds,
        test_accuracy=float(accuracy),
    )
