"""REST endpoints: thin edges that validate, call one service or selector, and serialize the result."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors import JobNotFoundError, job_get
from ..services import (
    InvalidParameterError, ModelUnavailableError, QueueFullError, QueueUnavailableError, job_cancel, job_create,
)
from .errors import ServiceUnavailable
from .serializers import ErrorSerializer, GenerateRequestSerializer, JobCreatedSerializer, JobSerializer


def error(description):
    return OpenApiResponse(ErrorSerializer, description=description)


NOT_FOUND = error("No job has this id, or the id is not a UUID.")


def json_body(request):
    """Return the parsed JSON body, or {} for an empty one.

    A non-empty body without a Content-Type is rejected with 415: DRF would read it
    as an empty form and the request's fields would be silently dropped.
    """
    if int(request.META.get("CONTENT_LENGTH") or 0) == 0:
        return {}
    if not request.content_type:
        raise exceptions.UnsupportedMediaType(
            "", detail="missing Content-Type; send the body as JSON with Content-Type: application/json"
        )
    return request.data


class GenerateView(APIView):
    """``POST /api/generate``: queue a generation job and return 202 with its URL."""

    @extend_schema(
        operation_id="generate",
        request=GenerateRequestSerializer,
        responses={
            202: OpenApiResponse(JobCreatedSerializer, description="Queued; poll the job's url (also in Location)."),
            400: error("A field is out of range or of the wrong type, a field is unknown, or the body is not a "
                       "JSON object. `fields` names each invalid field."),
            415: error("The Content-Type is not application/json."),
            503: error("The queue is full or unreachable (with Retry-After), or no model is available."),
        },
    )
    def post(self, request):
        serializer = GenerateRequestSerializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        try:
            job = job_create(**serializer.validated_data)
        except InvalidParameterError as error:
            raise exceptions.ValidationError({error.field: [str(error)]}) from error
        except QueueFullError as error:
            raise ServiceUnavailable(str(error), code="queue_full", retry_after=5) from error
        except ModelUnavailableError as error:
            raise ServiceUnavailable(str(error), code="model_unavailable") from error
        except QueueUnavailableError as error:
            raise ServiceUnavailable(f"{error}; retry later", code="queue_unavailable", retry_after=5) from error
        body = JobCreatedSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class JobDetailView(APIView):
    """``GET /api/jobs/<id>``: a job's status, parameters, model version and image URLs."""

    @extend_schema(operation_id="get_job", responses={200: JobSerializer, 404: NOT_FOUND})
    def get(self, request, job_id):
        try:
            job = job_get(job_id=job_id)
        except JobNotFoundError as error:
            raise exceptions.NotFound(str(error)) from error
        return Response(JobSerializer(job, context={"request": request}).data)


class JobCancelView(APIView):
    """``POST /api/jobs/<id>/cancel``: cancel a queued or running job; a finished job is returned unchanged."""

    @extend_schema(operation_id="cancel_job", request=None, responses={200: JobSerializer, 404: NOT_FOUND})
    def post(self, request, job_id):
        try:
            job = job_get(job_id=job_id)
        except JobNotFoundError as error:
            raise exceptions.NotFound(str(error)) from error
        job_cancel(job_id=job.id)
        job = job_get(job_id=job.id)
        return Response(JobSerializer(job, context={"request": request}).data)
