"""REST endpoints: thin edges that validate, call one service or selector, and serialize the result."""

import re
import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from ..events import JobWaiter
from ..models import TERMINAL_STATUSES
from ..selectors import JobExpiredError, JobNotFoundError, job_get, job_get_if_finished, job_list, job_wait
from ..services import (
    IdempotencyConflictError, InvalidParameterError, ModelUnavailableError, QueueFullError, QueueUnavailableError,
    job_cancel, job_create, job_create_idempotent,
)
from .errors import Conflict, Gone, LengthRequired, ServiceUnavailable
from .serializers import (
    ErrorSerializer, GenerateRequestSerializer, GridRequestSerializer, ImagesRequestSerializer,
    InterpolationRequestSerializer, JobListQuerySerializer, JobPageSerializer, JobSerializer,
)


# Maximum wait a client may request with ``Prefer: wait=N``, in seconds.
MAX_WAIT_SECONDS = 60
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def error_response(description):
    return OpenApiResponse(ErrorSerializer, description=description)


def requested_wait(request):
    """Return the seconds requested by ``Prefer: wait=N`` (capped at 60), or None.

    Preferences the server cannot honour are ignored, as RFC 7240 specifies.
    """
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return min(int(value), MAX_WAIT_SECONDS)
    return None


def idempotency_key(request):
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise exceptions.ValidationError(
            {"Idempotency-Key": ["the Idempotency-Key header must be 1-255 printable ASCII characters without spaces"]}
        )
    return key


NOT_FOUND = error_response("No job has this id, or the id is not a UUID.")
UNAUTHORIZED = error_response("An API token is required (GAN_REQUIRE_TOKEN) and was missing or wrong.")
THROTTLED = error_response("Too many requests from this client; retry after Retry-After seconds.")
GONE = error_response("The job passed its retention time (GAN_RETENTION_HOURS); its images are deleted.")


def existing_job(job_id):
    """Return the job, or raise the API's 404 (unknown or malformed id) or 410 (expired)."""
    try:
        return job_get(job_id=job_id)
    except JobNotFoundError as error:
        raise exceptions.NotFound(str(error)) from error
    except JobExpiredError as error:
        raise Gone(str(error)) from error


def json_body(request):
    """Return the parsed JSON body, or {} for an empty one.

    A non-empty body without a Content-Type is rejected with 415: DRF would read it
    as an empty form and the request's fields would be silently dropped. A chunked body
    (no Content-Length) is rejected with 411, because Django reads no chunked body and
    the request would silently become a job with every default.
    """
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raise LengthRequired()
    if int(request.META.get("CONTENT_LENGTH") or 0) == 0:
        return {}
    if not request.content_type:
        raise exceptions.UnsupportedMediaType(
            "", detail="missing Content-Type; send the body as JSON with Content-Type: application/json"
        )
    return request.data


