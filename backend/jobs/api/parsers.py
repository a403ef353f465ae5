"""The API's JSON parser."""

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "the request body is too large"


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size limit and a 400, not a 500, for JSON nested too deeply to decode."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        limit = settings.GAN["MAX_BODY_BYTES"]
        if length > limit:
            raise RequestTooLarge(f"the request body is {length} bytes; the limit is {limit} bytes")
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise exceptions.ParseError("JSON nested too deeply") from error
        except exceptions.ParseError as error:
            # Python rejects converting integers of over 4300 digits, and its message advises a
            # server-side call (sys.set_int_max_str_digits) that is no use to the client.
            if "integer string conversion" in str(error.detail):
                raise exceptions.ParseError("an integer in it has over 4300 digits, and integer fields here take "
                                            "at most 19") from error
            raise
