"""API tokens when required, and throttling per client."""

import json
import uuid

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def generate(client, **extra):
    return client.post("/api/generate", data=json.dumps({"digit": 1}), content_type="application/json", **extra)


@pytest.fixture
def tokens_required(settings):
    settings.GAN = {**settings.GAN, "REQUIRE_TOKEN": True}


def test_missing_token_is_401_when_required(client, tokens_required):
    response = generate(client)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert "API token is required" in error["message"]
    assert client.get("/api/jobs").status_code == 401


def test_wrong_token_is_401(client, tokens_required):
    response = generate(client, HTTP_AUTHORIZATION="Token not-a-real-key")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_valid_token_is_accepted(client, tokens_required, django_capture_on_commit_callbacks):
    token = Token.objects.create(user=User.objects.create_user("alice"))
    with django_capture_on_commit_callbacks(execute=False):
        response = generate(client, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 202


def test_tokens_off_by_default(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        assert generate(client).status_code == 202


def test_throttled_client_gets_429_with_retry_after(client, settings, django_capture_on_commit_callbacks):
    settings.GAN = {**settings.GAN, "THROTTLE_RATES": {"anon": "3/min", "user": "3/min"}}
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"  # a documentation address, unique to this test run
    with django_capture_on_commit_callbacks(execute=False):
        statuses = [generate(client, REMOTE_ADDR=address).status_code for _ in range(3)]
        response = generate(client, REMOTE_ADDR=address)
    assert statuses == [202, 202, 202]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"
