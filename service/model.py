"""Where the bundled model lives, and the classifier over it that the pipeline calls.

Two engines run the same SavedModel. On a CPU the model is converted at start (two to three seconds
for the bundled ensemble) to TensorFlow Lite and run by LiteRT (ai-edge-litert) with its XNNPACK
kernels: 2x the digits per second of the SavedModel at the batch sizes the service sees (about 10
digits per image), 6x for one digit, with probabilities within 1e-6 of it wherever every member is
asked (docs/benchmarks.md). On a GPU the SavedModel runs as it is, in TensorFlow. tflite-int8, asked
for by name only, stores the weights as 8-bit integers (dynamic-range quantisation): about 2.8x
tflite's speed where the CPU has AVX-512 (no faster on one without), probabilities within a few
hundredths of the SavedModel's.

An ensemble (the bundled model averages two zipnets) runs on LiteRT as a cascade: its first member reads
every digit, the others only the digits it reads below SECOND_OPINION_BELOW (see there)."""
from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

import numpy as np

from service.config import ENGINES
from training.errors import ModelDirError
from training.export import KERAS_NAME, ExportedModel, load_exported, write_savedmodel

log = logging.getLogger("zipcode.model")
LITE_ENGINES = ("tflite", "tflite-int8")
LITE_THREADS = 2  # XNNPACK threads per interpreter: p50 at concurrency 1 4.3 ms (1 thread: 4.9)
BUNDLED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "zipnet"
# Where an ensemble's first member is at least this sure, its probabilities stand for the average: the
# other members are not run. On the proposals of realistic fields the first member is that sure of 41%
# of the digits, so the model does a fifth less work (1.24x the digits per second at batch 8 and 32).
# On 10,000 realistic fields (bench/accuracy.py's five draws) no code and no accept decision changed,
# and no code's confidence moved by more than 0.023; on 8,000 others one right code went from rejected to
# accepted, on 2,000 hard ones nothing changed. The price: where the first member is sure and the
# second is not, the average's doubt is lost (2 of the 10,000 MNIST test digits read below 0.93 by the
# average; docs/benchmarks.md, throughput section, twenty-first session).
SECOND_OPINION_BELOW = 0.9999


def load_model(path: str | Path | None = None) -> ExportedModel:
    return load_exported(path or BUNDLED_MODEL_DIR)


def inference_device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)  # share the GPU; take memory as needed
    if not gpus:
        return "CPU"
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    return f"GPU:0 ({name})"


