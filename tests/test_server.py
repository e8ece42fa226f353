"""The gRPC service over a real channel on localhost: a real server on ephemeral ports, the bundled
SavedModel, generated images through real OpenCV decoding."""
import csv
import threading
import urllib.request

import cv2
import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from bench.zipgen import generate
from tests.conftest import BUNDLED_MODEL, BUNDLED_VERSION
from service.api import zipcode_pb2 as pb
from service.client import ZipCodeClient
from service.client_cli import main as client_main
from service.config import ServerConfig
from service.recognizer import RejectReason
from service.server import RecognizerServer
from service.servicer import _REASONS


def local_config(**changes) -> ServerConfig:
    settings = dict(bind="127.0.0.1", port=0, metrics_port=0, threads=40, max_batch_delay_ms=5.0,
                    max_message_bytes=4 * 1024 * 1024, max_pixels=2_000_000, grace_seconds=5)
    settings.update(changes)
    return ServerConfig(**settings)


@pytest.fixture(scope="module")
def server():
    running = RecognizerServer(local_config()).start().load()
    yield running
    running.stop(1)


@pytest.fixture
def client(server):
    with ZipCodeClient(f"127.0.0.1:{server.port}", timeout=30) as connected:
        yield connected


@pytest.fixture(scope="module")
def shots(digit_pool):
    rng = np.random.default_rng(44)
    return [generate(digit_pool, "clean", rng) for _ in range(40)]


def metrics_text(server) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as response:
        return response.read().decode()


