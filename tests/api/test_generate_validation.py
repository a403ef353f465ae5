"""Every bad request gets a 4xx with the one error shape, naming the field and the allowed range."""

import json

import pytest

from backend.jobs.models import Job

pytestmark = pytest.mark.django_db

GENERATE = "/api/generate"


def post_json(client, body, **extra):
    return client.post(GENERATE, data=json.dumps(body), content_type="application/json", **extra)


def assert_error(response, status, field=None, *phrases):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    assert error["message"]
    if field:
        assert field in error["fields"], error
        text = " ".join(error["fields"][field])
        for phrase in phrases:
            assert phrase in text, text
    return error


@pytest.mark.parametrize("value", [10, -1, 7.5, "seven", True, "7", [7], {"value": 7}])
def test_generate_rejects_bad_digit(client, value):
    error = assert_error(post_json(client, {"digit": value}), 400, "digit", "from 0 to 9")
    assert error["message"].startswith("digit must be")
    assert Job.objects.count() == 0


@pytest.mark.parametrize("value", [0, 65, 10**24, -3, 2.0, "4", False, None])
def test_generate_rejects_bad_count(client, value):
    assert_error(post_json(client, {"digit": 1, "count": value}), 400, "count", "from 1 to 64")
    assert Job.objects.count() == 0


@pytest.mark.parametrize("value", [-1, 2**63, 1.5, "12"])
def test_generate_rejects_bad_seed(client, value):
    assert_error(post_json(client, {"seed": value}), 400, "seed", "9223372036854775807")


def test_generate_rejects_unknown_field(client):
    error = assert_error(post_json(client, {"digit": 3, "colour": "red"}), 400, "colour", "unknown field", "digit, count, seed")
    assert "colour" in error["message"]


@pytest.mark.parametrize("body", ["[1, 2]", '"seven"', "7", "true", "null"])
def test_generate_rejects_non_object_body(client, body):
    response = client.post(GENERATE, data=body, content_type="application/json")
    assert_error(response, 400, "body", "JSON object")


@pytest.mark.parametrize("body", ["{digit: 3}", "{", "not json at all", '{"digit": 3,}'])
def test_generate_rejects_malformed_json(client, body):
    response = client.post(GENERATE, data=body, content_type="application/json")
    error = assert_error(response, 400)
    assert error["code"] == "parse_error"
    assert "not valid JSON" in error["message"]
    assert error["fields"]["body"] == [error["message"]]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_generate_rejects_non_json_content_type(client, content_type):
    response = client.post(GENERATE, data='{"digit": 3}', content_type=content_type)
    error = assert_error(response, 415)
    assert "Unsupported media type" in error["message"] or content_type.split(";")[0] in error["message"]


def test_generate_rejects_body_without_content_type(client):
    response = client.generic("POST", GENERATE, data=b'{"digit": 3}', content_type="")
    error = assert_error(response, 415)
    assert "Content-Type" in error["message"]
    assert Job.objects.count() == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_generate_rejects_other_methods(client, method):
    error = assert_error(client.generic(method, GENERATE), 405)
    assert error["message"].startswith(f"Method {method} is not allowed on /api/generate: send POST")


def test_several_errors_are_all_reported(client):
    error = assert_error(post_json(client, {"digit": 11, "count": 0}), 400)
    assert set(error["fields"]) == {"digit", "count"}


@pytest.mark.parametrize("body, field", [
    ({"webhook": "ftp://example.test/hook"}, "webhook"),
    ({"webhook": "file:///etc/passwd"}, "webhook"),
    ({"webhook": "not a url"}, "webhook"),
    ({"webhook": "http://127.0.0.1/hook", "webhook_events": ["finished"]}, "webhook_events"),
    ({"webhook": "http://127.0.0.1/hook", "webhook_events": []}, "webhook_events"),
])
def test_generate_rejects_bad_webhook(client, body, field):
    assert_error(post_json(client, body), 400, field)
    assert Job.objects.count() == 0


@pytest.mark.parametrize("body, field", [
    ({"kind": "video"}, "kind"),
    ({"kind": "grid", "count": 3}, "count"),
    ({"kind": "grid", "digits": [1, 1]}, "digits"),
    ({"kind": "grid", "digits": []}, "digits"),
    ({"kind": "grid", "digits": [10]}, "digits"),
    ({"kind": "grid", "seeds_per_digit": 17}, "seeds_per_digit"),
    ({"kind": "interpolation", "frames": 1}, "frames"),
    ({"kind": "interpolation", "frames": 65}, "frames"),
    ({"kind": "interpolation", "end_digit": 12}, "end_digit"),
    ({"kind": "interpolation", "seed": 3}, "seed"),
    ({"frames": 4}, "frames"),
])
def test_generate_rejects_bad_kind_fields(client, body, field):
    assert_error(post_json(client, body), 400, field)
    assert Job.objects.count() == 0


