"""What runs the model: TensorFlow Lite on a CPU (the bundled SavedModel converted at start), the
SavedModel itself in TensorFlow on a GPU; and the gate that limits the images worked on at once."""
import threading
import time
import urllib.request

import numpy as np
import pytest

from bench.zipgen import generate
from service.config import parse_config
from service.gate import FairGate
from service.model import SECOND_OPINION_BELOW, _Cascade, chosen_engine, classifier


@pytest.fixture(scope="module")
def lite(bundled_model):
    lite = classifier(bundled_model, "tflite")
    assert lite.engine == "tflite"
    return lite


def test_the_lite_engine_gives_the_savedmodel_s_probabilities(bundled_model, lite, subset):
    # The bundled ensemble runs as a cascade: where its first member is sure, that member's probabilities
    # stand for the average; everywhere else they are the SavedModel's own.
    asked_both = taken_from_first = 0
    # Batch sizes change from call to call in the service; each new size re-plans the interpreter.
    for count in (1, 7, 200, 7):
        digits = subset.x_test[:count]
        expected = bundled_model.predict(digits).numpy()
        got = lite(digits)
        assert got.shape == (count, 10)
        assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
        first = lite.first(digits)
        sure = first.max(axis=1) >= SECOND_OPINION_BELOW
        assert np.abs(got[~sure] - expected[~sure]).max(initial=0) < 1e-4
        assert np.array_equal(got[sure], first[sure])
        asked_both, taken_from_first = asked_both + int((~sure).sum()), taken_from_first + int(sure.sum())
    assert asked_both > 0 and taken_from_first > 0


def test_the_cascade_averages_the_members_where_the_first_is_unsure():
    first = lambda fields: np.array([[0.99999, 0.00001, 0.0], [0.6, 0.4, 0.0]], np.float32)[: len(fields)]
    second = lambda fields: np.tile(np.array([[0.2, 0.8, 0.0]], np.float32), (len(fields), 1))
    asked = []
    cascade = _Cascade(first, [lambda fields: asked.append(len(fields)) or second(fields)], "tflite")
    got = cascade(np.zeros((2, 28, 28), np.uint8))
    assert asked == [1]  # only the unsure row
    assert np.allclose(got[0], [0.99999, 0.00001, 0.0])
    assert np.allclose(got[1], [0.4, 0.6, 0.0])  # the average now reads the second digit


def test_the_int8_engine_is_quantised_and_reads_as_the_savedmodel_does(bundled_model, lite, subset):
    int8 = classifier(bundled_model, "tflite-int8")
    assert int8.engine == "tflite-int8"
    assert len(int8.first.flatbuffer) < 0.35 * len(lite.first.flatbuffer)  # 8-bit weights instead of 32-bit floats
    digits = subset.x_test[:500]
    expected = bundled_model.predict(digits).numpy()
    got = int8(digits)
    assert not np.array_equal(got, lite(digits))  # really another model, not the float one again
    assert np.abs(got - expected).max() < 0.1
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.995


def test_the_lite_engine_answers_threads_calling_at_once(lite, subset):
    # One interpreter per thread: calls from several threads at once must not mix their rows.
    batches = [subset.x_test[start: start + size] for start, size in ((0, 3), (10, 9), (40, 17), (80, 1))]
    expected = [lite(batch) for batch in batches]
    failures = []

    def hammer(index: int) -> None:
        for _ in range(20):
            if not np.array_equal(lite(batches[index]), expected[index]):
                failures.append(index)

    threads = [threading.Thread(target=hammer, args=(i % 4,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_auto_picks_lite_on_a_cpu_and_tensorflow_on_a_gpu():
    assert chosen_engine("auto", "CPU") == "tflite"
    assert chosen_engine("auto", "GPU:0 (NVIDIA H100)") == "tensorflow"
    assert chosen_engine("tensorflow", "CPU") == "tensorflow"
    assert chosen_engine("tflite-int8", "CPU") == "tflite-int8"  # never chosen by auto: it changes answers
    assert parse_config(["--engine", "tflite-int8"], environ={}).engine == "tflite-int8"
    with pytest.raises(ValueError):
        chosen_engine("onnx", "CPU")


@pytest.mark.parametrize("argv", [["--engine", "onnx"], ["--pipelines", "0"]])
def test_engine_and_pipelines_settings_are_checked_at_start(argv):
    with pytest.raises(SystemExit) as raised:
        parse_config(argv, environ={})
    assert raised.value.code == 2


def test_the_gate_serves_waiting_calls_in_the_order_they_came():
    gate = FairGate(1)
    gate.acquire()
    order = []

    def call(index: int) -> None:
        gate.acquire()
        order.append(index)
        gate.release()

    threads = []
    for index in range(5):
        threads.append(threading.Thread(target=call, args=(index,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while len(gate._waiting) < index + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # each call queued before the next arrives
    gate.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_the_gate_holds_calls_beyond_its_places():
    gate = FairGate(2)
    gate.acquire()
    gate.acquire()
    third = threading.Thread(target=gate.acquire)
    third.start()
    third.join(0.2)
    assert third.is_alive()  # no third place
    gate.release()
    third.join(5)
    assert not third.is_alive()


def test_a_model_lite_cannot_convert_runs_in_tensorflow_under_auto(bundled_model, subset, monkeypatch):
    import service.model as model_module
    from training.errors import ModelDirError

    def refuse(model):
        raise ValueError("op not supported")

    monkeypatch.setattr(model_module, "_to_tflite", refuse)
    fallback = classifier(bundled_model, "auto")
    assert fallback.engine == "tensorflow"
    assert (fallback(subset.x_test[:5]).argmax(axis=1) == bundled_model.predict(subset.x_test[:5]).numpy().argmax(axis=1)).all()
    with pytest.raises(ModelDirError, match="--engine tensorflow"):
        classifier(bundled_model, "tflite")  # asked for explicitly: say so at start


def test_a_server_under_auto_starts_on_tensorflow_when_lite_cannot_convert(monkeypatch):
    import service.model as model_module
    from service.metrics import Metrics
    from service.server import load_engine
    from tests.test_server import local_config

    def refuse(model):
        raise ValueError("op not supported")

    monkeypatch.setattr(model_module, "_to_tflite", refuse)
    engine = load_engine(local_config(engine="auto"), Metrics())
    assert engine.runtime == "tensorflow"
    if engine.batcher is not None:
        engine.batcher.stop()


def test_a_server_on_the_int8_engine_reads_fields_and_says_what_runs_it(digit_pool):
    from service.client import ZipCodeClient
    from service.server import RecognizerServer
    from tests.test_server import local_config

    server = RecognizerServer(local_config(engine="tflite-int8")).start().load()
    try:
        rng = np.random.default_rng(8)
        shots = [generate(digit_pool, "clean", rng) for _ in range(10)]
        with ZipCodeClient(f"127.0.0.1:{server.port}", timeout=10) as client:
            assert sum(client.recognize(shot.encoded).zip_code == shot.code for shot in shots) >= 9
        with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as page:
            assert 'engine="tflite-int8"' in page.read().decode()
    finally:
        server.stop(1)
