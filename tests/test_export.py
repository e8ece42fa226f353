"""Train on the shipped subset, export in TF Serving's layout, load it back, and evaluate it."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.cli import main
from training.errors import ModelDirError
from training.export import export_model, load_exported, resolve_version_dir
from training.train import train


@pytest.fixture(scope="module")
def trained(subset):
    return train("exercise", subset, epochs=1, verbose=0)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("models") / "exercise"
    return export_model(trained.model, root, {"architecture": "exercise", "test_accuracy": trained.test_accuracy})


def test_one_epoch_on_the_subset_learns_something(trained):
    assert trained.parameters == 225_034
    assert trained.training_seconds > 0
    assert trained.test_accuracy > 0.5  # chance is 0.1


def test_export_layout_is_tf_serving_versioned(exported):
    assert exported.name == "1"
    for name in ("saved_model.pb", "variables", "model.keras", "model.json"):
        assert (exported / name).exists(), name
    card = json.loads((exported / "model.json").read_text())
    assert card["version"] == 1 and card["architecture"] == "exercise"
    assert card["tensorflow_version"] == tf.__version__
    assert card["signature"]["input"] == {"name": "images", "dtype": "uint8", "shape": [None, 28, 28]}


def test_signature_takes_uint8_and_matches_the_keras_model(exported, trained, subset):
    loaded = tf.saved_model.load(str(exported))
    signature = loaded.signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert inputs["images"].dtype == tf.uint8 and inputs["images"].shape.as_list() == [None, 28, 28]
    pixels = subset.x_test[:50]
    served = signature(images=tf.constant(pixels))["probabilities"].numpy()
    direct = np.asarray(trained.model(pixels.astype(np.float32), training=False))
    assert served.dtype == np.float32 and served.shape == (50, 10)
    np.testing.assert_allclose(served, direct, atol=1e-5)


def test_keras_file_reloads_with_the_same_answers(exported, trained, subset):
    reloaded = keras.saving.load_model(exported / "model.keras")
    pixels = subset.x_test[:20].astype(np.float32)
    np.testing.assert_allclose(reloaded(pixels), trained.model(pixels, training=False), atol=1e-5)


def test_next_export_gets_the_next_version_and_root_resolves_to_it(trained, exported):
    second = export_model(trained.model, exported.parent, {"architecture": "exercise"})
    assert second.name == "2"
    assert resolve_version_dir(exported.parent) == second
    with pytest.raises(ModelDirError, match="version 2 already exists"):
        export_model(trained.model, exported.parent, {}, version=2)


def test_bad_model_folders_are_refused(tmp_path):
    with pytest.raises(ModelDirError, match="no such model folder"):
        load_exported(tmp_path / "absent")
    with pytest.raises(ModelDirError, match="no numbered version folders"):
        load_exported(tmp_path)
    (tmp_path / "3").mkdir()
    with pytest.raises(ModelDirError, match="has no saved_model.pb"):
        load_exported(tmp_path)
    (tmp_path / "3" / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ModelDirError, match="cannot load SavedModel"):
        load_exported(tmp_path)


def test_evaluate_command_reports_and_draws(exported, subset_path, capsys):
    assert main(["evaluate", "--model", str(exported), "--data", str(subset_path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "per-class accuracy" in out
    assert len([line for line in out.splitlines() if line.startswith("  ") and line.strip()[0].isdigit()]) == 10
    import cv2

    confusion = cv2.imread(str(exported / "confusion_matrix.png"))
    misclassified = cv2.imread(str(exported / "misclassified.png"))
    assert confusion is not None and confusion.shape[0] > 500
    assert misclassified is not None and misclassified.shape[1] == 840  # 10 columns of 84 pixels


def test_a_model_that_is_no_ensemble_runs_on_lite_as_one_network_with_its_own_probabilities(exported, subset):
    from service.model import classifier

    model = load_exported(exported)
    lite = classifier(model, "tflite")
    assert not hasattr(lite, "first")  # no cascade: there is no second member to ask
    digits = subset.x_test[:40]
    np.testing.assert_allclose(lite(digits), model.predict(digits).numpy(), atol=1e-4)
