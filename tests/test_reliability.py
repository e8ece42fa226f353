"""Hostile and broken input, overload, deadlines, shutdown and start-up faults: every request gets a
result or a clear status, and the service stays up (or, at start, refuses to half-work)."""
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest

from bench.throughput import free_port
from bench.zipgen import generate
from service import decode as decode_module
from service.api import zipcode_pb2 as pb
from service.client import ZipCodeClient
from service.decode import decode_image
from service.errors import ImageTooLarge, InputError
from service.server import RecognizerServer
from tests.conftest import BUNDLED_VERSION
from tests.serving import wait_until_serving
from tests.test_server import local_config, metrics_text, sample_value


def png_claiming(width: int, height: int) -> bytes:
    """A real, tiny PNG whose header claims another size: a decompression bomb's calling card."""
    data = bytearray(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def test_decompression_bomb_is_refused_from_the_header(monkeypatch):
    bomb = png_claiming(100_000, 100_000)
    assert len(bomb) < 200

    def must_not_decode(*_):
        raise AssertionError("decoded an image the header had already ruled out")

    monkeypatch.setattr(decode_module.cv2, "imdecode", must_not_decode)
    with pytest.raises(ImageTooLarge, match=r"PNG header gives 100000x100000: a side over the limit"):
        decode_image(bomb)
    with pytest.raises(ImageTooLarge, match=r"10,000,000,000 pixels|over the limit"):
        decode_image(png_claiming(15_000, 15_000), max_side=20_000)


@pytest.mark.parametrize("ext", [".jpg", ".bmp", ".webp", ".tiff"])
def test_other_formats_are_measured_from_their_headers(monkeypatch, ext):
    encoded = cv2.imencode(ext, np.zeros((30, 4000, 3), np.uint8))[1].tobytes()
    monkeypatch.setattr(decode_module.cv2, "imdecode", lambda *_: (_ for _ in ()).throw(AssertionError("decoded")))
    with pytest.raises(ImageTooLarge, match="4000x30"):
        decode_image(encoded, max_side=1000)


# The bad-input corpus: what arrives, and what it must get.
def _corpus():
    gray = np.full((80, 240), 235, np.uint8)
    png = cv2.imencode(".png", gray)[1].tobytes()
    jpg = cv2.imencode(".jpg", gray)[1].tobytes()
    rng = np.random.default_rng(0)
    return [
        ("empty", b"", "INVALID_ARGUMENT", "empty image"),
        ("text", b"ZIP 12345 please", "INVALID_ARGUMENT", "not an image"),
        ("random", rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "INVALID_ARGUMENT", "not an image"),
        ("truncated png", png[: len(png) // 2], "INVALID_ARGUMENT", "corrupt or truncated PNG"),
        ("truncated jpeg", jpg[:30], "INVALID_ARGUMENT", "corrupt or truncated JPEG"),
        ("png header only", png[:33], "INVALID_ARGUMENT", "corrupt or truncated PNG"),
        ("gif", b"GIF89a" + bytes(40), "INVALID_ARGUMENT", "unsupported image format GIF"),
        ("svg", b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", "INVALID_ARGUMENT", "SVG"),
        ("pdf", b"%PDF-1.4\n%...", "INVALID_ARGUMENT", "unsupported image format PDF"),
        ("bomb", png_claiming(60_000, 60_000), "RESOURCE_EXHAUSTED", "over the limit"),
        ("too many pixels", cv2.imencode(".png", np.zeros((1500, 1500), np.uint8))[1].tobytes(), "RESOURCE_EXHAUSTED", "pixels"),
        ("too many bytes", b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024), "RESOURCE_EXHAUSTED", ""),  # over 4 MiB
        ("16-bit", cv2.imencode(".png", np.full((60, 200), 60000, np.uint16))[1].tobytes(), "OK", "no_digits"),
        ("alpha", cv2.imencode(".png", np.zeros((60, 200, 4), np.uint8))[1].tobytes(), "OK", "no_digits"),
        ("1x1", cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes(), "OK", "no_digits"),
        ("extreme aspect", cv2.imencode(".png", np.full((2, 3000), 200, np.uint8))[1].tobytes(), "OK", ""),
        ("blank", png, "OK", "no_digits"),
        ("black", cv2.imencode(".png", np.zeros((80, 240), np.uint8))[1].tobytes(), "OK", "no_digits"),
        ("noise", cv2.imencode(".png", rng.integers(0, 256, (80, 240), dtype=np.uint8))[1].tobytes(), "OK", ""),
    ]


@pytest.fixture(scope="module")
def server():
    running = RecognizerServer(local_config()).start().load()
    yield running
    running.stop(1)


def test_bad_input_corpus_gets_its_answers_and_memory_stays_flat(server, digit_pool):
    shot = generate(digit_pool, "clean", np.random.default_rng(8))
    with ZipCodeClient(f"127.0.0.1:{server.port}", timeout=30) as client:
        def run_corpus():
            for name, image, code, message in _corpus():
                try:
                    answer = client.recognize(image)
                except grpc.RpcError as error:
                    assert error.code().name == code, name
                    assert message in error.details(), (name, error.details())
                    continue
                assert code == "OK", name
                assert not answer.accepted, name  # blank, black or noise is never a zip code
                if message:
                    assert answer.reject_reason == 1, name  # REJECT_REASON_NO_DIGITS

        run_corpus()  # warm: first-use allocations are not growth
        before = rss_bytes()
        for _ in range(15):
            run_corpus()
        growth = rss_bytes() - before
        assert growth < 40 * 1024 * 1024, f"memory grew by {growth / 2**20:.0f} MiB over 15 rounds"
        assert client.recognize(shot.encoded).zip_code == shot.code


def test_overload_is_refused_at_once_not_queued(digit_pool):
    busy = RecognizerServer(local_config(max_in_flight=3, threads=3)).start().load()
    try:
        rng = np.random.default_rng(4)
        shots = [generate(digit_pool, "hard", rng) for _ in range(40)]
        outcomes = {}
        barrier = threading.Barrier(40)
        with ZipCodeClient(f"127.0.0.1:{busy.port}", timeout=60) as client:
            def call(index):
                barrier.wait()
                try:
                    outcomes[index] = client.recognize(shots[index].encoded).zip_code
                except grpc.RpcError as error:
                    outcomes[index] = error.code()

            threads = [threading.Thread(target=call, args=(i,)) for i in range(40)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            refused = [i for i, v in outcomes.items() if v == grpc.StatusCode.RESOURCE_EXHAUSTED]
            answered = [i for i, v in outcomes.items() if isinstance(v, str)]
            assert len(outcomes) == 40 and len(refused) + len(answered) == 40
            assert refused and answered
            # The answered ones are answers to their own images: recognised as the pipeline reads them alone.
            for index in answered[:5]:
                assert client.recognize(shots[index].encoded).zip_code == outcomes[index]
    finally:
        busy.stop(1)


def test_a_call_past_its_deadline_is_not_worked_on(digit_pool):
    slow = RecognizerServer(local_config()).start().load()
    batcher = slow.engine.batcher
    predict = batcher._predict

    def slow_model(fields):  # a busy model, so that a queue forms behind it
        time.sleep(0.6)
        return predict(fields)

    batcher._predict = slow_model
    try:
        first, second = (generate(digit_pool, "clean", np.random.default_rng(seed)) for seed in (9, 10))
        with ZipCodeClient(f"127.0.0.1:{slow.port}", timeout=30) as client:
            before = sample_value(metrics_text(slow), "zipcode_batch_size_digits_count")
            occupying = client._stub.Recognize.future(pb.RecognizeRequest(image=first.encoded), timeout=30)
            time.sleep(0.2)  # the first call's digits are in the model now
            with pytest.raises(grpc.RpcError) as raised:
                client.recognize(second.encoded, timeout=0.2)  # waits behind it and gives up
            assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert occupying.result().zip_code == first.code
            time.sleep(1.0)
            after = metrics_text(slow)
            # One model call ran (the first call's); the second call's digits left the queue unrun.
            assert sample_value(after, "zipcode_batch_size_digits_count") == before + 1
            assert sample_value(after, "zipcode_requests_total", method="Recognize", code="CANCELLED") == 1
            batcher._predict = predict
            assert client.recognize(second.encoded).zip_code == second.code
    finally:
        batcher._predict = predict
        slow.stop(1)


def test_sigterm_answers_every_call_in_flight_then_exits_0(digit_pool, tmp_path):
    port, metrics = free_port(), free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as sink:  # a file, not a pipe: nobody drains a pipe while the test runs
        process = subprocess.Popen([sys.executable, "-m", "service", "--bind", "127.0.0.1", "--port", str(port),
                                    "--metrics-port", str(metrics), "--grace-seconds", "30"], stderr=sink)
    try:
        client = ZipCodeClient(f"127.0.0.1:{port}", timeout=90)
        wait_until_serving(client)
        rng = np.random.default_rng(12)
        shots = [generate(digit_pool, "hard", rng) for _ in range(60)]
        futures = [client._stub.Recognize.future(pb.RecognizeRequest(image=s.encoded), timeout=90) for s in shots]
        # Signal only once calls are accepted and being worked on, as the server's own gauge says.
        in_flight = 0
        while in_flight < 5 and not all(f.done() for f in futures):
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as page:
                in_flight = sample_value(page.read().decode(), "zipcode_requests_in_flight")
        assert in_flight >= 5
        process.send_signal(signal.SIGTERM)
        answered, refused = [], []
        for future, shot in zip(futures, shots):
            try:
                answered.append((future.result(), shot))
            except grpc.RpcError as error:
                # Only calls that had not reached the service may be turned away; none may fail otherwise.
                assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), error
                refused.append(shot)
        assert len(answered) >= in_flight  # every call in flight at the signal got its answer
        assert all(a.model_version == BUNDLED_VERSION for a, _ in answered)
        assert sum(a.zip_code == s.code for a, s in answered) >= 0.5 * len(answered)  # real reads (hard tier)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, log.read_text()[-3000:]
        stderr = log.read_text()
        assert "shutting down" in stderr and "stopped" in stderr
        assert "transport=plaintext (no TLS)" in stderr  # without TLS settings the log says so
        client.close()
    finally:
        if process.poll() is None:
            process.kill()


def _start_with_model(model: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service", "--bind", "127.0.0.1", "--port", "0",
                           "--metrics-port", "0", "--model", str(model)], capture_output=True, text=True, timeout=180)


def _wrong_signature_model(folder: Path) -> Path:
    import tensorflow as tf

    class Flat(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 784], tf.float32, name="pixels")])
        def serve(self, pixels):
            return {"scores": tf.zeros([tf.shape(pixels)[0], 10])}

    module = Flat()
    tf.saved_model.save(module, str(folder / "1"), signatures={"serving_default": module.serve})
    return folder


@pytest.mark.parametrize("fault", ["missing", "empty", "corrupt", "wrong signature"])
def test_a_bad_model_stops_the_server_at_start_with_one_line(tmp_path, fault):
    model = tmp_path / "model"
    if fault == "empty":
        model.mkdir()
    elif fault == "corrupt":
        (model / "1").mkdir(parents=True)
        (model / "1" / "saved_model.pb").write_bytes(b"\x08\x01garbage" * 10)
    elif fault == "wrong signature":
        model.mkdir()
        _wrong_signature_model(model)
    done = _start_with_model(model)
    assert done.returncode == 2
    # The server's own log lines (TensorFlow's start-up chatter has another format).
    errors = [line for line in done.stderr.splitlines() if re.match(r"\d{4}-\d\d-\d\d \S+ ERROR ", line)]
    assert len(errors) == 1 and "cannot load the model" in errors[0]
    expected = {"missing": "no such model folder", "empty": "no numbered version folders",
                "corrupt": "cannot load SavedModel", "wrong signature": "must take images uint8"}[fault]
    assert expected in errors[0]
