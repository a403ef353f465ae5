"""Input and output shapes of the generation API."""

import json
import re
from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gan_core.sampling import MAX_SEED

from ..services import MAX_COUNT, MAX_DIGIT, MAX_FRAMES, MAX_SEEDS_PER_DIGIT, MIN_FRAMES


def _json_kind(data):
    return {type(None): "null", list: "array", dict: "object", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(data), "value")


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON integer: no strings, floats or booleans.

    DRF's IntegerField would accept "7", 7.0 and true; a typed API should reject them
    instead of guessing. Every error message names the allowed range and the value received.
    """

    def __init__(self, *, range_text, **kwargs):
        self.range_text = range_text
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self._reject(data)
        if (self.min_value is not None and data < self.min_value) or (self.max_value is not None and data > self.max_value):
            self._reject(data)
        return data

    def validate_empty_values(self, data):
        if data is None and not self.allow_null:
            self._reject(data)
        return super().validate_empty_values(data)

    def _reject(self, data):
        # A list's items have no field name of their own.
        subject = self.field_name or "each item"
        raise serializers.ValidationError(f"{subject} must be {self.range_text}; got {_received(data)}", code="invalid")


def _received(data):
    """Return ``data`` as JSON when it is a scalar, else "a JSON array" or "a JSON object"."""
    return json.dumps(data) if data is None or isinstance(data, (bool, int, float, str)) else f"a JSON {_json_kind(data)}"


class StrictListField(serializers.ListField):
    """A JSON array of different items whose every error states the whole rule and the value received.

    DRF's own messages ("This field may not be null.", "Expected a list of items but got
    type "str".") name neither the field nor what it takes.
    """

    def __init__(self, *, rule_text, **kwargs):
        self.rule_text = rule_text
        super().__init__(**kwargs)

    def _reject(self, received):
        raise serializers.ValidationError(f"{self.field_name} must be {self.rule_text}; got {received}", code="invalid")

    def validate_empty_values(self, data):
        if data is None and not self.allow_null:
            self._reject("null")
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self._reject(_received(data))
        if not self.min_length <= len(data) <= self.max_length:
            self._reject(f"{len(data)} items")
        values = super().to_internal_value(data)
        if len(set(values)) != len(values):
            self._reject(f"a repeated item in {json.dumps(values)}")
        return values


@extend_schema_field({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": MAX_DIGIT},
                      "minItems": 1, "maxItems": 10, "uniqueItems": True})
class DigitListField(StrictListField):
    """A list of different digits."""


@extend_schema_field({"type": "array", "items": {"type": "string", "enum": ["start", "completed"]},
                      "minItems": 1, "maxItems": 2, "uniqueItems": True})
class WebhookEventListField(StrictListField):
    """A list of different webhook events."""


# Request fields each kind accepts, besides the common ones.
COMMON_FIELDS = {"kind", "dataset", "webhook", "webhook_events"}
DATASET_CHOICES = ["mnist", "fashion-mnist"]
KIND_FIELDS = {
    "images": {"digit", "count", "seed"},
    "grid": {"digits", "seeds_per_digit", "seed"},
    "interpolation": {"start_digit", "end_digit", "start_seed", "end_seed", "frames"},
}

class NamedChoiceField(serializers.ChoiceField):
    """A choice among strings whose error lists the choices and echoes the wrong value as JSON.

    DRF's own field compares ``str(value)``, so it reported the number 1 as ``"1"``, as if the
    client had sent a string. This field reports ``got 1`` (and ``got true``, ``got "mnst"``).
    """

    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            choices = ", ".join(self.choice_strings_to_values)
            subject = self.field_name or "each item"
            raise serializers.ValidationError(f"{subject} must be one of {choices}; got {json.dumps(data)}",
                                              code="invalid_choice")
        return self.choice_strings_to_values[data]


# An http or https URL with a host; the same pattern is published in the OpenAPI schema.
WEBHOOK_URL_PATTERN = r"^https?://[A-Za-z0-9\[][^\s/?#]*([/?#]\S*)?$"


@extend_schema_field({"type": "string", "format": "uri", "pattern": WEBHOOK_URL_PATTERN, "maxLength": 2000,
                      "nullable": True})
class WebhookURLField(serializers.CharField):
    def run_validation(self, data=serializers.empty):
        # CharField rejects "" and blank strings before to_internal_value, with its own message.
        if isinstance(data, str) and not data.strip():
            self._reject(data)
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > self.max_length or not re.match(WEBHOOK_URL_PATTERN, data):
            self._reject(data)
        return data

    def _reject(self, data):
        received = _received(data) if not isinstance(data, str) or len(data) <= 200 else f"a string of {len(data)} characters"
        raise serializers.ValidationError(f"webhook must be an http or https URL with a host, of at most {self.max_length} "
                                          f"characters, or null for no webhook; got {received}", code="invalid")


class GenerateRequestSerializer(serializers.Serializer):
    digit = StrictIntegerField(
        min_value=0, max_value=MAX_DIGIT, required=False, allow_null=True, default=None,
        range_text=f"an integer from 0 to {MAX_DIGIT}, or null for a random digit",
        help_text=f"Class to generate, 0-{MAX_DIGIT}. Omitted or null: each image gets a class derived from its seed.",
    )
    count = StrictIntegerField(
        min_value=1, max_value=MAX_COUNT, required=False, default=1,
        range_text=f"an integer from 1 to {MAX_COUNT}",
        help_text=f"Number of images, 1-{MAX_COUNT}.",
    )
    seed = StrictIntegerField(
        min_value=0, max_value=MAX_SEED, required=False, allow_null=True, default=None,
        range_text="an integer from 0 to 9223372036854775807 (2^63 - 1), or null for a random seed",
        help_text="Seed of the first image; image i uses seed + i. Omitted or null: drawn at random and returned.",
    )

    dataset = NamedChoiceField(
        choices=DATASET_CHOICES, required=False, default="mnist",
        error_messages={"null": f"dataset must be one of {', '.join(DATASET_CHOICES)}, or left out for mnist; got null"},
        help_text="Which model draws the images: mnist (handwritten digits, the default) or fashion-mnist "
                  "(clothing; digit is then the class: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, "
                  "5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot).",
    )
    kind = NamedChoiceField(
        choices=["images", "grid", "interpolation"], required=False, default="images",
        error_messages={"null": "kind must be one of images, grid, interpolation, or left out for images; got null"},
        help_text="images: count images of one digit. grid: digits x seeds_per_digit cells and one sprite sheet. "
                  "interpolation: frames between two (digit, seed) points and an animated GIF.",
    )
    digits = DigitListField(
        child=StrictIntegerField(min_value=0, max_value=MAX_DIGIT, range_text=f"an integer from 0 to {MAX_DIGIT}"),
        required=False, min_length=1, max_length=10,
        rule_text=f"a JSON array of 1 to 10 different digits from 0 to {MAX_DIGIT}, such as [0, 1, 2], or left out "
                  "for all ten",
        help_text="grid only: the rows' digits, 1-10 different values; default 0-9.",
    )
    seeds_per_digit = StrictIntegerField(
        min_value=1, max_value=MAX_SEEDS_PER_DIGIT, required=False,
        range_text=f"an integer from 1 to {MAX_SEEDS_PER_DIGIT}",
        help_text=f"grid only: columns, 1-{MAX_SEEDS_PER_DIGIT}; column c uses seed + c in every row. Default 8.",
    )
    start_digit = StrictIntegerField(min_value=0, max_value=MAX_DIGIT, required=False,
                                     range_text=f"an integer from 0 to {MAX_DIGIT}",
                                     help_text="interpolation only: the first frame's digit; default 0.")
    end_digit = StrictIntegerField(min_value=0, max_value=MAX_DIGIT, required=False,
                                   range_text=f"an integer from 0 to {MAX_DIGIT}",
                                   help_text="interpolation only: the last frame's digit; default start_digit.")
    start_seed = StrictIntegerField(min_value=0, max_value=MAX_SEED, required=False, allow_null=True,
                                    range_text="an integer from 0 to 9223372036854775807, or null",
                                    help_text="interpolation only: the first frame's seed; default random.")
    end_seed = StrictIntegerField(min_value=0, max_value=MAX_SEED, required=False, allow_null=True,
                                  range_text="an integer from 0 to 9223372036854775807, or null",
                                  help_text="interpolation only: the last frame's seed; default start_seed + 1.")
    frames = StrictIntegerField(min_value=MIN_FRAMES, max_value=MAX_FRAMES, required=False,
                                range_text=f"an integer from {MIN_FRAMES} to {MAX_FRAMES}",
                                help_text=f"interpolation only: frames, {MIN_FRAMES}-{MAX_FRAMES}; default 16.")
    webhook = WebhookURLField(
        required=False, allow_null=True, default=None, max_length=2000,
        help_text="http(s) URL that receives a signed POST of the job at the events in webhook_events.",
    )
    webhook_events = WebhookEventListField(
        child=NamedChoiceField(choices=["start", "completed"]), required=False, default=["completed"],
        min_length=1, max_length=2,
        rule_text='a JSON array of different events from "start" and "completed", such as ["start", "completed"], '
                  'or left out for ["completed"]',
        help_text="When to call the webhook: start (a worker started the job), completed (it ended). "
                  "Default: completed.",
    )

    def validate(self, attrs):
        """Reject fields of another kind, and gather the kind's own fields into ``options``."""
        kind = attrs["kind"]
        sent_fields = set(self.initial_data) - COMMON_FIELDS
        misplaced = sorted(sent_fields - KIND_FIELDS[kind])
        if misplaced:
            allowed = ", ".join(sorted(KIND_FIELDS[kind])) or "none"
            raise serializers.ValidationError(
                {name: [f"{name} does not apply to kind {kind!r}; its fields are: {allowed}"] for name in misplaced})
        option_names = KIND_FIELDS[kind] - {"digit", "count", "seed"}
        return {
            "kind": kind, "dataset": attrs.get("dataset", "mnist"),
            "digit": attrs.get("digit"), "count": attrs.get("count", 1), "seed": attrs.get("seed"),
            "options": {name: attrs[name] for name in option_names if name in attrs},
            "webhook": attrs.get("webhook"), "webhook_events": attrs.get("webhook_events"),
        }

    def validate_empty_values(self, data):
        if data is None:  # a body of JSON null
            self.to_internal_value(data)
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"body": [f'the request body must be a JSON object such as {{"digit": 7, "count": 4}}; got a JSON {_json_kind(data)}']}
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            allowed = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"unknown field {name!r}; allowed fields are {allowed}"] for name in unknown}
            )
        return super().to_internal_value(data)


class JobImageSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    digit = serializers.IntegerField()
    seed = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    row = serializers.IntegerField(allow_null=True, help_text="grid: the cell's row in the sprite sheet.")
    column = serializers.IntegerField(allow_null=True, help_text="grid: the cell's column in the sprite sheet.")
    fraction = serializers.FloatField(allow_null=True, help_text="interpolation: position on the path, 0 to 1.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, image):
        request = self.context.get("request")
        url = image.file.url
        return request.build_absolute_uri(url) if request else url


class JobParametersSerializer(serializers.Serializer):
    dataset = serializers.ChoiceField(choices=DATASET_CHOICES, help_text="The dataset whose model drew the images.")
    digit = serializers.IntegerField(allow_null=True, help_text="Requested digit; null when left to the seed.")
    count = serializers.IntegerField()
    seed = serializers.IntegerField(help_text="Seed of the first image, drawn at random if the request had none.")
    options = serializers.DictField(help_text="grid or interpolation parameters, defaults filled in; {} for images.")
    webhook = serializers.URLField(allow_null=True)
    webhook_events = serializers.ListField(child=serializers.ChoiceField(choices=["start", "completed"]))


class JobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed", "canceled"])
    kind = serializers.ChoiceField(choices=["images", "grid", "interpolation"])
    url = serializers.SerializerMethodField()
    artifact_url = serializers.SerializerMethodField(
        help_text="grid: the sprite sheet (PNG, 2-pixel padding, 28x28 cells); interpolation: the animated GIF.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    parameters = serializers.SerializerMethodField()
    model_version = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    images = JobImageSerializer(many=True)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, job):
        from django.urls import reverse

        request = self.context.get("request")
        path = reverse("job-detail", kwargs={"job_id": job.id})
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(JobParametersSerializer)
    def get_parameters(self, job):
        return {"dataset": job.dataset, "digit": job.digit, "count": job.count, "seed": job.seed, "options": job.options,
                "webhook": job.webhook_url or None, "webhook_events": job.webhook_events}

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_artifact_url(self, job):
        if not job.artifact:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(job.artifact.url) if request else job.artifact.url


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.CharField(help_text="Machine-readable error kind, e.g. invalid, parse_error, not_found, queue_full.")
    message = serializers.CharField(help_text="What is wrong and what to do; names the first invalid field.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Validation errors only: each invalid field (or 'body') with its messages.",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorDetailSerializer()


STATUS_CHOICES = ["queued", "running", "succeeded", "failed", "canceled"]
KIND_CHOICES = ["images", "grid", "interpolation"]


class JobListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=STATUS_CHOICES, required=False, help_text="Only jobs with this status.",
        error_messages={"invalid_choice": f"status must be one of {', '.join(STATUS_CHOICES)}; got \"{{input}}\""})
    kind = serializers.ChoiceField(
        choices=KIND_CHOICES, required=False, help_text="Only jobs of this kind.",
        error_messages={"invalid_choice": f"kind must be one of {', '.join(KIND_CHOICES)}; got \"{{input}}\""})
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601; jobs created at or after it.")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601; jobs created before it.")
    cursor = serializers.CharField(required=False, help_text="Opaque cursor from a previous page's next/previous.")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=200, help_text="1-200, default 50.",
        error_messages={name: "page_size must be an integer from 1 to 200" for name in ("invalid", "min_value", "max_value")})

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            allowed = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"unknown query parameter {name!r}; allowed parameters are {allowed}"] for name in unknown})
        repeated = sorted(name for name in data if len(data.getlist(name)) > 1) if hasattr(data, "getlist") else []
        if repeated:
            raise serializers.ValidationError(
                {name: [f"{name} may be given once; request one value per call"] for name in repeated})
        return super().to_internal_value(data.dict() if hasattr(data, "dict") else data)

    def validate(self, attrs):
        attrs.pop("cursor", None)
        attrs.pop("page_size", None)
        return attrs


class JobPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="URL of the next (older) page; null on the last page.")
    previous = serializers.URLField(allow_null=True, help_text="URL of the previous (newer) page; null on the first.")
    results = JobSerializer(many=True)


def _request_schema(name, kind, required_kind):
    """Build a documentation-only serializer with the fields one kind accepts.

    The API parses every kind with :class:`GenerateRequestSerializer`. These classes let
    the OpenAPI document list which fields go with which kind (a oneOf of three shapes).
    """
    import copy

    declared = GenerateRequestSerializer._declared_fields
    fields = {field: copy.deepcopy(declared[field])
              for field in sorted(KIND_FIELDS[kind] | {"dataset", "webhook", "webhook_events"})}
    fields["kind"] = serializers.ChoiceField(choices=[kind], required=required_kind,
                                             help_text=declared["kind"].help_text)
    return type(name, (serializers.Serializer,), fields)


ImagesRequestSerializer = _request_schema("ImagesRequestSerializer", "images", required_kind=False)
GridRequestSerializer = _request_schema("GridRequestSerializer", "grid", required_kind=True)
InterpolationRequestSerializer = _request_schema("InterpolationRequestSerializer", "interpolation", required_kind=True)
