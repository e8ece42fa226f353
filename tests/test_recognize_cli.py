"""zipcode-recognize as a user runs it: several files, one of them unreadable, text and JSON output,
debug pictures."""
import json
import subprocess
import sys

import cv2
import numpy as np

from bench.zipgen import generate
from service.recognize_cli import main
from service.recognizer import DEFAULT_MIN_CONFIDENCE


def write_samples(pool, folder, count=2):
    rng = np.random.default_rng(21)
    paths, codes = [], []
    for index in range(count):
        shot = generate(pool, "clean", rng)
        path = folder / f"item{index}{shot.extension}"
        path.write_bytes(shot.encoded)
        paths.append(str(path))
        codes.append(shot.code)
    return paths, codes


def test_text_lines_and_an_unreadable_file(digit_pool, tmp_path, capsys):
    paths, codes = write_samples(digit_pool, tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    missing = tmp_path / "missing.jpg"
    assert main([paths[0], str(broken), str(missing), paths[1]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    first = lines[0].split("\t")
    assert first[0] == paths[0] and first[1] == codes[0]
    assert 0 < float(first[2]) <= 1
    # The decision column follows the confidence and the default threshold (a plain field may still be
    # read below it: docs/benchmarks.md).
    assert first[3] == ("accepted" if float(first[2]) >= DEFAULT_MIN_CONFIDENCE else "rejected:low_confidence")
    assert lines[1] == f"{broken}\terror: corrupt or truncated PNG image: OpenCV could not decode it"
    assert lines[2].startswith(f"{missing}\terror: No such file")
    assert lines[3].split("\t")[1] == codes[1]


def test_json_and_debug_pictures(digit_pool, tmp_path, capsys):
    paths, codes = write_samples(digit_pool, tmp_path, 1)
    debug = tmp_path / "debug"
    assert main(["--json", "--expect", "5", "--debug-dir", str(debug), paths[0]]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["zip_code"] == codes[0]
    assert record["accepted"] is (record["confidence"] >= DEFAULT_MIN_CONFIDENCE)
    assert record["reject_reason"] == (None if record["accepted"] else "low_confidence")
    assert [d["value"] for d in record["digits"]] == [int(c) for c in codes[0]]
    assert all(len(d["alternatives"]) == 3 and len(d["box"]) == 4 for d in record["digits"])
    picture = cv2.imread(str(debug / "item0.debug.png"))
    assert picture is not None and picture.shape[0] > 300  # the photo panel plus the 28x28 crops


def test_console_script_rejects_blank_and_exits_1_when_nothing_is_readable(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 300), 250, np.uint8))
    done = subprocess.run([sys.executable, "-m", "service.recognize_cli", str(blank)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert done.stdout.strip().split("\t")[1:] == ["", "0.0000", "rejected:no_digits"]
    done = subprocess.run([sys.executable, "-m", "service.recognize_cli", str(tmp_path / "none.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "error:" in done.stdout