@pytest.mark.parametrize("value", ["emnist", "", "MNIST", 3, None])
def test_generate_rejects_unknown_dataset(client, value):
    assert_error(post_json(client, {"dataset": value}), 400, "dataset", "mnist, fashion-mnist")
    assert not Job.objects.exists()


@pytest.mark.parametrize("field, value, echoed", [
    ("dataset", 1, "got 1"),
    ("dataset", "mnst", 'got "mnst"'),
    ("dataset", True, "got true"),
    ("kind", 2, "got 2"),
    ("kind", ["grid"], 'got ["grid"]'),
    ("kind", None, "got null"),
])
def test_wrong_choice_is_echoed_as_sent(client, field, value, echoed):
    # A number sent where a name belongs is shown as the number, not as a string.
    error = assert_error(post_json(client, {field: value}), 400, field)
    assert error["fields"][field][0].endswith(echoed)


def test_missing_dataset_model_is_503(client, settings, tmp_path):
    settings.GAN = {**settings.GAN, "FASHION_MODEL_PATH": str(tmp_path / "absent.pt")}

    error = assert_error(post_json(client, {"dataset": "fashion-mnist", "digit": 3}), 503)

    assert error["code"] == "model_unavailable"
    assert "GAN_FASHION_MODEL_PATH" in error["message"]
    assert not Job.objects.exists()


def test_chunked_body_is_411(client):
    response = client.post(GENERATE, data=b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked")

    error = assert_error(response, 411)
    assert "Content-Length" in error["message"]
    assert not Job.objects.exists()


def test_body_over_django_limit_is_413(client, settings):
    body = json.dumps({"digit": 1, "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1000)})

    error = assert_error(post_json_raw(client, body), 413)

    assert "limit" in error["message"]
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" not in error["message"]
    assert not Job.objects.exists()


def post_json_raw(client, body):
    return client.post(GENERATE, data=body, content_type="application/json")


def test_grid_digit_item_message_names_it(client):
    error = assert_error(post_json(client, {"kind": "grid", "digits": [10]}), 400, "digits", "each item must be")
    assert "  " not in error["message"]


@pytest.mark.parametrize("body, field, phrase", [
    ({"kind": "video"}, "kind", "images, grid, interpolation"),
    ({"kind": "grid", "digits": []}, "digits", "1 to 10 different digits"),
])
def test_choice_and_list_messages_list_allowed(client, body, field, phrase):
    assert_error(post_json(client, body), 400, field, phrase)


HOOK = "http://127.0.0.1/hook"


@pytest.mark.parametrize("body, field, phrases", [
    ({"kind": "grid", "digits": None}, "digits", ("JSON array of 1 to 10 different digits", "got null")),
    ({"kind": "grid", "digits": "123"}, "digits", ("such as [0, 1, 2]", 'got "123"')),
    ({"kind": "grid", "digits": {"0": 1}}, "digits", ("got a JSON object",)),
    ({"kind": "grid", "digits": [1, 1]}, "digits", ("different digits", "got a repeated item in [1, 1]")),
    ({"kind": "grid", "digits": list(range(10)) + [0]}, "digits", ("got 11 items",)),
    ({"webhook": HOOK, "webhook_events": None}, "webhook_events", ('"start" and "completed"', "got null")),
    ({"webhook": HOOK, "webhook_events": "completed"}, "webhook_events", ('got "completed"',)),
    ({"webhook": HOOK, "webhook_events": ["start", "start"]}, "webhook_events", ("got a repeated item",)),
    ({"webhook": HOOK, "webhook_events": ["x"]}, "webhook_events", ('one of start, completed; got "x"',)),
    ({"webhook": HOOK, "webhook_events": [1]}, "webhook_events", ("one of start, completed; got 1",)),
    ({"webhook": ""}, "webhook", ("http or https URL", "or null for no webhook", 'got ""')),
    ({"webhook": 5}, "webhook", ("http or https URL", "got 5")),
    ({"webhook": "http://" + "a" * 2000}, "webhook", ("at most 2000 characters", "got a string of 2007 characters")),
])
def test_list_and_webhook_messages_state_the_rule(client, body, field, phrases):
    error = assert_error(post_json(client, body), 400, field, *phrases)
    assert "This field" not in json.dumps(error)
    assert "Expected a list" not in json.dumps(error)
    assert not Job.objects.exists()
