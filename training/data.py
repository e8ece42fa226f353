"""Loading MNIST-shaped data sets: a Keras-layout .npz, a folder of IDX files, or the Keras download.

Every failure is a DataError whose message names the file and what is wrong with it, so the command
line can print one actionable line instead of a traceback.
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.errors import DataError

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
NOT_A_DIGIT = NUM_CLASSES  # training label of a field that is no digit: its target is "unsure of all ten"
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
NOT_DIGIT_NAMES = ("x_train_not_digit", "x_test_not_digit")  # optional, beside the Keras arrays

# IDX file names as LeCun publishes them; a folder may hold them raw or gzipped.
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_UBYTE = 0x08


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray  # uint8 [N, 28, 28], white digit on black
    y_train: np.ndarray  # uint8 [N], 0..9
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where it came from, for reports

    @property
    def sha256(self) -> str:
        """Digest of the arrays themselves, so the same data hashes alike in every file format."""
        digest = hashlib.sha256()
        for name in ARRAY_NAMES:
            array = np.ascontiguousarray(getattr(self, name))
            digest.update(name.encode())
            digest.update(str(array.shape).encode())
            digest.update(array.tobytes())
        return digest.hexdigest()


def load_dataset(path: str | Path | None) -> Dataset:
    """Load from `path` (.npz file or IDX folder), or download MNIST through Keras when path is None."""
    if path is None:
        return _download_mnist()
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        arrays = {name: _read_idx_from_folder(path, name) for name in ARRAY_NAMES}
    else:
        arrays = _read_npz(path)
    return _validated(arrays, str(path))


def _download_mnist() -> Dataset:
    import keras  # imported here: the download path is the only one that needs Keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # any network or cache failure means the same thing to the user
        raise DataError(
            f"could not download MNIST ({type(error).__name__}: {error}); "
            "pass --data PATH with a local mnist.npz or a folder of IDX files"
        ) from error
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _validated(arrays, "keras.datasets.mnist")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        # allow_pickle=False: a data file must never be able to run code.
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in ARRAY_NAMES if name not in archive.files]
            if missing:
                raise DataError(
                    f"{path}: missing array(s) {', '.join(missing)}; "
                    f"expected {', '.join(ARRAY_NAMES)} (Keras' mnist.npz layout)"
                )
            return {name: archive[name] for name in ARRAY_NAMES}
    except DataError:
        raise
    except ValueError as error:
        raise DataError(f"{path}: not a NumPy .npz archive without pickled objects ({error})") from error
    except Exception as error:
        raise DataError(f"{path}: not a readable .npz archive ({type(error).__name__}: {error})") from error


def _read_idx_from_folder(folder: Path, name: str) -> np.ndarray:
    base = IDX_FILES[name]
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return read_idx(candidate)
    raise DataError(f"{folder}: missing {base} (or {base}.gz), the IDX file for {name}")


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (raw or .gz) of unsigned bytes into an array of the shape its header gives."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read ({error})") from error
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    if content[2] != _IDX_UBYTE:
        raise DataError(f"{path}: IDX element type 0x{content[2]:02x} is not unsigned byte (0x08)")
    ndim = content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) if shape else 0
    body = content[header_size:]
    if len(body) != expected:
        raise DataError(f"{path}: header promises {expected} bytes of data for shape {shape}, file has {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _validated(arrays: dict[str, np.ndarray], source: str) -> Dataset:
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8:
            raise DataError(f"{source}: x_{split} has dtype {images.dtype}, expected uint8 pixels 0..255")
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.shape[0] == 0:
            raise DataError(f"{source}: x_{split} has shape {images.shape}, expected (N, 28, 28) with N > 0")
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{source}: y_{split} has dtype {labels.dtype}, expected integer labels")
        if labels.shape != (images.shape[0],):
            raise DataError(
                f"{source}: y_{split} has shape {labels.shape}, expected ({images.shape[0]},) to match x_{split}"
            )
        if labels.min() < 0 or labels.max() >= NUM_CLASSES:
            raise DataError(f"{source}: y_{split} has labels outside 0..9")
    return Dataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.uint8),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.uint8),
        source=source,
    )


@dataclass(frozen=True)
class NotDigits:
    """Fields that are no digit (half a digit, two joined, a loose stroke), as tools/make_field_digits.py
    cuts them; uint8 [N, 28, 28] each."""
    x_train: np.ndarray
    x_test: np.ndarray


def load_not_digits(path: str | Path) -> NotDigits | None:
    """The not-digit arrays of a field-digits .npz, or None when it has none (an older file, a folder)."""
    if Path(path).is_dir():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not all(name in archive.files for name in NOT_DIGIT_NAMES):
                return None
            arrays = [archive[name] for name in NOT_DIGIT_NAMES]
    except Exception as error:
        raise DataError(f"{path}: not a readable .npz archive ({type(error).__name__}: {error})") from error
    for name, images in zip(NOT_DIGIT_NAMES, arrays):
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{path}: {name} has {images.dtype} {images.shape}, expected uint8 (N, 28, 28)")
    return NotDigits(*arrays)


def load_fields(paths: list[str | Path]) -> tuple[Dataset, NotDigits | None]:
    """Field digits and not-digits from one or more tools/make_field_digits.py files, joined in order
    (harvests run in parallel, one per core, with different seeds). Not-digits are kept only when every
    file has them, so a mixed list does not silently change what the model is taught."""
    sets = [load_dataset(path) for path in paths]
    rejects = [load_not_digits(path) for path in paths]
    if len(sets) == 1:
        return sets[0], rejects[0]
    joined = Dataset(
        **{name: np.concatenate([getattr(part, name) for part in sets]) for name in ARRAY_NAMES},
        source=" + ".join(part.source for part in sets),
    )
    if any(part is None for part in rejects):
        return joined, None
    return joined, NotDigits(np.concatenate([r.x_train for r in rejects]), np.concatenate([r.x_test for r in rejects]))
