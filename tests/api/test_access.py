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


def new_token(name):
    """Create a user and token whose primary key no earlier test used.

    Throttle budgets live in Redis under the user's primary key, and the database reuses
    keys after each test's rollback, so a reused key would inherit another test's budget.
    """
    user = User.objects.create_user(f"{name}-{uuid.uuid4().hex[:8]}", id=uuid.uuid4().int % 2**31)
    return Token.objects.create(user=user)


def test_wrong_token_is_401(client, tokens_required):
    response = generate(client, HTTP_AUTHORIZATION="Token not-a-real-key")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_valid_token_is_accepted(client, tokens_required, django_capture_on_commit_callbacks):
    token = new_token("alice")
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


def test_throttle_refills_one_request_per_interval(client, settings, django_capture_on_commit_callbacks):
    # 3 per minute: the whole budget at once, then one request per 20 s.
    settings.GAN = {**settings.GAN, "THROTTLE_RATES": {"anon": "3/min", "user": "3/min"}}
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    with django_capture_on_commit_callbacks(execute=False):
        for _ in range(3):
            assert generate(client, REMOTE_ADDR=address).status_code == 202
        response = generate(client, REMOTE_ADDR=address)
    assert response.status_code == 429
    assert 19 <= int(response["Retry-After"]) <= 20
    message = response.json()["error"]["message"]
    assert "limit 3/min" in message
    assert "GAN_THROTTLE_ANON" in message


def test_token_and_address_budgets_are_separate(client, settings, django_capture_on_commit_callbacks):
    settings.GAN = {**settings.GAN, "THROTTLE_RATES": {"anon": "1/min", "user": "2/min"}}
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    token = new_token("bob")
    with django_capture_on_commit_callbacks(execute=False):
        assert generate(client, REMOTE_ADDR=address).status_code == 202
        assert generate(client, REMOTE_ADDR=address).status_code == 429
        # The same address with a token uses the token's own budget of 2.
        with_token = [generate(client, REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Token {token.key}").status_code
                      for _ in range(3)]
    assert with_token == [202, 202, 429]