class GenerateView(APIView):
    """Queue a generation job and return it: 202 while it is not finished, with its URL in Location."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(
            request.method, detail=f"Method {request.method} is not allowed on /api/generate: send POST with a JSON "
                                   "body to start a job, then GET /api/jobs/<id> to read it.")

    @extend_schema(
        operation_id="generate",
        request=PolymorphicProxySerializer(
            component_name="GenerateRequest", resource_type_field_name=None,
            serializers=[ImagesRequestSerializer, GridRequestSerializer, InterpolationRequestSerializer],
        ),
        responses={
            202: OpenApiResponse(JobSerializer, description="Accepted and not finished yet; poll its url (also in "
                                                            "Location). A retry with the same Idempotency-Key "
                                                            "returns the first job as it is now."),
            400: error_response("A field is out of range or of the wrong type, a field is unknown, or the body is not a "
                       "JSON object. `fields` names each invalid field."),
            415: error_response("The Content-Type is not application/json."),
            401: UNAUTHORIZED,
            409: error_response("The Idempotency-Key was used before with other parameters."),
            429: THROTTLED,
            503: error_response("The queue is full or unreachable (with Retry-After), or no model is available."),
            200: OpenApiResponse(JobSerializer, description="With `Prefer: wait=N`: the job finished within N s."),
        },
        parameters=[
            OpenApiParameter("Prefer", str, OpenApiParameter.HEADER, required=False,
                             description="`wait=N` (N up to 60): hold the response until the job ends or N seconds "
                                         "pass. Returns the job in full, 200 when finished, else 202."),
            OpenApiParameter("Idempotency-Key", {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
                             OpenApiParameter.HEADER, required=False,
                             description="Any 1-255 printable ASCII characters. A retry with the same key and body "
                                         "returns the first job instead of creating another."),
        ],
    )
    def post(self, request):
        key = idempotency_key(request)
        serializer = GenerateRequestSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        wait = requested_wait(request)
        headers = {} if wait is None else {"Preference-Applied": f"wait={wait}"}
        if wait is not None and key is None:
            # The new job's id is chosen here so that this request waits for its end before it
            # exists: the end cannot be missed, and the row is read only once the worker wakes it.
            job_id = uuid.uuid4()
            with JobWaiter(job_id) as waiter:
                create_job(None, serializer.validated_data, job_id=job_id)
                job = waiter.wait(lambda: job_get_if_finished(job_id=job_id), wait, read_first=False)
            finished = job is not None
            job = job or job_get(job_id=job_id)
        else:
            job = create_job(key, serializer.validated_data)
            # A retried Idempotency-Key may return a job that has already ended.
            finished = job.status in TERMINAL_STATUSES
            if wait is not None:
                finished = job_wait(job_id=job.id, timeout=wait)
            job = job_get(job_id=job.id)
        body = JobSerializer(job, context={"request": request}).data
        headers["Location"] = body["url"]
        return Response(body, status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED, headers=headers)


def create_job(key, parameters, **extra):
    """Create the job (once per Idempotency-Key when ``key`` is set); map service errors to API errors."""
    try:
        if key is None:
            return job_create(**parameters, **extra)
        job, _ = job_create_idempotent(key=key, **parameters)
        return job
    except IdempotencyConflictError as error:
        raise Conflict(str(error)) from error
    except InvalidParameterError as error:
        raise exceptions.ValidationError({error.field: [str(error)]}) from error
    except QueueFullError as error:
        raise ServiceUnavailable(str(error), code="queue_full", retry_after=5) from error
    except ModelUnavailableError as error:
        raise ServiceUnavailable(str(error), code="model_unavailable") from error
    except QueueUnavailableError as error:
        raise ServiceUnavailable(f"{error}; retry later", code="queue_unavailable", retry_after=5) from error


class JobDetailView(APIView):
    """Return a job: its status, parameters, model version and image URLs."""

    @extend_schema(operation_id="get_job", responses={200: JobSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND, 410: GONE,
                                                               429: THROTTLED})
    def get(self, request, job_id):
        job = existing_job(job_id)
        return Response(JobSerializer(job, context={"request": request}).data)


class JobCancelView(APIView):
    """Cancel a queued or running job and return it; a finished job is returned unchanged."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.MethodNotAllowed(
            request.method, detail=f"Method {request.method} is not allowed on /api/jobs/<id>/cancel: send POST "
                                   "to cancel the job, or GET /api/jobs/<id> to read it.")

    @extend_schema(operation_id="cancel_job", request=None, responses={200: JobSerializer, 401: UNAUTHORIZED, 404: NOT_FOUND, 410: GONE,
                                                               429: THROTTLED})
    def post(self, request, job_id):
        job = existing_job(job_id)
        job_cancel(job_id=job.id)
        job = job_get(job_id=job.id)
        return Response(JobSerializer(job, context={"request": request}).data)


class JobPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as error:
            # DRF returns 404 for a bad cursor. It is a bad query parameter, so 400 names it instead.
            raise exceptions.ValidationError(
                {"cursor": ["invalid cursor; use the next or previous URL of a page as it is"]}) from error


class JobListView(APIView):
    """List jobs, newest first, filtered by status, kind and creation time, with cursor pagination."""

    @extend_schema(operation_id="list_jobs", parameters=[JobListQuerySerializer],
                   responses={200: JobPageSerializer, 400: error_response("A filter value is invalid."),
                              401: UNAUTHORIZED, 429: THROTTLED})
    def get(self, request):
        # The serializer reads a plain dict of it, so an empty value ("status=") is an error
        # instead of being skipped as an empty form field.
        query = JobListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = JobPagination()
        page = paginator.paginate_queryset(job_list(**query.validated_data), request, view=self)
        return paginator.get_paginated_response(JobSerializer(page, many=True, context={"request": request}).data)
