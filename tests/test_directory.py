"""The directory of valid codes (--valid-codes): reading the file, the pipeline's check of its reads, the
offline command line, the server over a real gRPC channel (its reload on SIGHUP included), and the
benchmark's fields addressed to it."""
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.accuracy import main as accuracy_main
from bench.throughput import free_port
from bench.accuracy import read_sample
from bench.zipgen import generate
from service.api import zipcode_pb2 as pb
from service.client import ZipCodeClient
from service.client_cli import main as client_main
from service.directory import CodeDirectory, DirectoryError, load_directory
from service.recognize_cli import main as recognize_main
from service.recognizer import Recognizer, RejectReason
from service.server import RecognizerServer
from tests.serving import wait_until_serving
from tests.test_server import local_config, metrics_text, sample_value

# Clean fields that the bundled model reads right and accepts (checked below without a directory).
READ_RIGHT = (("40213", 3), ("86420", 2), ("97531-2468", 7))


def _write(folder, text: str, name: str = "codes.txt"):
    path = folder / name
    path.write_text(text)
    return path


def _shot(pool, code: str, seed: int):
    return generate(pool, "clean", np.random.default_rng(seed), code=code, hyphen="dash")


def _one_digit_off(recognition) -> tuple[str, float]:
    """The code with the digit whose runner-up is likeliest read as that runner-up, and the product of
    the five digits' probabilities then: what a directory holding only that code should suggest."""
    digits = recognition.digits[:5]
    index = max(range(5), key=lambda i: digits[i].alternatives[1][1])
    values = [d.value for d in digits]
    values[index] = digits[index].alternatives[1][0]
    probabilities = [d.confidence for d in digits]
    probabilities[index] = digits[index].alternatives[1][1]
    return "".join(map(str, values)), float(np.prod(probabilities))


