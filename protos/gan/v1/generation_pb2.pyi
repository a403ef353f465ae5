import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_SUCCEEDED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELED: _ClassVar[JobStatus]
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELED: JobStatus

class GenerateRequest(_message.Message):
    __slots__ = ("digit", "count", "seed", "grid", "interpolation", "dataset")
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    digit: int
    count: int
    seed: int
    grid: GridSpec
    interpolation: InterpolationSpec
    dataset: str
    def __init__(self, digit: _Optional[int] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ..., grid: _Optional[_Union[GridSpec, _Mapping]] = ..., interpolation: _Optional[_Union[InterpolationSpec, _Mapping]] = ..., dataset: _Optional[str] = ...) -> None: ...

class GridSpec(_message.Message):
    __slots__ = ("digits", "seeds_per_digit")
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    SEEDS_PER_DIGIT_FIELD_NUMBER: _ClassVar[int]
    digits: _containers.RepeatedScalarFieldContainer[int]
    seeds_per_digit: int
    def __init__(self, digits: _Optional[_Iterable[int]] = ..., seeds_per_digit: _Optional[int] = ...) -> None: ...

class InterpolationSpec(_message.Message):
    __slots__ = ("start_digit", "end_digit", "start_seed", "end_seed", "frames")
    START_DIGIT_FIELD_NUMBER: _ClassVar[int]
    END_DIGIT_FIELD_NUMBER: _ClassVar[int]
    START_SEED_FIELD_NUMBER: _ClassVar[int]
    END_SEED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    start_digit: int
    end_digit: int
    start_seed: int
    end_seed: int
    frames: int
    def __init__(self, start_digit: _Optional[int] = ..., end_digit: _Optional[int] = ..., start_seed: _Optional[int] = ..., end_seed: _Optional[int] = ..., frames: _Optional[int] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "include_png")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PNG_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    include_png: bool
    def __init__(self, job_id: _Optional[str] = ..., include_png: _Optional[bool] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("index", "digit", "seed", "url", "png", "row", "column", "fraction")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    index: int
    digit: int
    seed: int
    url: str
    png: bytes
    row: int
    column: int
    fraction: float
    def __init__(self, index: _Optional[int] = ..., digit: _Optional[int] = ..., seed: _Optional[int] = ..., url: _Optional[str] = ..., png: _Optional[bytes] = ..., row: _Optional[int] = ..., column: _Optional[int] = ..., fraction: _Optional[float] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "status", "digit", "count", "seed", "model_version", "error", "created_at", "started_at", "finished_at", "images", "url", "kind", "artifact_url", "dataset")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URL_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: JobStatus
    digit: int
    count: int
    seed: int
    model_version: str
    error: str
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    images: _containers.RepeatedCompositeFieldContainer[Image]
    url: str
    kind: str
    artifact_url: str
    dataset: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., digit: _Optional[int] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ..., model_version: _Optional[str] = ..., error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., url: _Optional[str] = ..., kind: _Optional[str] = ..., artifact_url: _Optional[str] = ..., dataset: _Optional[str] = ...) -> None: ...

class GeneratedImage(_message.Message):
    __slots__ = ("job_id", "index", "digit", "seed", "png", "url", "row", "column", "fraction")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: int
    digit: int
    seed: int
    png: bytes
    url: str
    row: int
    column: int
    fraction: float
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[int] = ..., digit: _Optional[int] = ..., seed: _Optional[int] = ..., png: _Optional[bytes] = ..., url: _Optional[str] = ..., row: _Optional[int] = ..., column: _Optional[int] = ..., fraction: _Optional[float] = ...) -> None: ...
