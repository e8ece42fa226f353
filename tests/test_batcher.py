"""The dynamic batcher on its own, with a stand-in model that records every call."""
import threading

import numpy as np

from service.batcher import DynamicBatcher


class RecordingModel:
    def __init__(self):
        self.batches = []

    def __call__(self, fields):
        self.batches.append(len(fields))
        # Row i says which caller the digit came from: its first pixel.
        out = np.zeros((len(fields), 10), np.float32)
        out[np.arange(len(fields)), fields[:, 0, 0] % 10] = 1
        return out


def digits(owner: int, count: int) -> np.ndarray:
    fields = np.zeros((count, 28, 28), np.uint8)
    fields[:, 0, 0] = owner
    return fields


def test_a_lone_call_does_not_wait_out_the_delay():
    model = RecordingModel()
    batcher = DynamicBatcher(model, max_batch=64, max_delay_s=60.0, calls_in_flight=lambda: 1).start()
    try:
        result = {}
        worker = threading.Thread(target=lambda: result.setdefault("rows", batcher.classify(digits(3, 5))))
        worker.start()
        worker.join(10)  # with the 60 s delay honoured this would still be waiting
        assert not worker.is_alive()
        assert result["rows"].argmax(axis=1).tolist() == [3] * 5 and model.batches == [5]
    finally:
        batcher.stop()


def test_callers_in_flight_are_gathered_into_one_call_and_get_their_own_rows():
    model = RecordingModel()
    in_flight = 6
    batcher = DynamicBatcher(model, max_batch=64, max_delay_s=60.0, calls_in_flight=lambda: in_flight).start()
    try:
        results = {}
        threads = [threading.Thread(target=lambda i=i: results.setdefault(i, batcher.classify(digits(i, 1 + i))))
                   for i in range(in_flight)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert model.batches == [sum(1 + i for i in range(in_flight))]  # one model call for all six
        for i in range(in_flight):
            assert results[i].shape == (1 + i, 10) and (results[i].argmax(axis=1) == i).all()
    finally:
        batcher.stop()
