"""The train and compare commands as a user runs them, on the shipped subset."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.cli import main
from training.export import load_exported

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_field_digits.py"


def test_train_command_reports_and_exports(tmp_path, subset_path, capsys):
    root = tmp_path / "models" / "fc"
    assert main(["train", "--arch", "fc", "--epochs", "1", "--data", str(subset_path), "--export", str(root)]) == 0
    out = capsys.readouterr().out
    assert "parameters       101,770" in out
    assert "training time" in out and "test accuracy" in out
    card = json.loads((root / "1" / "model.json").read_text())
    assert card["architecture"] == "fc" and card["epochs"] == 1 and card["parameters"] == 101_770
    assert card["training_data"]["train_images"] == 2000 and len(card["training_data"]["sha256"]) == 64
    accuracy_line = next(line for line in out.splitlines() if line.startswith("test accuracy"))
    assert accuracy_line.endswith(f"{card['test_accuracy']:.2%}")


def test_compare_prints_one_row_per_model(subset_path, capsys):
    assert main(["compare", "--data", str(subset_path), "--epochs", "1"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    rows = {line.split("|")[1].strip(): line for line in table[1:]}
    assert list(rows) == ["fc", "base", "exercise", "zipnet", "hog+linear"]
    assert "| 225,034 |" in rows["exercise"] and "| 54,410 |" in rows["base"]
    assert "| 3,250 |" in rows["hog+linear"]  # 324 HOG features x 10 classes + 10 biases
    assert rows["base"].rstrip().endswith("| 1.00x |")


@pytest.fixture(scope="module")
def fields(tmp_path_factory, subset_path):
    """Digits cut by the pipeline out of fields written with the subset's digits, as the tool makes them."""
    fields = tmp_path_factory.mktemp("fields") / "fields.npz"
    completed = subprocess.run(
        [sys.executable, str(TOOL), "--data", str(subset_path), "--count", "15",
         "--test-count", "10", "--out", str(fields)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return fields


def test_field_digit_tool_cuts_labelled_digits_and_not_digits(fields):
    with np.load(fields) as cut:
        assert cut["x_train"].shape[1:] == (28, 28) and cut["x_train"].dtype == np.uint8
        assert len(cut["x_train"]) >= 4 * 15  # most written digits are found and labelled
        assert set(np.unique(cut["y_train"])) <= set(range(10))
        # ...and proposals that are no digit (halves, joined pairs, strokes) to teach the model doubt.
        assert len(cut["x_train_not_digit"]) >= 15 and cut["x_test_not_digit"].shape[1:] == (28, 28)


def test_train_with_fields_learns_them_from_the_start(tmp_path, subset_path, fields, capsys):
    root = tmp_path / "models" / "base"
    # Two harvests (here the same file twice) are joined, as parallel runs of the tool are used.
    assert main(["train", "--arch", "base", "--epochs", "1", "--data", str(subset_path),
                 "--fields", str(fields), str(fields), "--export", str(root)]) == 0
    out = capsys.readouterr().out
    assert "held-out digits cut from fields" in out and "held-out not-digits read as a digit" in out
    card = json.loads((root / "1" / "model.json").read_text())
    with np.load(fields) as cut:
        assert card["field_digits"]["train_images"] == 2 * len(cut["x_train"])
        assert card["field_digits"]["test_images"] == 2 * len(cut["x_test"])
        assert card["not_digits"]["train_images"] == 2 * len(cut["x_train_not_digit"])
    assert card["field_digits"]["source"] == f"{fields} + {fields}"
    assert card["training_data"]["train_images"] == 2000 and "fine_tuned_from" not in card


def _two_base_models(tmp_path, subset_path) -> list[Path]:
    """Two base networks from different seeds, exported under tmp_path: an ensemble's members."""
    roots = [tmp_path / "a", tmp_path / "b"]
    for seed, root in enumerate(roots, start=1):
        assert main(["train", "--arch", "base", "--epochs", "1", "--seed", str(seed), "--data", str(subset_path),
                     "--export", str(root)]) == 0
    return roots


def test_ensemble_averages_its_members_in_one_saved_model(tmp_path, subset_path, subset, capsys):
    roots = _two_base_models(tmp_path, subset_path)
    joined = tmp_path / "joined"
    assert main(["ensemble", "--models", *map(str, roots), "--data", str(subset_path), "--export", str(joined)]) == 0
    out = capsys.readouterr().out
    assert out.count("member ") == 2 and "exported" in out

    members = [load_exported(root) for root in roots]
    ensemble = load_exported(joined)
    digits = subset.x_test[:50]
    expected = np.mean([member.predict(digits).numpy() for member in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(digits).numpy(), expected, atol=1e-6)
    assert not np.allclose(members[0].predict(digits).numpy(), expected, atol=1e-3)  # two different models
    card = ensemble.card
    assert card["architecture"] == "ensemble" and [m["seed"] for m in card["members"]] == [1, 2]
    assert card["parameters"] == 2 * 54_410


def test_ensemble_of_one_model_is_a_one_line_error(tmp_path, subset_path, capsys):
    root = tmp_path / "a"
    assert main(["train", "--arch", "fc", "--epochs", "1", "--data", str(subset_path), "--export", str(root)]) == 0
    assert main(["ensemble", "--models", str(root), "--data", str(subset_path), "--export", str(tmp_path / "e")]) == 2
    assert "at least two models" in capsys.readouterr().err


def test_member_exports_one_network_of_an_ensemble_as_a_model(tmp_path, subset_path, subset, capsys):
    roots = _two_base_models(tmp_path, subset_path)
    joined = tmp_path / "pair"
    assert main(["ensemble", "--models", *map(str, roots), "--data", str(subset_path), "--export", str(joined)]) == 0
    assert main(["member", "--model", str(joined), "--number", "2", "--export", str(tmp_path / "second")]) == 0
    assert "exported" in capsys.readouterr().out

    single = load_exported(tmp_path / "second")
    digits = subset.x_test[:50]
    np.testing.assert_allclose(single.predict(digits).numpy(), load_exported(roots[1]).predict(digits).numpy(),
                               atol=1e-6)  # the second member's answers, not the first's or the average
    card = single.card
    assert card["version"] == 1 and card["architecture"] == "base" and card["parameters"] == 54_410
    assert card["seed"] == 2 and card["member_of"]["number"] == 2
    assert card["member_of"]["model"] == str(joined / "1") and card["member_of"]["trained_as"] == str(roots[1] / "1")


def test_member_of_a_model_that_is_no_ensemble_is_a_one_line_error(tmp_path, subset_path, capsys):
    root = tmp_path / "single"
    assert main(["train", "--arch", "fc", "--epochs", "1", "--data", str(subset_path), "--export", str(root)]) == 0
    assert main(["member", "--model", str(root), "--number", "1", "--export", str(tmp_path / "out")]) == 2
    assert "no member 1 (its card lists 0 members; only an ensemble has members)" in capsys.readouterr().err


def test_finetune_goes_on_from_an_exported_model_with_field_digits(tmp_path, subset_path, fields, capsys):
    root = tmp_path / "models" / "zipnet"
    assert main(["train", "--arch", "base", "--epochs", "1", "--data", str(subset_path), "--export", str(root)]) == 0
    assert main(["finetune", "--model", str(root), "--fields", str(fields), "--data", str(subset_path),
                 "--epochs", "1", "--export", str(root)]) == 0
    out = capsys.readouterr().out
    assert "field digits" in out and "held-out digits cut from fields" in out
    assert "held-out not-digits read as a digit above 90%" in out
    card = json.loads((root / "2" / "model.json").read_text())
    assert card["architecture"] == "base" and card["fine_tuned_from"]["model"] == str(root / "1")
    assert card["field_digits"]["train_images"] == len(np.load(fields)["x_train"])
    assert card["training_data"]["train_images"] == 2000  # MNIST stays in the mix
    assert card["not_digits"]["train_images"] == len(np.load(fields)["x_train_not_digit"])


def test_finetune_without_a_keras_file_is_a_one_line_error(tmp_path, subset_path, capsys):
    version = tmp_path / "model" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"")
    assert main(["finetune", "--model", str(version), "--fields", str(subset_path), "--data", str(subset_path)]) == 2
    assert "no model.keras to go on training" in capsys.readouterr().err
