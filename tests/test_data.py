"""Loading each data format, and each kind of bad data, through the library and the command line."""
import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest

from training.cli import main
from training.data import IDX_FILES, load_dataset, load_fields, read_idx
from training.errors import DataError


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    """IDX as LeCun specifies it: two zero bytes, type 0x08 (ubyte), ndim, big-endian sizes, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as stream:
            stream.write(payload)
    else:
        path.write_bytes(payload)


def write_idx_folder(folder, arrays, compress=False):
    folder.mkdir(exist_ok=True)
    for name, base in IDX_FILES.items():
        write_idx(folder / base, arrays[name], compress)
    return folder


def test_npz_loads_all_four_arrays(subset_path, subset_arrays):
    data = load_dataset(subset_path)
    assert data.x_train.shape == (2000, 28, 28) and data.x_test.shape == (1000, 28, 28)
    assert data.x_train.dtype == np.uint8
    np.testing.assert_array_equal(data.y_test, subset_arrays["y_test"])
    assert set(np.unique(data.y_train)) == set(range(10))


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_idx_folder_loads_same_data_as_npz(tmp_path, subset_path, subset_arrays, compress):
    folder = write_idx_folder(tmp_path / "idx", subset_arrays, compress)
    from_idx = load_dataset(folder)
    from_npz = load_dataset(subset_path)
    np.testing.assert_array_equal(from_idx.x_train, from_npz.x_train)
    np.testing.assert_array_equal(from_idx.y_test, from_npz.y_test)
    # The digest is of the arrays, so the same data hashes alike in both formats.
    assert from_idx.sha256 == from_npz.sha256


def test_digest_changes_when_one_pixel_changes(subset_arrays, tmp_path):
    changed = dict(subset_arrays)
    changed["x_test"] = subset_arrays["x_test"].copy()
    changed["x_test"][0, 14, 14] ^= 1
    np.savez(tmp_path / "changed.npz", **changed)
    np.savez(tmp_path / "same.npz", **subset_arrays)
    assert load_dataset(tmp_path / "changed.npz").sha256 != load_dataset(tmp_path / "same.npz").sha256


def test_field_files_are_joined_and_not_digits_kept_only_when_every_file_has_them(tmp_path, subset_arrays):
    with_rejects = tmp_path / "harvest_a.npz"
    rejects = {"x_train_not_digit": subset_arrays["x_train"][:7], "x_test_not_digit": subset_arrays["x_test"][:3]}
    np.savez(with_rejects, **subset_arrays, **rejects)
    plain = tmp_path / "harvest_b.npz"
    np.savez(plain, **{name: array[:50] for name, array in subset_arrays.items()})

    digits, not_digits = load_fields([with_rejects, with_rejects])
    assert len(digits.x_train) == 2 * len(subset_arrays["x_train"])
    np.testing.assert_array_equal(digits.y_test[len(subset_arrays["y_test"]):], subset_arrays["y_test"])
    assert len(not_digits.x_train) == 14 and len(not_digits.x_test) == 6

    digits, not_digits = load_fields([with_rejects, plain])
    assert len(digits.x_train) == len(subset_arrays["x_train"]) + 50 and not_digits is None
    assert digits.source == f"{with_rejects} + {plain}"


def _bad_npz(tmp_path, **overrides):
    base = {
        "x_train": np.zeros((4, 28, 28), np.uint8), "y_train": np.arange(4, dtype=np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.arange(2, dtype=np.uint8),
    }
    base.update(overrides)
    arrays = {name: value for name, value in base.items() if value is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"y_test": None}, "missing array(s) y_test"),
        ({"x_train": np.zeros((4, 28, 28), np.float32)}, "x_train has dtype float32, expected uint8"),
        ({"x_test": np.zeros((2, 32, 32), np.uint8)}, "x_test has shape (2, 32, 32), expected (N, 28, 28)"),
        ({"x_train": np.zeros((4, 784), np.uint8)}, "x_train has shape (4, 784)"),
        ({"y_train": np.arange(3, dtype=np.uint8)}, "y_train has shape (3,), expected (4,)"),
        ({"y_test": np.array([0, 10], np.uint8)}, "labels outside 0..9"),
        ({"y_train": np.zeros(4, np.float32)}, "y_train has dtype float32, expected integer"),
    ],
)
def test_bad_npz_is_refused_with_file_and_reason(tmp_path, overrides, message):
    path = _bad_npz(tmp_path, **overrides)
    with pytest.raises(DataError) as raised:
        load_dataset(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, x_train=np.array([object()], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DataError, match="pickled"):
        load_dataset(path)


def test_text_file_is_not_an_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("this is not numpy\n")
    with pytest.raises(DataError, match=r"notes\.npz: not a"):
        load_dataset(path)


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(tmp_path / "absent.npz")


def test_idx_folder_missing_a_file(tmp_path, subset_arrays):
    folder = write_idx_folder(tmp_path / "idx", subset_arrays)
    (folder / IDX_FILES["y_test"]).unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        load_dataset(folder)


def test_idx_bad_magic_and_truncation(tmp_path):
    bad_magic = tmp_path / "bad-magic"
    bad_magic.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(bad_magic)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 10, 28, 28) + b"\x00" * 100)
    with pytest.raises(DataError, match="promises 7840 bytes .* file has 100"):
        read_idx(truncated)
    floats = tmp_path / "floats"
    floats.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\x00" * 4)
    with pytest.raises(DataError, match="not unsigned byte"):
        read_idx(floats)


def test_idx_images_with_wrong_shape(tmp_path, subset_arrays):
    arrays = dict(subset_arrays)
    arrays["x_test"] = np.zeros((1000, 20, 20), np.uint8)
    with pytest.raises(DataError, match=r"x_test has shape \(1000, 20, 20\)"):
        load_dataset(write_idx_folder(tmp_path / "idx", arrays))


def test_failed_download_says_to_pass_data(monkeypatch):
    import keras

    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError) as raised:
        load_dataset(None)
    assert "could not download MNIST" in str(raised.value)
    assert "pass --data PATH" in str(raised.value)


def test_cli_bad_data_prints_one_line_and_exits_2(tmp_path, capsys):
    path = _bad_npz(tmp_path, x_train=np.zeros((4, 28, 28), np.int16))
    assert main(["train", "--arch", "fc", "--epochs", "1", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"zipcode-train: error: {path}: x_train has dtype int16, expected uint8 pixels 0..255"]


def test_console_script_exits_2_without_traceback(tmp_path):
    absent = tmp_path / "absent.npz"
    completed = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--model", str(tmp_path), "--data", str(absent)],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines() == [f"zipcode-train: error: {absent}: no such file or folder"]
