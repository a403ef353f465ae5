"""``gan.v1.GenerationService``: thin handlers that validate, call one service, and convert.

Domain errors become status codes in one place, :func:`handle_errors`.
"""

import functools
import inspect
import logging

import grpc
import redis
from django.conf import settings
from django.db import close_old_connections
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from backend.jobs import events, services
from backend.jobs.models import JobStatus
from backend.jobs.selectors import JobExpiredError, JobNotFoundError, job_get
from protos.gan.v1 import generation_pb2 as pb
from protos.gan.v1 import generation_pb2_grpc

logger = logging.getLogger(__name__)

# Seconds one blocking read of a job's image stream waits before the handler checks
# that its call is still active. It bounds how long a handler outlives a canceled call.
STREAM_POLL_SECONDS = 0.2

class TokenRequiredError(Exception):
    """The call carried no valid API token while ``GAN["REQUIRE_TOKEN"]`` is on."""


STATUS_CODES = [
    (services.InvalidParameterError, grpc.StatusCode.INVALID_ARGUMENT),
    (JobNotFoundError, grpc.StatusCode.NOT_FOUND),
    (JobExpiredError, grpc.StatusCode.NOT_FOUND),
    (services.ModelUnavailableError, grpc.StatusCode.FAILED_PRECONDITION),
    (services.QueueUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (services.QueueFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (redis.RedisError, grpc.StatusCode.UNAVAILABLE),
    (TokenRequiredError, grpc.StatusCode.UNAUTHENTICATED),
]
DOMAIN_ERRORS = tuple(error for error, _ in STATUS_CODES)

JOB_STATUSES = {
    JobStatus.QUEUED: pb.JOB_STATUS_QUEUED,
    JobStatus.RUNNING: pb.JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: pb.JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: pb.JOB_STATUS_FAILED,
    JobStatus.CANCELED: pb.JOB_STATUS_CANCELED,
}


class UndecodableRequest:
    """A request body that is not a valid ``message_type`` message, passed to the handler in its place.

    gRPC itself ends such a call with INTERNAL ("Exception deserializing request!"). The
    handler returns INVALID_ARGUMENT instead, because the fault is the client's.
    """

    def __init__(self, message_type, error):
        self.message_type, self.error = message_type, error

    def invalid_parameter_error(self):
        name = self.message_type.DESCRIPTOR.full_name
        return services.InvalidParameterError(
            "request", f"the request body is not a valid {name} message ({self.error}); send it with stubs "
                       "generated from protos/gan/v1/generation.proto")


def lenient_parser(message_type):
    """Return a request deserializer that gives an :class:`UndecodableRequest` instead of raising."""
    def parse(data):
        try:
            return message_type.FromString(data)
        except DecodeError as error:
            return UndecodableRequest(message_type, error)
    return parse


def add_generation_service(servicer, server):
    """Register ``servicer`` on ``server``, with :func:`lenient_parser` as each method's request deserializer.

    Otherwise it registers the same handlers as the generated ``add_GenerationServiceServicer_to_server``.
    """
    service = pb.DESCRIPTOR.services_by_name["GenerationService"]
    handlers = {}
    for method in service.methods:
        request_type, response_type = getattr(pb, method.input_type.name), getattr(pb, method.output_type.name)
        if method.server_streaming:
            make_handler = grpc.unary_stream_rpc_method_handler
        else:
            make_handler = grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make_handler(getattr(servicer, method.name),
                                             request_deserializer=lenient_parser(request_type),
                                             response_serializer=response_type.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def check_request(request):
    """Raise InvalidParameterError for a body that could not be decoded."""
    if isinstance(request, UndecodableRequest):
        raise request.invalid_parameter_error()


def status_code_for(error):
    return next(code for kind, code in STATUS_CODES if isinstance(error, kind))


def check_token(context):
    """Accept the call's ``authorization: Token <key>`` metadata, when tokens are required."""
    if not settings.GAN["REQUIRE_TOKEN"]:
        return
    from rest_framework.authtoken.models import Token

    metadata = dict(context.invocation_metadata())
    scheme, _, key = metadata.get("authorization", "").partition(" ")
    if scheme != "Token" or not Token.objects.filter(key=key.strip(), user__is_active=True).exists():
        raise TokenRequiredError("a valid API token is required: send the metadata 'authorization: Token <key>'")


def handle_errors(method):
    """Check the token, map domain errors to status codes, and give each call fresh database connections.

    Works for unary handlers and for streaming handlers (generator functions).
    """
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def streaming(self, request, context):
            close_old_connections()
            try:
                check_token(context)
                check_request(request)
                yield from method(self, request, context)
            except DOMAIN_ERRORS as error:
                context.abort(status_code_for(error), str(error))
            finally:
                close_old_connections()
        return streaming

    @functools.wraps(method)
    def unary(self, request, context):
        close_old_connections()
        try:
            check_token(context)
            check_request(request)
            return method(self, request, context)
        except DOMAIN_ERRORS as error:
            context.abort(status_code_for(error), str(error))
        finally:
            close_old_connections()
    return unary


def required_job_id(request):
    """Return the request's ``job_id``; an empty one is a missing argument, not an unknown job."""
    if not request.job_id:
        raise services.InvalidParameterError("job_id", "job_id is required: pass the id of the Job that Generate returned")
    return request.job_id


def absolute_url(path):
    return settings.GAN["PUBLIC_BASE_URL"].rstrip("/") + path


def timestamp(value):
    if value is None:
        return None
    message = Timestamp()
    message.FromDatetime(value)
    return message


def job_message(job, include_png=False):
    from django.urls import reverse

    message = pb.Job(
        id=str(job.id), status=JOB_STATUSES[job.status], count=job.count, seed=job.seed, kind=job.kind,
        dataset=job.dataset,
        artifact_url=absolute_url(job.artifact.url) if job.artifact else "",
        model_version=job.model_version, error=job.error,
        created_at=timestamp(job.created_at), started_at=timestamp(job.started_at),
        finished_at=timestamp(job.finished_at), url=absolute_url(reverse("job-detail", kwargs={"job_id": job.id})),
    )
    if job.digit is not None:
        message.digit = job.digit
    # Stored images are listed whatever the status (a canceled job keeps its images), as over REST.
    for image in job.images.all():
        png = b""
        if include_png:
            with image.file.open("rb") as handle:
                png = handle.read()
        message.images.append(pb.Image(index=image.index, digit=image.digit, seed=image.seed,
                                       url=absolute_url(image.file.url), png=png, row=image.row,
                                       column=image.column, fraction=image.fraction))
    return message


def optional_fields(message, names):
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def request_parameters(request, *, max_count, stream_hint):
    """Turn a GenerateRequest into ``services.job_create`` arguments, validating plain-images ranges here."""
    digit = request.digit if request.HasField("digit") else None
    count = request.count if request.HasField("count") else 1
    seed = request.seed if request.HasField("seed") else None
    kind = request.WhichOneof("kind")
    dataset = request.dataset or "mnist"
    if kind is None:
        services.validate_generate_parameters(digit=digit, count=count, seed=seed, max_count=max_count,
                                              stream_hint=stream_hint)
        return {"digit": digit, "count": count, "seed": seed, "dataset": dataset}
    misplaced = [name for name in ("digit", "count") if request.HasField(name)]
    if kind == "interpolation" and request.HasField("seed"):
        misplaced.append("seed")
    if misplaced:
        raise services.InvalidParameterError(misplaced[0], f"{misplaced[0]} must be unset for a {kind} job")
    if kind == "grid":
        options = optional_fields(request.grid, ["seeds_per_digit"])
        if request.grid.digits:
            options["digits"] = list(request.grid.digits)
        return {"kind": "grid", "seed": seed, "options": options, "dataset": dataset}
    options = optional_fields(request.interpolation, ["start_digit", "end_digit", "start_seed", "end_seed", "frames"])
    return {"kind": "interpolation", "options": options, "dataset": dataset}


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    @handle_errors
    def Generate(self, request, context):
        job = services.job_create(**request_parameters(request, max_count=services.MAX_COUNT, stream_hint=True))
        return job_message(job)

    @handle_errors
    def GetJob(self, request, context):
        return job_message(job_get(job_id=required_job_id(request)), include_png=request.include_png)

    @handle_errors
    def CancelJob(self, request, context):
        job = job_get(job_id=required_job_id(request))
        services.job_cancel(job_id=job.id)
        return job_message(job_get(job_id=job.id))

    @handle_errors
    def GenerateStream(self, request, context):
        parameters = request_parameters(request, max_count=services.MAX_STREAM_COUNT, stream_hint=False)
        job = services.job_create(**parameters, stream=True)
        job_id = job.id
        # Runs when the call ends for any reason. A job still going at that point was
        # abandoned by its client (cancel, deadline or disconnect), so it is canceled.
        context.add_callback(functools.partial(cancel_abandoned_job, job_id))
        logger.info("stream for job %s opened (%d images)", job_id, job.count)

        after = "0-0"
        while context.is_active():
            for entry_id, fields in events.read_events(job_id, after, block_ms=int(STREAM_POLL_SECONDS * 1000)):
                after = entry_id
                if fields["type"] == "image":
                    yield pb.GeneratedImage(
                        job_id=str(job_id), index=int(fields["index"]), digit=int(fields["digit"]),
                        seed=int(fields["seed"]), png=fields["png"], url=absolute_url(fields["url"]),
                        row=int(fields["row"]) if "row" in fields else None,
                        column=int(fields["column"]) if "column" in fields else None,
                        fraction=float(fields["fraction"]) if "fraction" in fields else None,
                    )
                    continue
                status = fields["status"]
                if status == JobStatus.SUCCEEDED:
                    logger.info("stream for job %s finished", job_id)
                    return
                if status == JobStatus.CANCELED:
                    context.abort(grpc.StatusCode.CANCELLED, f"job {job_id} was canceled")
                context.abort(grpc.StatusCode.INTERNAL, f"job {job_id} failed: {fields.get('error', '')}")


def cancel_abandoned_job(job_id):
    try:
        if services.job_cancel(job_id=job_id):
            logger.info("job %s canceled: its stream ended before the job did", job_id)
    finally:
        close_old_connections()