def sample_value(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_recognize_returns_the_code(client, shots):
    for index, shot in enumerate(shots[:5]):
        answer = client.recognize(shot.encoded, request_id=f"item-{index}")
        assert answer.request_id == f"item-{index}"
        assert answer.zip_code == shot.code
        assert answer.accepted and answer.reject_reason == pb.REJECT_REASON_UNSPECIFIED
        assert answer.model_version == BUNDLED_VERSION
        assert [d.value for d in answer.digits] == [int(c) for c in shot.code]
        assert all(len(d.alternatives) == 3 and d.box.width > 0 for d in answer.digits)
        assert answer.confidence == pytest.approx(np.prod([d.confidence for d in answer.digits]), rel=1e-4)


def test_blank_image_is_a_normal_rejection(client):
    blank = cv2.imencode(".png", np.full((120, 400), 245, np.uint8))[1].tobytes()
    answer = client.recognize(blank, request_id="blank")
    assert not answer.accepted and answer.reject_reason == pb.REJECT_REASON_NO_DIGITS and answer.zip_code == ""


def test_a_photo_cut_through_a_digit_is_rejected_as_cut_off_and_counted(server, client, digit_pool):
    shot = generate(digit_pool, "clean", np.random.default_rng(11), code="45911", framing="cut_first")
    before = metrics_text(server)
    answer = client.recognize(shot.encoded)
    assert not answer.accepted and answer.reject_reason == pb.REJECT_REASON_CUT_OFF and len(answer.digits) == 5
    assert sample_value(metrics_text(server), "zipcode_rejections_total", reason="cut_off") == \
        sample_value(before, "zipcode_rejections_total", reason="cut_off") + 1


def test_every_reject_reason_has_its_value_in_the_api():
    reasons = {value for name, value in vars(RejectReason).items() if not name.startswith("_")}
    assert reasons <= set(_REASONS) and len(set(_REASONS.values())) == len(_REASONS)


def test_stream_answers_in_order_and_survives_a_bad_item(client, shots):
    images = [shots[0].encoded, b"not an image", shots[1].encoded, b"", shots[2].encoded]
    requests = [pb.RecognizeRequest(request_id=f"r{i}", image=image) for i, image in enumerate(images)]
    answers = list(client.recognize_stream(requests, timeout=60))
    assert [a.request_id for a in answers] == ["r0", "r1", "r2", "r3", "r4"]
    assert [a.zip_code for a in answers[::2]] == [shots[0].code, shots[1].code, shots[2].code]
    for bad in (answers[1], answers[3]):
        assert bad.error.code == "INVALID_ARGUMENT" and bad.error.message
        assert bad.reject_reason == pb.REJECT_REASON_INVALID_IMAGE and not bad.accepted
    assert "empty image" in answers[3].error.message
    assert not answers[0].HasField("error")


def test_classify_digits(client, subset_arrays):
    digits, labels = subset_arrays["x_test"][:64], subset_arrays["y_test"][:64]
    probabilities = client.classify_digits(digits)
    assert probabilities.shape == (64, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (probabilities.argmax(axis=1) == labels).mean() >= 0.98


@pytest.mark.parametrize("digits, message", [([], "no digits"), ([b"\x00" * 783], "digit 0 has 783 bytes")])
def test_classify_digits_refuses_malformed_input(client, digits, message):
    with pytest.raises(grpc.RpcError) as raised:
        client._stub.ClassifyDigits(pb.ClassifyDigitsRequest(digits=digits), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in raised.value.details()


def test_model_info(client):
    info = client.model_info()
    assert info.model_version == BUNDLED_VERSION and info.architecture == "ensemble"
    assert info.parameters == 2 * 871_978 and info.test_accuracy >= 0.996  # two zipnets, averaged
    assert info.device == "CPU"  # CI has no GPU
    assert 0 < info.default_min_confidence <= 1


def test_reflection_lists_the_service(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
        names = {service.name for answer in answers for service in answer.list_services_response.service}
    assert {"zipcode.v1.ZipCodeRecognizer", "grpc.health.v1.Health"} <= names


def test_metrics_parse_and_move(server, client, shots):
    before = metrics_text(server)
    client.recognize(shots[3].encoded)
    after = metrics_text(server)
    assert sample_value(after, "zipcode_requests_total", method="Recognize", code="OK") == \
        sample_value(before, "zipcode_requests_total", method="Recognize", code="OK") + 1
    assert sample_value(after, "zipcode_digits_recognized_total") >= sample_value(before, "zipcode_digits_recognized_total") + 5
    for stage in ("decode", "segment", "queue_wait", "inference"):
        assert sample_value(after, "zipcode_stage_duration_seconds_count", stage=stage) > 0
    assert sample_value(after, "zipcode_model_info", version=BUNDLED_VERSION, device="CPU") == 1


BAD_INPUTS = [
    (b"", grpc.StatusCode.INVALID_ARGUMENT, "empty image"),
    (b"just some text, no picture", grpc.StatusCode.INVALID_ARGUMENT, "not an image"),
    (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 30, grpc.StatusCode.INVALID_ARGUMENT, "unsupported image format GIF"),
    (cv2.imencode(".png", np.zeros((50, 50), np.uint8))[1].tobytes()[:60], grpc.StatusCode.INVALID_ARGUMENT, "corrupt or truncated PNG"),
    (cv2.imencode(".png", np.full((1500, 1500), 255, np.uint8))[1].tobytes(), grpc.StatusCode.RESOURCE_EXHAUSTED, "over the limit"),
    (b"\x89PNG" + bytes(5 * 1024 * 1024), grpc.StatusCode.RESOURCE_EXHAUSTED, ""),  # over the message size limit
]


@pytest.mark.parametrize("image, code, message", BAD_INPUTS, ids=["empty", "text", "gif", "truncated", "pixels", "bytes"])
def test_bad_input_gets_its_status_and_the_server_keeps_serving(client, shots, image, code, message):
    with pytest.raises(grpc.RpcError) as raised:
        client.recognize(image)
    assert raised.value.code() == code
    assert message in raised.value.details()
    assert client.recognize(shots[4].encoded).zip_code == shots[4].code


@pytest.mark.parametrize("field, value", [("expected_length", 7), ("min_confidence", 1.5)])
def test_bad_request_fields_are_invalid_argument(client, shots, field, value):
    with pytest.raises(grpc.RpcError) as raised:
        client._stub.Recognize(pb.RecognizeRequest(image=shots[0].encoded, **{field: value}), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in raised.value.details()


def test_32_concurrent_callers_are_batched_and_each_gets_its_own_answer(server, client, shots):
    alone = {i: client.recognize(shots[i].encoded).zip_code for i in range(32)}  # one call at a time
    assert sum(alone[i] == shots[i].code for i in range(32)) >= 30
    before = metrics_text(server)
    results: dict[int, str] = {}
    barrier = threading.Barrier(32)

    def call(index: int) -> None:
        barrier.wait()
        results[index] = client.recognize(shots[index].encoded, request_id=str(index)).zip_code

    threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == alone  # nothing crossed between requests: each got what its image reads alone
    after = metrics_text(server)
    calls = sample_value(after, "zipcode_batch_size_digits_count") - sample_value(before, "zipcode_batch_size_digits_count")
    digits = sample_value(after, "zipcode_batch_size_digits_sum") - sample_value(before, "zipcode_batch_size_digits_sum")
    assert digits >= 32 * 5
    # Batches bigger than one image: fewer model calls than requests.
    assert calls < 32
    small = sample_value(after, "zipcode_batch_size_digits_bucket", le="8.0") - sample_value(before, "zipcode_batch_size_digits_bucket", le="8.0")
    assert small < calls  # some model calls held more than 8 digits, that is more than one image


def test_health_goes_not_serving_serving_not_serving():
    fresh = RecognizerServer(local_config()).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{fresh.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = lambda: health.Check(health_pb2.HealthCheckRequest(service="zipcode.v1.ZipCodeRecognizer"), timeout=10).status
            assert check() == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.RpcError) as raised:  # not loaded yet: a clear UNAVAILABLE, not a hang
                pb_stub_call = ZipCodeClient(f"127.0.0.1:{fresh.port}", timeout=10)
                pb_stub_call.model_info()
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            fresh.load()
            assert check() == health_pb2.HealthCheckResponse.SERVING
            fresh.begin_shutdown()
            assert check() == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        fresh.stop(1)


def test_client_command_reads_a_folder_to_csv_and_checks_health(server, shots, tmp_path, capsys):
    folder = tmp_path / "items"
    folder.mkdir()
    for index, shot in enumerate(shots[:3]):
        (folder / f"{index}{shot.extension}").write_bytes(shot.encoded)
    (folder / "9.png").write_bytes(b"broken")
    out = tmp_path / "reads.csv"
    target = f"127.0.0.1:{server.port}"
    assert client_main(["--target", target, "--concurrency", "4", "--csv", str(out), str(folder)]) == 0
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["file", "zip_code", "confidence", "accepted", "reject_reason", "error", "suggested_zip_code"]
    assert [row[1] for row in rows[1:4]] == [shot.code for shot in shots[:3]]
    assert rows[4][5].startswith("INVALID_ARGUMENT")
    assert client_main(["--target", target, "health"]) == 0
    assert capsys.readouterr().out.strip().endswith("SERVING")


def test_health_mixed_with_image_paths_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        client_main(["--target", "127.0.0.1:1", "health", "some.png"])
    assert stopped.value.code == 2
    assert "without image paths" in capsys.readouterr().err


def test_health_command_fails_when_nobody_listens():
    with grpc.insecure_channel("127.0.0.1:1"):
        pass
    assert client_main(["--target", "127.0.0.1:1", "--timeout", "2", "health"]) == 1


def test_one_member_of_the_bundled_model_serves_with_model(tmp_path, shots, client):
    # The faster choice the README offers: one zipnet out of the bundled pair, served with --model.
    from training.cli import main as train_main

    assert train_main(["member", "--model", str(BUNDLED_MODEL), "--number", "2", "--export", str(tmp_path)]) == 0
    member = RecognizerServer(local_config(model=str(tmp_path))).start().load()
    try:
        with ZipCodeClient(f"127.0.0.1:{member.port}", timeout=30) as fast:
            info = fast.model_info()
            assert info.architecture == "zipnet" and info.parameters == 871_978 and info.model_version == "1"
            answers = [fast.recognize(shot.encoded) for shot in shots[:10]]
            assert sum(answer.zip_code == shot.code for answer, shot in zip(answers, shots)) >= 9
            assert all(answer.model_version == "1" for answer in answers)
            # Its own probabilities, not the pair's: the confidences differ from the bundled server's.
            paired = [client.recognize(shot.encoded).confidence for shot in shots[:10]]
            assert [answer.confidence for answer in answers] != pytest.approx(paired, abs=1e-6)
    finally:
        member.stop(1)
