"""The ZipCodeRecognizer RPCs: validate the request, run the pipeline, translate the answer to the API,
and map input errors to the status codes the API promises."""
from __future__ import annotations

from concurrent.futures import CancelledError

import grpc
import numpy as np

from service.api import zipcode_pb2 as pb
from service.api import zipcode_pb2_grpc as pb_grpc
from service.errors import ImageTooLarge, InputError
from service.recognizer import Recognition, RejectReason

MAX_CLASSIFY_DIGITS = 4096
_REASONS = {
    None: pb.REJECT_REASON_UNSPECIFIED,
    RejectReason.NO_DIGITS: pb.REJECT_REASON_NO_DIGITS,
    RejectReason.UNEXPECTED_LENGTH: pb.REJECT_REASON_UNEXPECTED_LENGTH,
    RejectReason.LOW_CONFIDENCE: pb.REJECT_REASON_LOW_CONFIDENCE,
    RejectReason.CUT_OFF: pb.REJECT_REASON_CUT_OFF,
    RejectReason.ORIENTATION: pb.REJECT_REASON_ORIENTATION,
    RejectReason.UNKNOWN_CODE: pb.REJECT_REASON_UNKNOWN_CODE,
}


def status_of(error: InputError) -> grpc.StatusCode:
    return grpc.StatusCode.RESOURCE_EXHAUSTED if isinstance(error, ImageTooLarge) else grpc.StatusCode.INVALID_ARGUMENT


def _check_request(request: pb.RecognizeRequest) -> None:
    if request.expected_length not in (0, 5, 9):
        raise InputError(f"expected_length must be 0 (any), 5 or 9, not {request.expected_length}")
    if not 0.0 <= request.min_confidence <= 1.0:
        raise InputError(f"min_confidence must be between 0 and 1, not {request.min_confidence}")


def to_response(request_id: str, recognition: Recognition, model_version: str) -> pb.RecognizeResponse:
    return pb.RecognizeResponse(
        request_id=request_id,
        zip_code=recognition.zip_code,
        accepted=recognition.accepted,
        reject_reason=_REASONS[recognition.reject_reason],
        confidence=recognition.confidence,
        model_version=model_version,
        suggested_zip_code=recognition.suggested_zip_code,
        suggested_confidence=recognition.suggested_confidence,
        digits=[
            pb.Digit(
                value=d.value,
                confidence=d.confidence,
                box=pb.Box(x=d.box[0], y=d.box[1], width=d.box[2], height=d.box[3]),
                alternatives=[pb.Alternative(digit=digit, probability=p) for digit, p in d.alternatives],
            )
            for d in recognition.digits
        ],
    )


class ZipCodeServicer(pb_grpc.ZipCodeRecognizerServicer):
    def __init__(self, engine, metrics):
        self._engine = engine  # service.server.Engine, or None until the model is loaded
        self._metrics = metrics

    def attach(self, engine) -> None:
        self._engine = engine

    def _ready(self, context):
        if self._engine is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the model is still loading; retry shortly")
        return self._engine

    def _classifier_for(self, context):
        """The engine's classifier, told when this call is gone so its digits leave the batch queue."""
        engine = self._engine
        if engine.batcher is None:
            return engine.classify
        return lambda fields: engine.batcher.classify(fields, cancelled=lambda: not context.is_active())

    @staticmethod
    def _wait_for_turn(gate, context) -> None:
        """A place among the images worked on at once (--pipelines), first come first served; a call
        whose client left while it waited gives its turn on."""
        gate.acquire()
        if not context.is_active():
            gate.release()
            raise CancelledError()

    def _recognize(self, request: pb.RecognizeRequest, context) -> pb.RecognizeResponse:
        _check_request(request)
        engine = self._engine
        self._wait_for_turn(engine.gate, context)
        try:
            recognition = engine.recognizer.recognize(request.image, request.expected_length,
                                                      request.min_confidence or None,
                                                      classify=self._classifier_for(context))
        finally:
            engine.gate.release()
        self._observe(recognition)
        return to_response(request.request_id, recognition, engine.version)

    def _observe(self, recognition: Recognition) -> None:
        m = self._metrics
        for stage in ("decode", "segment"):
            m.stage.labels(stage).observe(recognition.stage_seconds.get(stage, 0.0))
        m.digits.inc(len(recognition.digits))
        for digit in recognition.digits:
            m.confidence.observe(digit.confidence)
        if recognition.reject_reason:
            m.rejections.labels(recognition.reject_reason).inc()

    @staticmethod
    def _gone(context, outcome) -> bool:
        """A call whose client has gone (deadline passed while it waited for a thread, or cancelled)
        is not worked on."""
        if context.is_active():
            return False
        outcome["code"] = "CANCELLED"
        return True

    def Recognize(self, request, context):
        with self._metrics.call("Recognize") as outcome:
            self._ready(context)
            if self._gone(context, outcome):
                return pb.RecognizeResponse()
            try:
                return self._recognize(request, context)
            except CancelledError:
                outcome["code"] = "CANCELLED"
                return pb.RecognizeResponse()
            except InputError as error:
                outcome["code"] = status_of(error).name
                context.abort(status_of(error), str(error))

    def RecognizeStream(self, request_iterator, context):
        self._ready(context)
        for request in request_iterator:
            with self._metrics.call("RecognizeStream") as outcome:
                if self._gone(context, outcome):
                    return
                try:
                    yield self._recognize(request, context)
                except CancelledError:
                    outcome["code"] = "CANCELLED"
                    return
                except InputError as error:
                    outcome["code"] = status_of(error).name
                    self._metrics.rejections.labels("invalid_image").inc()
                    yield pb.RecognizeResponse(
                        request_id=request.request_id,
                        accepted=False,
                        reject_reason=pb.REJECT_REASON_INVALID_IMAGE,
                        model_version=self._engine.version,
                        error=pb.ItemError(code=status_of(error).name, message=str(error)),
                    )

    def ClassifyDigits(self, request, context):
        with self._metrics.call("ClassifyDigits") as outcome:
            engine = self._ready(context)
            problem = None
            if not request.digits:
                problem = "no digits: send at least one 784-byte 28x28 image"
            elif len(request.digits) > MAX_CLASSIFY_DIGITS:
                problem = f"{len(request.digits)} digits is over the limit of {MAX_CLASSIFY_DIGITS} per call"
            else:
                wrong = next((i for i, d in enumerate(request.digits) if len(d) != 784), None)
                if wrong is not None:
                    problem = f"digit {wrong} has {len(request.digits[wrong])} bytes; each must be 784 (28x28 uint8)"
            if problem:
                outcome["code"] = "INVALID_ARGUMENT"
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            fields = np.frombuffer(b"".join(request.digits), np.uint8).reshape(-1, 28, 28)
            try:
                probabilities = self._classifier_for(context)(fields)
            except CancelledError:
                outcome["code"] = "CANCELLED"
                return pb.ClassifyDigitsResponse()
            return pb.ClassifyDigitsResponse(
                model_version=engine.version,
                results=[
                    pb.DigitProbabilities(probabilities=row.tolist(), digit=int(row.argmax()), confidence=float(row.max()))
                    for row in probabilities
                ],
            )

    def GetModelInfo(self, request, context):
        with self._metrics.call("GetModelInfo"):
            return self._ready(context).info