def test_a_directory_file_takes_comments_blank_lines_a_bom_and_csv_rows(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_bytes("\ufeff# hub 402\n40213\n\n  40214,Louisville,KY\n40215\tLouisville\n40213\n".encode())
    directory = load_directory(path)
    assert directory.codes == {"40213", "40214", "40215"} and len(directory) == 3
    assert directory.knows("40214") and directory.knows("40214-1234")  # ZIP+4 by its first five
    assert not directory.knows("40216") and not directory.knows("")


@pytest.mark.parametrize("text, message", [
    ("40213\n4021\n", "line 2: '4021'"),
    ("40213\n402130\n", "line 2: '402130'"),
    ("40213\nzip\n40214-1234\n", "line 2: 'zip'; line 3: '40214-1234'"),
    ("# nothing but a comment\n\n", "no zip codes in the directory"),
])
def test_a_directory_file_with_a_wrong_line_or_no_code_is_refused_with_the_line(tmp_path, text, message):
    with pytest.raises(DirectoryError, match="every line must start with a 5-digit|no zip codes") as raised:
        load_directory(_write(tmp_path, text))
    assert message in str(raised.value) and "codes.txt" in str(raised.value)


def test_a_missing_or_binary_directory_file_is_refused(tmp_path):
    with pytest.raises(DirectoryError, match="cannot read the directory"):
        load_directory(tmp_path / "none.txt")
    binary = tmp_path / "codes.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(DirectoryError, match="cannot read the directory"):
        load_directory(binary)


def test_the_most_probable_known_code_is_taken_from_the_first_five_digits_alternatives():
    directory = CodeDirectory({"40213", "48213", "90210"})
    alternatives = [[(4, 0.9), (9, 0.1)], [(0, 0.6), (8, 0.4)], [(2, 1.0)], [(1, 0.7), (7, 0.3)], [(3, 0.5), (0, 0.5)],
                    [(5, 1.0)]]  # a sixth digit (ZIP+4) is not looked at
    code, probability = directory.most_probable(alternatives)
    assert code == "40213" and probability == pytest.approx(0.9 * 0.6 * 0.7 * 0.5)
    assert directory.most_probable([[(4, 0.9), (9, 0.1)], [(0, 0.5), (8, 0.5)]] + [[(2, 1.0)]] * 3) is None
    alternatives[1] = [(8, 0.6), (0, 0.4)]  # now the other known code is the likelier
    assert directory.most_probable(alternatives)[0] == "48213"


def test_only_a_code_in_the_directory_is_accepted_and_the_read_stays_the_suggestion(digit_pool, recognizer):
    shots = [_shot(digit_pool, code, seed) for code, seed in READ_RIGHT]
    unchecked = [recognizer.recognize(shot.encoded) for shot in shots]
    assert [(read.zip_code, read.accepted) for read in unchecked] == [(code, True) for code, _ in READ_RIGHT]
    checking = Recognizer(recognizer.classify, directory=CodeDirectory({"40213", "97531", "12345"}))
    checked = [checking.recognize(shot.encoded) for shot in shots]
    assert checked[0].accepted and checked[2].accepted  # 97531-2468: the first five are in it
    assert not checked[1].accepted and checked[1].reject_reason == RejectReason.UNKNOWN_CODE
    # The rest of the answer is the unchecked one's, for the person who sorts the item by hand.
    assert (checked[1].zip_code, checked[1].confidence) == (unchecked[1].zip_code, unchecked[1].confidence)
    assert [d.value for d in checked[1].digits] == [d.value for d in unchecked[1].digits]
    assert checked[1].suggested_zip_code == "" and checked[0].suggested_zip_code == ""  # none within the top 3


def test_an_unknown_code_comes_with_the_known_code_its_alternatives_make_likeliest(digit_pool, recognizer):
    shot = _shot(digit_pool, "97531-2468", 7)
    read = recognizer.recognize(shot.encoded)
    near, probability = _one_digit_off(read)
    checked = Recognizer(recognizer.classify, directory=CodeDirectory({near, "12345"})).recognize(shot.encoded)
    assert checked.reject_reason == RejectReason.UNKNOWN_CODE and checked.zip_code == "97531-2468"
    assert checked.suggested_zip_code == f"{near}-2468"  # the ZIP+4 part as read
    assert checked.suggested_confidence == pytest.approx(probability)


def test_an_unknown_code_is_rejected_at_any_confidence_and_ranked_out_of_the_curve(digit_pool, recognizer):
    shot = _shot(digit_pool, "86420", 2)
    checking = Recognizer(recognizer.classify, directory=CodeDirectory({"40213"}))
    # A threshold no read reaches: unchecked that is low_confidence, checked the code is what is wrong.
    assert recognizer.recognize(shot.encoded, min_confidence=1.0).reject_reason == RejectReason.LOW_CONFIDENCE
    assert checking.recognize(shot.encoded, min_confidence=1.0).reject_reason == RejectReason.UNKNOWN_CODE
    read = read_sample(shot, checking)  # bench/accuracy.py: rejected first, whatever the threshold
    assert read.score == 0.0 and not read.accepted and read.guess == "86420"
    assert read_sample(shot, recognizer).score > 0.9


def test_a_code_that_reads_as_another_upside_down_is_kept_when_that_other_does_not_exist(digit_pool, recognizer):
    # 10011 written plainly: turned over it reads as another code, so without a directory the photo's
    # way up is in doubt and it goes to manual sorting.
    shot = generate(digit_pool, "clean", np.random.default_rng(0), code="10011")
    assert recognizer.recognize(shot.encoded).reject_reason == RejectReason.ORIENTATION
    turned = recognizer.recognize(cv2.imencode(".png", cv2.rotate(shot.image, cv2.ROTATE_180))[1].tobytes())
    assert turned.accepted and turned.zip_code != "10011"
    alone = Recognizer(recognizer.classify, directory=CodeDirectory({"10011"})).recognize(shot.encoded)
    assert alone.accepted and alone.zip_code == "10011"
    both = Recognizer(recognizer.classify, directory=CodeDirectory({"10011", turned.zip_code})).recognize(shot.encoded)
    assert both.reject_reason == RejectReason.ORIENTATION


def test_a_wrong_length_keeps_its_own_reason_with_a_directory(digit_pool, recognizer):
    shot = _shot(digit_pool, "40213", 3)
    checking = Recognizer(recognizer.classify, directory=CodeDirectory({"99999"}))
    assert checking.recognize(shot.encoded, expected_length=9).reject_reason == RejectReason.UNEXPECTED_LENGTH


def test_the_generator_addresses_fields_to_the_directory_s_codes(digit_pool):
    codes = ["40213", "40214", "97531"]
    rng = np.random.default_rng(5)
    drawn = [generate(digit_pool, "realistic", rng, codes=codes).code for _ in range(30)]
    assert {code[:5] for code in drawn} <= set(codes) and len({code[:5] for code in drawn}) == 3
    assert any(len(code) == 10 and code[5] == "-" for code in drawn)  # ZIP+4 too, any four after the five


def test_zipcode_recognize_checks_against_valid_codes(digit_pool, tmp_path, capsys):
    paths = []
    for code, seed in READ_RIGHT[:2]:
        shot = _shot(digit_pool, code, seed)
        paths.append(tmp_path / f"{code}{shot.extension}")
        paths[-1].write_bytes(shot.encoded)
    codes = _write(tmp_path, "40213\n")
    assert recognize_main(["--valid-codes", str(codes), *map(str, paths)]) == 0
    verdicts = [line.split("\t")[3] for line in capsys.readouterr().out.splitlines()]
    assert verdicts == ["accepted", "rejected:unknown_code"]
    assert recognize_main(["--json", "--valid-codes", str(_write(tmp_path, "40213\n86420\n", "both.txt")),
                           str(paths[1])]) == 0
    assert "suggested_zip_code" not in json.loads(capsys.readouterr().out)  # only with unknown_code
    assert recognize_main(["--valid-codes", str(_write(tmp_path, "4021\n", "bad.txt")), str(paths[0])]) == 2
    assert "bad.txt: every line must start with a 5-digit zip code" in capsys.readouterr().err


@pytest.fixture(scope="module")
def near_86420(digit_pool, recognizer) -> tuple[str, float]:
    return _one_digit_off(recognizer.recognize(_shot(digit_pool, "86420", 2).encoded))


@pytest.fixture(scope="module")
def checking_server(tmp_path_factory, near_86420):
    codes = _write(tmp_path_factory.mktemp("directory"), f"# three codes\n40213\n97531\n{near_86420[0]}\n")
    running = RecognizerServer(local_config(valid_codes=str(codes))).start().load()
    yield running
    running.stop(1)


def test_the_server_rejects_an_unknown_code_counts_it_and_says_how_many_it_knows(checking_server, digit_pool,
                                                                                 near_86420, tmp_path):
    before = metrics_text(checking_server)
    with ZipCodeClient(f"127.0.0.1:{checking_server.port}", timeout=30) as client:
        known = client.recognize(_shot(digit_pool, "97531-2468", 7).encoded)
        unknown = client.recognize(_shot(digit_pool, "86420", 2).encoded)
        info = client.model_info()
    assert known.accepted and known.zip_code == "97531-2468"
    assert not unknown.accepted and unknown.reject_reason == pb.REJECT_REASON_UNKNOWN_CODE
    assert unknown.zip_code == "86420" and len(unknown.digits) == 5
    assert unknown.suggested_zip_code == near_86420[0]
    assert unknown.suggested_confidence == pytest.approx(near_86420[1], rel=1e-5)
    assert known.suggested_zip_code == "" and known.suggested_confidence == 0.0
    assert info.directory_codes == 3
    assert sample_value(metrics_text(checking_server), "zipcode_rejections_total", reason="unknown_code") == \
        sample_value(before, "zipcode_rejections_total", reason="unknown_code") + 1
    assert sample_value(before, "zipcode_model_info", directory_codes="3") == 1  # what Prometheus sees
    image = tmp_path / "86420.png"
    image.write_bytes(_shot(digit_pool, "86420", 2).encoded)
    table = tmp_path / "reads.csv"
    assert client_main(["--target", f"127.0.0.1:{checking_server.port}", "--csv", str(table), str(image)]) == 0
    row, = csv.DictReader(table.open())
    assert (row["reject_reason"], row["suggested_zip_code"]) == ("unknown_code", near_86420[0])


def test_a_bad_directory_stops_the_server_at_start_with_one_line(tmp_path):
    codes = _write(tmp_path, "40213\nLouisville\n")
    done = subprocess.run([sys.executable, "-m", "service", "--bind", "127.0.0.1", "--port", "0", "--metrics-port", "0",
                           "--valid-codes", str(codes)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "cannot load the directory of valid codes" in errors[0] and "line 2" in errors[0]
    missing = subprocess.run([sys.executable, "-m", "service", "--valid-codes", str(tmp_path / "none.txt")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "--valid-codes" in missing.stderr and "no such file" in missing.stderr


def test_the_accuracy_benchmark_checks_reads_against_the_directory_only_when_asked(subset_path, tmp_path, capsys):
    codes = _write(tmp_path, "40213\n86420\n97531\n")
    common = ["--data", str(subset_path), "--count", "4", "--tiers", "clean", "--no-tesseract", "--codes", str(codes)]
    assert accuracy_main(common) == 0
    assert "codes not in the directory" not in capsys.readouterr().out
    assert accuracy_main([*common, "--check-codes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(index for index, line in enumerate(lines) if "codes not in the directory" in line)
    row = lines[header + 2]
    assert row.startswith("| clean | ")
    unknown, right = (int(cell) for cell in row.strip("| ").split("|")[1:])
    assert 0 <= right <= unknown <= 4
    with pytest.raises(SystemExit):
        accuracy_main(["--data", str(subset_path), "--check-codes"])
    assert "--check-codes needs --codes FILE" in capsys.readouterr().err


def test_sighup_reads_the_directory_again_and_a_bad_file_keeps_the_old_one(digit_pool, tmp_path):
    codes = _write(tmp_path, "40213\n")
    port, metrics_port = free_port(), free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "service", "--bind", "127.0.0.1", "--port", str(port),
                                    "--metrics-port", str(metrics_port), "--valid-codes", str(codes)], stderr=sink)
    try:
        with ZipCodeClient(f"127.0.0.1:{port}", timeout=60) as client:
            wait_until_serving(client)
            image = _shot(digit_pool, "86420", 2).encoded
            assert client.recognize(image).reject_reason == pb.REJECT_REASON_UNKNOWN_CODE
            codes.write_text("40213\n86420\n")  # the month's update
            process.send_signal(signal.SIGHUP)
            _wait_for(lambda: client.model_info().directory_codes == 2)
            assert client.recognize(image).accepted
            codes.write_text("40213\n8642\n")  # a broken update: the codes loaded before stay
            process.send_signal(signal.SIGHUP)
            _wait_for(lambda: "not reloaded" in log.read_text())
            assert client.model_info().directory_codes == 2 and client.recognize(image).accepted
            assert process.poll() is None
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0
    assert "directory of valid codes reloaded directory_codes=2" in log.read_text()
    assert "line 2: '8642'" in log.read_text()


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server did not reload in time"
        time.sleep(0.2)


def test_the_us_directory_tool_writes_a_file_the_service_reads(tmp_path):
    out = tmp_path / "us.txt"
    done = subprocess.run([sys.executable, "tools/us_zip_codes.py", "--out", str(out)], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    directory = load_directory(out)
    assert 40_000 < len(directory) < 45_000  # the active US codes: 41,749 in zipcodes 3.0.0
    assert directory.knows("10001") and directory.knows("90210-1234") and not directory.knows("00000")
    assert out.read_text().startswith("# United States zip codes, active:")


def test_the_debug_picture_shows_the_whole_verdict_with_its_suggestion(digit_pool, recognizer):
    from service.debug import draw_debug

    shot = _shot(digit_pool, "86420", 2)
    near, _ = _one_digit_off(recognizer.recognize(shot.encoded))
    checked = Recognizer(recognizer.classify, directory=CodeDirectory({near})).recognize(shot.encoded)
    assert checked.suggested_zip_code == near
    picture = draw_debug(shot.image[:, :120], checked)  # a narrow photo: the title is wider than it
    header = picture[:34]
    assert (header[:, -6:] == 255).all()  # nothing of the title cut off at the right edge
    assert (header[:, :-6] < 128).any(axis=(0, 2)).sum() > 400  # and the title is there, 400+ columns of text
