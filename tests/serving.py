"""Helpers for tests that start zipcode-server as a separate process."""
import time

import grpc


def wait_until_serving(client, seconds: float = 120) -> None:
    """Poll the standard health service until SERVING; fail the test if it never comes."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.health() == "SERVING":
                return
        except grpc.RpcError:
            pass  # not listening yet
        assert time.monotonic() < deadline, "the server did not report SERVING"
        time.sleep(0.3)
