"""Export in TF Serving's versioned layout and load it back.

    DIR/<version>/saved_model.pb, variables/   the SavedModel, signature serving_default:
                                               images uint8 [N, 28, 28] -> probabilities float32 [N, 10]
    DIR/<version>/model.keras                  the same model for Keras 3 under any backend (JAX, PyTorch)
    DIR/<version>/model.json                   the model card

TF Serving and tf.saved_model.load ignore the two extra files in the version folder.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from training.data import IMAGE_SHAPE, NUM_CLASSES
from training.errors import ModelDirError

SIGNATURE_NAME = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
CARD_NAME = "model.json"
KERAS_NAME = "model.keras"


def _versions(root: Path) -> list[int]:
    if not root.is_dir():
        return []
    return sorted(int(child.name) for child in root.iterdir() if child.is_dir() and child.name.isdigit())


def copy_of(model: keras.Model, name: str | None = None) -> keras.Model:
    """The same network and weights, uncompiled (no optimizer state), optionally under another name."""
    config = model.get_config() if name is None else {**model.get_config(), "name": name}
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def export_model(model: keras.Model, root: str | Path, card: dict, version: int | None = None) -> Path:
    """Write the SavedModel, .keras file and model card to root/<version>/ and return that folder.
    Without a version, the next one after the highest already there (TF Serving then serves it)."""
    root = Path(root)
    version = version if version is not None else (max(_versions(root), default=0) + 1)
    target = root / str(version)
    if target.exists():
        raise ModelDirError(f"{target}: version {version} already exists; choose another --version or remove it")

    # An uncompiled copy: the optimizer's state (twice the weights, for Adam) is of no use to a server
    # and would triple the files.
    model = copy_of(model)
    write_savedmodel(model, target)
    model.save(target / KERAS_NAME)
    full_card = {
        "version": version,
        **card,
        "signature": {
            "name": SIGNATURE_NAME,
            "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": [None, *IMAGE_SHAPE]},
            "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": [None, NUM_CLASSES]},
        },
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    (target / CARD_NAME).write_text(json.dumps(full_card, indent=2) + "\n")
    return target


def write_savedmodel(model: keras.Model, target: str | Path) -> None:
    """The model as a SavedModel with the serving contract (SIGNATURE_NAME: INPUT_NAME uint8 [N, 28, 28]
    in, OUTPUT_NAME probabilities out) at target."""
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images):
        # Casting here keeps the serving contract uint8 while the model itself computes in float.
        return {OUTPUT_NAME: model(tf.cast(images, tf.float32), training=False)}

    archive.add_endpoint(
        name=SIGNATURE_NAME,
        fn=serve,
        input_signature=[tf.TensorSpec([None, *IMAGE_SHAPE], tf.uint8, name=INPUT_NAME)],
    )
    archive.write_out(str(target), verbose=False)


def resolve_version_dir(path: str | Path) -> Path:
    """A version folder as given, or the highest version under a model root (as TF Serving picks)."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    if not path.is_dir():
        raise ModelDirError(f"{path}: no such model folder")
    versions = _versions(path)
    if not versions:
        raise ModelDirError(f"{path}: no SavedModel here and no numbered version folders under it")
    target = path / str(versions[-1])
    if not (target / "saved_model.pb").is_file():
        raise ModelDirError(f"{target}: version folder has no saved_model.pb")
    return target


@dataclass
class ExportedModel:
    """A loaded SavedModel: call predict() with uint8 [N, 28, 28] pixels."""

    directory: Path
    card: dict
    module: object  # the loaded SavedModel; it owns the variables the signature reads
    signature: object  # its concrete serving function

    def predict(self, images) -> tf.Tensor:
        return self.signature(**{INPUT_NAME: tf.convert_to_tensor(images, tf.uint8)})[OUTPUT_NAME]


def _check_signature(directory: Path, signature) -> None:
    """The serving contract: images uint8 [N, 28, 28] in, probabilities [N, 10] out. A model that does
    not keep it must stop the server at start, not fail on every request."""
    _, inputs = signature.structured_input_signature
    spec = inputs.get(INPUT_NAME)
    if spec is None or spec.dtype != tf.uint8 or spec.shape.as_list()[1:] != list(IMAGE_SHAPE):
        found = {name: f"{s.dtype.name} {s.shape.as_list()}" for name, s in inputs.items()}
        raise ModelDirError(f"{directory}: {SIGNATURE_NAME} must take {INPUT_NAME} uint8 [N, 28, 28]; it takes {found}")
    outputs = signature.structured_outputs
    if OUTPUT_NAME not in outputs or outputs[OUTPUT_NAME].shape.as_list()[1:] != [NUM_CLASSES]:
        found = {name: t.shape.as_list() for name, t in outputs.items()}
        raise ModelDirError(f"{directory}: {SIGNATURE_NAME} must return {OUTPUT_NAME} [N, 10]; it returns {found}")


def keras_file(version_dir: Path, purpose: str) -> Path:
    """The version folder's .keras file, which training needs (a SavedModel alone cannot be trained on);
    a ModelDirError saying what it was wanted for when there is none."""
    path = version_dir / KERAS_NAME
    if not path.is_file():
        raise ModelDirError(f"{version_dir}: no {KERAS_NAME} to {purpose} (export writes one beside the SavedModel)")
    return path


def read_card(version_dir: Path) -> dict:
    """The model card of a version folder; empty when there is none (a SavedModel from elsewhere)."""
    card_path = version_dir / CARD_NAME
    return json.loads(card_path.read_text()) if card_path.is_file() else {}


def load_exported(path: str | Path) -> ExportedModel:
    directory = resolve_version_dir(path)
    try:
        loaded = tf.saved_model.load(str(directory))
    except Exception as error:  # TF raises a variety of types for a damaged SavedModel
        raise ModelDirError(f"{directory}: cannot load SavedModel ({type(error).__name__}: {error})") from error
    if SIGNATURE_NAME not in loaded.signatures:
        raise ModelDirError(f"{directory}: SavedModel has no {SIGNATURE_NAME} signature")
    _check_signature(directory, loaded.signatures[SIGNATURE_NAME])
    card = read_card(directory)
    return ExportedModel(directory=directory, card=card, module=loaded, signature=loaded.signatures[SIGNATURE_NAME])
