"""Several server processes on one port, and the load generator, against real servers on localhost."""
import asyncio
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np

from bench.load import LoadResult, run_load
from bench.throughput import free_port
from bench.zipgen import generate
from service.client import ZipCodeClient
from tests.serving import wait_until_serving
from tests.test_server import local_config, sample_value


def test_load_generator_reports_throughput_latency_and_correctness(digit_pool):
    from service.server import RecognizerServer

    server = RecognizerServer(local_config()).start().load()
    try:
        rng = np.random.default_rng(3)
        corpus = [(s.encoded, s.code) for s in (generate(digit_pool, "clean", rng) for _ in range(10))]
        corpus.append((b"junk", None))
        started = time.perf_counter()
        result: LoadResult = asyncio.run(run_load(f"127.0.0.1:{server.port}", corpus, 4, 2.0))
        assert time.perf_counter() - started < 30  # stops by itself
        summary = result.summary()
        assert summary["rps"] > 0 and summary["p50_ms"] <= summary["p99_ms"]
        assert result.errors > 0  # the junk image is an error, counted
        assert summary["correct"] >= 0.9
        stream = asyncio.run(run_load(f"127.0.0.1:{server.port}", corpus[:10], 2, 1.0, mode="stream"))
        assert stream.errors == 0 and len(stream.latencies) > 0 and stream.correct == stream.labelled
    finally:
        server.stop(1)


def test_two_workers_share_the_port_and_stop_cleanly(digit_pool, tmp_path):
    port, metrics = free_port(), free_port()
    while metrics + 1 == port:
        metrics = free_port()
    with open(tmp_path / "server.log", "w") as sink:  # a file: nobody drains a pipe while the test runs
        process = subprocess.Popen([sys.executable, "-m", "service", "--bind", "127.0.0.1", "--port", str(port),
                                    "--metrics-port", str(metrics), "--workers", "2"], stderr=sink)
    try:
        with ZipCodeClient(f"127.0.0.1:{port}", timeout=10) as client:
            wait_until_serving(client)
            shot = generate(digit_pool, "clean", np.random.default_rng(5))
            assert client.recognize(shot.encoded).zip_code == shot.code
        # Each worker has its own metrics port, and both come up with their model loaded (the info
        # sample appears once the model is).
        for index in (0, 1):
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{metrics + index}/metrics", timeout=5) as page:
                        if b"zipcode_model_info{" in page.read():
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"worker {index} did not load its model"
                time.sleep(0.5)
        # The load generator spreads its callers over several connections, as several sorting machines
        # would: SO_REUSEPORT hands out connections, so both workers get calls.
        rng = np.random.default_rng(6)
        corpus = [(s.encoded, s.code) for s in (generate(digit_pool, "clean", rng) for _ in range(6))]
        result = asyncio.run(run_load(f"127.0.0.1:{port}", corpus, 16, 3.0, connections=16))
        assert result.errors == 0 and result.labelled > 0
        for index in (0, 1):
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics + index}/metrics", timeout=5) as page:
                answered = sample_value(page.read().decode(), "zipcode_requests_total", method="Recognize", code="OK")
            assert answered > 0, f"worker {index} answered no call"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_the_benchmark_counts_the_cpu_of_a_server_and_of_the_processes_under_it():
    from bench.throughput import cpu_seconds

    # A parent that only waits, and a child that spins for a second of CPU and then idles a while: the
    # shape of a server with --workers.
    child = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass\ntime.sleep(5)\n"
    waits_for_child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    parent = subprocess.Popen([sys.executable, "-c", waits_for_child])
    try:
        deadline, used = time.monotonic() + 20, 0.0
        while time.monotonic() < deadline and used < 0.9:
            time.sleep(0.1)
            used = cpu_seconds(parent.pid)
        assert used >= 0.9  # the parent alone uses a few hundredths: the child's second is counted
    finally:
        parent.kill()  # the child ends by itself a few seconds later
        parent.wait(10)
    assert cpu_seconds(2 ** 22 + 12345) is None  # above Linux's largest pid: no such process


def test_the_model_alone_is_timed_on_the_fields_the_recogniser_classifies(digit_pool, bundled_model):
    from bench.throughput import TIMED_ENGINES, classified_fields, engines, model_rows

    rng = np.random.default_rng(12)
    shots = [generate(digit_pool, "realistic", rng) for _ in range(4)]
    predictors = engines(bundled_model)
    assert tuple(predictors) == TIMED_ENGINES
    fields = classified_fields([(shot.encoded, shot.code) for shot in shots], predictors["tflite"])
    written = sum(len(shot.code.replace("-", "")) for shot in shots)
    assert fields.dtype == np.uint8 and fields.shape[1:] == (28, 28)
    assert len(fields) >= written  # every digit written, and the cuttings and joins tried beside them
    assert (fields.reshape(len(fields), -1).max(axis=1) > 200).all()  # ink scaled as MNIST's, no blank fields
    rows = model_rows(predictors, np.concatenate([fields] * 16), seconds_each=0.05)
    assert [row["what"] for row in rows][:3] == [f"model alone (tflite), batch {b}" for b in (1, 32, 256)]
    assert all(row["digits_per_s"] > 0 for row in rows)
