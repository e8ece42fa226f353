"""A Python client for sorting systems.

    from service.client import ZipCodeClient

    with ZipCodeClient("localhost:50051", timeout=2.0) as client:
        answer = client.recognize(open("item.jpg", "rb").read(), request_id="item-1")
        if answer.accepted:
            route(answer.zip_code)

Every call has a deadline (the client's timeout unless the call gives its own); a call that misses it
raises grpc.RpcError with DEADLINE_EXCEEDED, as does any other failure with its status code.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.api import zipcode_pb2 as pb
from service.api import zipcode_pb2_grpc as pb_grpc

DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class ZipCodeClient:
    def __init__(self, target: str = "localhost:50051", timeout: float = 5.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 credentials: grpc.ChannelCredentials | None = None):
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
        self.channel = (grpc.secure_channel(target, credentials, options) if credentials
                        else grpc.insecure_channel(target, options))
        self.timeout = timeout
        self._stub = pb_grpc.ZipCodeRecognizerStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def recognize(self, image: bytes, request_id: str = "", expected_length: int = 0,
                  min_confidence: float = 0.0, timeout: float | None = None) -> pb.RecognizeResponse:
        request = pb.RecognizeRequest(request_id=request_id, image=image, expected_length=expected_length,
                                      min_confidence=min_confidence)
        return self._stub.Recognize(request, timeout=timeout or self.timeout)

    def recognize_stream(self, requests: Iterable[pb.RecognizeRequest], timeout: float | None = None) -> Iterator[pb.RecognizeResponse]:
        """Answers in request order; the deadline covers the whole stream (None: no deadline)."""
        return self._stub.RecognizeStream(iter(requests), timeout=timeout)

    def classify_digits(self, digits: np.ndarray, timeout: float | None = None) -> np.ndarray:
        """digits: uint8 [N, 28, 28], MNIST-normalised. Returns probabilities [N, 10]."""
        digits = np.ascontiguousarray(digits, dtype=np.uint8).reshape(-1, 28, 28)
        response = self._stub.ClassifyDigits(pb.ClassifyDigitsRequest(digits=[d.tobytes() for d in digits]),
                                             timeout=timeout or self.timeout)
        return np.array([list(r.probabilities) for r in response.results], np.float32)

    def model_info(self, timeout: float | None = None) -> pb.ModelInfo:
        return self._stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=timeout or self.timeout)

    def health(self, service: str = "", timeout: float | None = None) -> str:
        """'SERVING', 'NOT_SERVING', ... as the standard gRPC health service reports it."""
        response = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout or self.timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    @staticmethod
    def tls(ca: str | None = None, cert: str | None = None, key: str | None = None) -> grpc.ChannelCredentials:
        """Channel credentials from PEM files: the CA that signed the server's certificate (None: the
        system's), and for mutual TLS this client's certificate and key."""
        read = lambda path: open(path, "rb").read() if path else None
        return grpc.ssl_channel_credentials(read(ca), read(key), read(cert))

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "ZipCodeClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
