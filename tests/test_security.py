"""TLS and mutual TLS with certificates the test makes itself, and fuzzing of the decode and
segmentation path."""
import datetime as dt
import ipaddress
from dataclasses import replace

import cv2
import grpc
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.zipgen import SPECS, generate
from service.client import ZipCodeClient
from service.errors import InputError
from service.server import RecognizerServer
from service.servicer import _REASONS
from tests.test_server import local_config


def _certificate(name, key, issuer_name, issuer_key, ca=False, sans=()):
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    files = {}

    def write(stem, cert, key):
        files[f"{stem}.crt"] = folder / f"{stem}.crt"
        files[f"{stem}.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            files[f"{stem}.key"] = folder / f"{stem}.key"
            files[f"{stem}.key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))

    write("ca", ca, None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    write("server", _certificate("localhost", server_key, "test CA", ca_key,
                                 sans=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))), server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    write("client", _certificate("sorter-7", client_key, "test CA", ca_key), client_key)
    return {name: str(path) for name, path in files.items()}


def _shot(digit_pool):
    return generate(digit_pool, "clean", np.random.default_rng(31))


def test_tls_serves_only_encrypted_clients(pki, digit_pool):
    server = RecognizerServer(local_config(tls_cert=pki["server.crt"], tls_key=pki["server.key"])).start().load()
    shot = _shot(digit_pool)
    try:
        target = f"localhost:{server.port}"
        with ZipCodeClient(target, timeout=10, credentials=ZipCodeClient.tls(pki["ca.crt"])) as secure:
            assert secure.recognize(shot.encoded).zip_code == shot.code
        with ZipCodeClient(target, timeout=3) as plain, pytest.raises(grpc.RpcError) as raised:
            plain.recognize(shot.encoded)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(1)


def test_mutual_tls_requires_a_client_certificate(pki, digit_pool):
    server = RecognizerServer(local_config(tls_cert=pki["server.crt"], tls_key=pki["server.key"],
                                           tls_client_ca=pki["ca.crt"])).start().load()
    shot = _shot(digit_pool)
    try:
        target = f"localhost:{server.port}"
        with ZipCodeClient(target, timeout=10,
                           credentials=ZipCodeClient.tls(pki["ca.crt"], pki["client.crt"], pki["client.key"])) as known:
            assert known.recognize(shot.encoded).zip_code == shot.code
        with ZipCodeClient(target, timeout=3, credentials=ZipCodeClient.tls(pki["ca.crt"])) as anonymous, \
                pytest.raises(grpc.RpcError) as raised:
            anonymous.recognize(shot.encoded)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(1)


def test_tls_settings_are_checked_at_start(pki, tmp_path):
    from service.config import parse_config

    for argv, message in (
        (["--tls-cert", pki["server.crt"]], "go together"),
        (["--tls-client-ca", pki["ca.crt"]], "needs --tls-cert"),
        (["--tls-cert", str(tmp_path / "none.crt"), "--tls-key", pki["server.key"]], "no such file"),
    ):
        with pytest.raises(SystemExit) as raised:
            parse_config(argv, environ={})
        assert raised.value.code == 2, message


@pytest.fixture(scope="module")
def seeds(digit_pool):
    rng = np.random.default_rng(77)
    spec = replace(SPECS["realistic"], digit_height=(20, 40))  # small images keep thousands of runs quick
    shots = [generate(digit_pool, "realistic", rng, spec=spec) for _ in range(6)]
    gray = cv2.cvtColor(shots[0].image, cv2.COLOR_BGR2GRAY)
    return [s.encoded for s in shots] + [cv2.imencode(ext, gray)[1].tobytes() for ext in (".bmp", ".webp", ".tiff", ".jpg")]


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_images_only_ever_raise_input_errors(recognizer, seeds, data):
    """Flip, overwrite, insert, cut: whatever the bytes, the answer is a Recognition or an InputError."""
    image = bytearray(data.draw(st.sampled_from(seeds)))
    for _ in range(data.draw(st.integers(1, 6))):
        kind = data.draw(st.sampled_from(["flip", "overwrite", "cut", "insert", "header"]))
        at = data.draw(st.integers(0, max(0, len(image) - 1)))
        if kind == "flip" and image:
            image[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "overwrite":
            image[at: at + 4] = data.draw(st.binary(min_size=1, max_size=4))
        elif kind == "cut":
            del image[at:]
        elif kind == "insert":
            image[at:at] = data.draw(st.binary(min_size=1, max_size=64))
        else:  # the size fields in the first bytes, where decoders trust the file most
            image[min(at, 40): min(at, 40) + 4] = data.draw(st.binary(min_size=4, max_size=4))
    try:
        result = recognizer.recognize(bytes(image))
    except InputError:
        return
    assert result.reject_reason in _REASONS  # a reason the API has a value for
    assert 0.0 <= result.confidence <= 1.0
