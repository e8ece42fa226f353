"""The directory of valid codes (--valid-codes): reading the file, the pipeline's check of its reads, the
offline command line, the server over a real gRPC channel, and the benchmark's fields addressed to it."""
import subprocess
import sys

import numpy as np
import pytest

from bench.accuracy import read_sample
from bench.zipgen import generate
from service.api import zipcode_pb2 as pb
from service.client import ZipCodeClient
from service.directory import CodeDirectory, DirectoryError, load_directory
from service.recognize_cli import main as recognize_main
from service.recognizer import Recognizer, RejectReason
from service.server import RecognizerServer
from tests.test_server import local_config, metrics_text, sample_value

# Clean fields that the bundled model reads right and accepts (checked below without a directory).
READ_RIGHT = (("40213", 3), ("86420", 2), ("97531-2468", 7))


def _write(folder, text: str, name: str = "codes.txt"):
    path = folder / name
    path.write_text(text)
    return path


def _shot(pool, code: str, seed: int):
    return generate(pool, "clean", np.random.default_rng(seed), code=code, hyphen="dash")


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


def test_an_unknown_code_is_rejected_at_any_confidence_and_ranked_out_of_the_curve(digit_pool, recognizer):
    shot = _shot(digit_pool, "86420", 2)
    checking = Recognizer(recognizer.classify, directory=CodeDirectory({"40213"}))
    # A threshold no read reaches: unchecked that is low_confidence, checked the code is what is wrong.
    assert recognizer.recognize(shot.encoded, min_confidence=1.0).reject_reason == RejectReason.LOW_CONFIDENCE
    assert checking.recognize(shot.encoded, min_confidence=1.0).reject_reason == RejectReason.UNKNOWN_CODE
    read = read_sample(shot, checking)  # bench/accuracy.py: rejected first, whatever the threshold
    assert read.score == 0.0 and not read.accepted and read.guess == "86420"
    assert read_sample(shot, recognizer).score > 0.9


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
    assert recognize_main(["--valid-codes", str(_write(tmp_path, "4021\n", "bad.txt")), str(paths[0])]) == 2
    assert "bad.txt: every line must start with a 5-digit zip code" in capsys.readouterr().err


@pytest.fixture(scope="module")
def checking_server(tmp_path_factory):
    codes = _write(tmp_path_factory.mktemp("directory"), "# two codes\n40213\n97531\n")
    running = RecognizerServer(local_config(valid_codes=str(codes))).start().load()
    yield running
    running.stop(1)


def test_the_server_rejects_an_unknown_code_counts_it_and_says_how_many_it_knows(checking_server, digit_pool):
    before = metrics_text(checking_server)
    with ZipCodeClient(f"127.0.0.1:{checking_server.port}", timeout=30) as client:
        known = client.recognize(_shot(digit_pool, "97531-2468", 7).encoded)
        unknown = client.recognize(_shot(digit_pool, "86420", 2).encoded)
        info = client.model_info()
    assert known.accepted and known.zip_code == "97531-2468"
    assert not unknown.accepted and unknown.reject_reason == pb.REJECT_REASON_UNKNOWN_CODE
    assert unknown.zip_code == "86420" and len(unknown.digits) == 5
    assert info.directory_codes == 2
    assert sample_value(metrics_text(checking_server), "zipcode_rejections_total", reason="unknown_code") == \
        sample_value(before, "zipcode_rejections_total", reason="unknown_code") + 1


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
