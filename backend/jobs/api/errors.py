"""One JSON error shape for the whole API.

Every error body is ``{"error": {"status": 400, "code": "invalid", "message": "...",
"fields": {"digit": ["..."]}}}``; ``fields`` appears only for validation errors.
"""

import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.defaults import bad_request, page_not_found
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"
    default_detail = "send the body with a Content-Length header; chunked request bodies are not supported"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "the request conflicts with an earlier one"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "expired"
    default_detail = "the job expired and its images were deleted"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "the service is temporarily unavailable; retry later"

    def __init__(self, detail=None, code=None, retry_after=None):
        super().__init__(detail, code)
        self.wait = retry_after  # DRF's handler turns ``wait`` into a Retry-After header


def _first_message(detail):
    if isinstance(detail, dict):
        for name, value in detail.items():
            message = _first_message(value)
            return message if name in ("non_field_errors", "body") or message.startswith(str(name)) else f"{name}: {message}"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def _messages(detail, prefix=""):
    """Flatten one field's errors into strings; a list item's errors read "item 2: ..."."""
    if isinstance(detail, dict):
        return [message for key, value in detail.items() for message in _messages(value, f"{prefix}item {key}: ")]
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item, prefix)]
    return [f"{prefix}{detail}"]


def error_body(status_code, code, message, fields=None):
    body = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API exception: Django's 500 handling (see backend.urls.handler500)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"body": exc.detail}
        fields = {name: _messages(value) for name, value in detail.items()}
        response.data = error_body(response.status_code, "invalid", _first_message(exc.detail), fields)
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        received = context["request"].content_type if context.get("request") is not None else ""
        message = str(exc.detail) if not received else (
            f"Content-Type must be application/json; got {received!r}. Send the body as JSON.")
        response.data = error_body(response.status_code, "unsupported_media_type", message)
    elif isinstance(exc, exceptions.NotAuthenticated):
        from .access import GenerationAccess

        response.data = error_body(response.status_code, "not_authenticated", GenerationAccess.message)
    elif isinstance(exc, exceptions.ParseError):
        message = f"the request body is not valid JSON ({exc.detail}); send a JSON object"
        response.data = error_body(response.status_code, "parse_error", message, {"body": [message]})
    elif isinstance(exc, exceptions.Throttled):
        request = context.get("request")
        limit = getattr(request, "throttle_limit", None) if request is not None else None
        wait = math.ceil(exc.wait) if exc.wait is not None else 1
        limit_text = f" (limit {limit[1]}, set by {limit[0]})" if limit else ""
        response.data = error_body(response.status_code, "throttled",
                                   f"too many requests from this client{limit_text}; retry after {wait} s")
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = error_body(response.status_code, code, str(exc.detail))
    return response


def json_bad_request(request, exception=None):
    """Return Django-level 400s in the API's shape under /api/; a body over Django's own limit is a 413."""
    if not request.path.startswith("/api/"):
        return bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.GAN["MAX_BODY_BYTES"]
        return JsonResponse(error_body(413, "too_large", f"the request body is larger than the limit of {limit} bytes; "
                                                          "send a smaller body"), status=413)
    return JsonResponse(error_body(400, "bad_request", f"the request could not be read: {exception}"), status=400)


def json_not_found(request, exception=None):
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception)
    return JsonResponse(error_body(404, "not_found", f"no endpoint at {request.path}; see the README for the API"), status=404)


def json_server_error(request):
    return JsonResponse(error_body(500, "server_error", "internal error; it has been logged"), status=500)