def chosen_engine(engine: str, device: str) -> str:
    """auto: TensorFlow Lite on a CPU, the SavedModel in TensorFlow on a GPU (Lite's kernels are CPU ones)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    return "tensorflow" if device.startswith("GPU") else "tflite"


def classifier(model: ExportedModel, engine: str = "auto", device: str | None = None):
    """uint8 [N, 28, 28] -> float32 [N, 10] as NumPy, what service.recognizer.Recognizer calls; its
    .engine says what runs the model. Safe to call from several threads at once. A model that
    TensorFlow Lite cannot convert (a SavedModel from elsewhere, with ops it lacks) runs in TensorFlow
    under auto, and stops the start when tflite was asked for. device: inference_device(), when the
    caller has it already."""
    if engine == "auto" and device is None:
        device = inference_device()
    chosen = chosen_engine(engine, device or "")
    if chosen in LITE_ENGINES:
        try:
            first, *others = [_LiteClassifier(flatbuffer, chosen)
                              for flatbuffer in _to_tflite(model, quantized=chosen == "tflite-int8")]
            return _Cascade(first, others, chosen) if others else first
        except Exception as error:  # the converter raises many types: ConverterError, ValueError, ...
            if engine != "auto":
                raise ModelDirError(f"{model.directory}: cannot run on TensorFlow Lite ({type(error).__name__}: "
                                    f"{error}); start with --engine tensorflow") from error
            log.warning("TensorFlow Lite cannot run %s (%s: %s); running it in TensorFlow",
                        model.directory, type(error).__name__, error)
    return _SavedModelClassifier(model)


class _SavedModelClassifier:
    engine = "tensorflow"

    def __init__(self, model: ExportedModel):
        self.model = model

    def __call__(self, fields: np.ndarray) -> np.ndarray:
        return self.model.predict(fields).numpy()


def _to_tflite(model: ExportedModel, quantized: bool = False) -> list[bytes]:
    """The model as TensorFlow Lite flatbuffers: one per member of an ensemble that has its .keras file
    beside it (the SavedModel alone cannot be taken apart), else one for the whole SavedModel."""
    import tensorflow as tf

    def convert(saved_model: Path) -> bytes:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        if quantized:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # weights int8, activations float
        return converter.convert()

    members = _ensemble_members(model)
    if not members:
        return [convert(model.directory)]
    flatbuffers = []
    # TensorFlow logs each SavedModel written at INFO, naming a folder that is gone a second later.
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    tf_log.setLevel(max(level, logging.WARNING))
    try:
        with tempfile.TemporaryDirectory(prefix="zipcode-member-") as folder:
            for member in members:  # each through a SavedModel of its own, as export writes them
                write_savedmodel(member, Path(folder) / member.name)
                flatbuffers.append(convert(Path(folder) / member.name))
    finally:
        tf_log.setLevel(level)
    return flatbuffers


def _ensemble_members(model: ExportedModel) -> list:
    """The Keras members of an ensemble made by training.ensemble; empty for any other model."""
    if model.card.get("architecture") != "ensemble" or not (model.directory / KERAS_NAME).is_file():
        return []
    import keras

    from training.ensemble import members_of

    return members_of(keras.saving.load_model(model.directory / KERAS_NAME, compile=False))


class _Cascade:
    """An ensemble's average, the later members asked only where the first is unsure (SECOND_OPINION_BELOW)."""

    def __init__(self, first: "_LiteClassifier", others: list["_LiteClassifier"], engine: str):
        self.first, self.others, self.engine = first, others, engine

    def __call__(self, fields: np.ndarray) -> np.ndarray:
        probabilities = self.first(fields)  # a copy of the interpreter's output (get_tensor), safe to change
        unsure = np.flatnonzero(probabilities.max(axis=1) < SECOND_OPINION_BELOW)
        if unsure.size:
            asked = np.ascontiguousarray(np.asarray(fields)[unsure])
            total = probabilities[unsure] + sum(other(asked) for other in self.others)
            probabilities[unsure] = total / (1 + len(self.others))
        return probabilities


class _LiteClassifier:
    """A TensorFlow Lite interpreter per calling thread: an interpreter must not be used by two threads
    at once."""

    def __init__(self, flatbuffer: bytes, engine: str):  # engine: tflite or tflite-int8, as converted
        self.flatbuffer = flatbuffer
        self.engine = engine
        self.local = threading.local()

    def _interpreter(self):
        interpreter = getattr(self.local, "interpreter", None)
        if interpreter is None:
            from ai_edge_litert.interpreter import Interpreter  # tf.lite.Interpreter's maintained successor

            interpreter = Interpreter(model_content=self.flatbuffer, num_threads=LITE_THREADS)
            (source,), (result,) = interpreter.get_input_details(), interpreter.get_output_details()
            self.local.interpreter, self.local.shape = interpreter, None
            self.local.source, self.local.result = source["index"], result["index"]
        return interpreter

    def __call__(self, fields: np.ndarray) -> np.ndarray:
        interpreter = self._interpreter()
        fields = np.ascontiguousarray(fields, dtype=np.uint8)
        local = self.local
        if local.shape != fields.shape:
            interpreter.resize_tensor_input(local.source, fields.shape)
            interpreter.allocate_tensors()
            local.shape = fields.shape
        interpreter.set_tensor(local.source, fields)
        interpreter.invoke()
        return interpreter.get_tensor(local.result)
