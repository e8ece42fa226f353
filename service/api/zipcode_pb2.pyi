from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_NO_DIGITS: _ClassVar[RejectReason]
    REJECT_REASON_UNEXPECTED_LENGTH: _ClassVar[RejectReason]
    REJECT_REASON_LOW_CONFIDENCE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_IMAGE: _ClassVar[RejectReason]
    REJECT_REASON_CUT_OFF: _ClassVar[RejectReason]
    REJECT_REASON_ORIENTATION: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_CODE: _ClassVar[RejectReason]
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_NO_DIGITS: RejectReason
REJECT_REASON_UNEXPECTED_LENGTH: RejectReason
REJECT_REASON_LOW_CONFIDENCE: RejectReason
REJECT_REASON_INVALID_IMAGE: RejectReason
REJECT_REASON_CUT_OFF: RejectReason
REJECT_REASON_ORIENTATION: RejectReason
REJECT_REASON_UNKNOWN_CODE: RejectReason

class RecognizeRequest(_message.Message):
    __slots__ = ("request_id", "image", "expected_length", "min_confidence")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    image: bytes
    expected_length: int
    min_confidence: float
    def __init__(self, request_id: _Optional[str] = ..., image: _Optional[bytes] = ..., expected_length: _Optional[int] = ..., min_confidence: _Optional[float] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Alternative(_message.Message):
    __slots__ = ("digit", "probability")
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    digit: int
    probability: float
    def __init__(self, digit: _Optional[int] = ..., probability: _Optional[float] = ...) -> None: ...

class Digit(_message.Message):
    __slots__ = ("value", "confidence", "box", "alternatives")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    value: int
    confidence: float
    box: Box
    alternatives: _containers.RepeatedCompositeFieldContainer[Alternative]
    def __init__(self, value: _Optional[int] = ..., confidence: _Optional[float] = ..., box: _Optional[_Union[Box, _Mapping]] = ..., alternatives: _Optional[_Iterable[_Union[Alternative, _Mapping]]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RecognizeResponse(_message.Message):
    __slots__ = ("request_id", "zip_code", "accepted", "reject_reason", "confidence", "digits", "model_version", "error", "suggested_zip_code", "suggested_confidence")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ZIP_CODE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_ZIP_CODE_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    zip_code: str
    accepted: bool
    reject_reason: RejectReason
    confidence: float
    digits: _containers.RepeatedCompositeFieldContainer[Digit]
    model_version: str
    error: ItemError
    suggested_zip_code: str
    suggested_confidence: float
    def __init__(self, request_id: _Optional[str] = ..., zip_code: _Optional[str] = ..., accepted: _Optional[bool] = ..., reject_reason: _Optional[_Union[RejectReason, str]] = ..., confidence: _Optional[float] = ..., digits: _Optional[_Iterable[_Union[Digit, _Mapping]]] = ..., model_version: _Optional[str] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ..., suggested_zip_code: _Optional[str] = ..., suggested_confidence: _Optional[float] = ...) -> None: ...

class ClassifyDigitsRequest(_message.Message):
    __slots__ = ("digits",)
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    digits: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, digits: _Optional[_Iterable[bytes]] = ...) -> None: ...

class DigitProbabilities(_message.Message):
    __slots__ = ("probabilities", "digit", "confidence")
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    probabilities: _containers.RepeatedScalarFieldContainer[float]
    digit: int
    confidence: float
    def __init__(self, probabilities: _Optional[_Iterable[float]] = ..., digit: _Optional[int] = ..., confidence: _Optional[float] = ...) -> None: ...

class ClassifyDigitsResponse(_message.Message):
    __slots__ = ("results", "model_version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[DigitProbabilities]
    model_version: str
    def __init__(self, results: _Optional[_Iterable[_Union[DigitProbabilities, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("model_version", "architecture", "parameters", "test_accuracy", "device", "default_min_confidence", "tensorflow_version", "directory_codes")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TEST_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TENSORFLOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_CODES_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    architecture: str
    parameters: int
    test_accuracy: float
    device: str
    default_min_confidence: float
    tensorflow_version: str
    directory_codes: int
    def __init__(self, model_version: _Optional[str] = ..., architecture: _Optional[str] = ..., parameters: _Optional[int] = ..., test_accuracy: _Optional[float] = ..., device: _Optional[str] = ..., default_min_confidence: _Optional[float] = ..., tensorflow_version: _Optional[str] = ..., directory_codes: _Optional[int] = ...) -> None: ...
