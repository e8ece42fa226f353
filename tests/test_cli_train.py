"""The train and compare commands as a user runs them, on the shipped subset."""
import json

from training.cli import main


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
