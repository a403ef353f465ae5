"""Access rules of the API: the token requirement and per-client throttling."""

import logging

from django.conf import settings
from redis import RedisError
from rest_framework import permissions, throttling

logger = logging.getLogger(__name__)


class GenerationAccess(permissions.BasePermission):
    """Require an authenticated client when ``GAN["REQUIRE_TOKEN"]`` is on; allow anyone otherwise."""

    message = "an API token is required: send 'Authorization: Token <key>' (staff create tokens in the admin)"

    def has_permission(self, request, view):
        if not settings.GAN["REQUIRE_TOKEN"]:
            return True
        return bool(request.user and request.user.is_authenticated)


class _SettingsRateMixin:
    """Read the rate from ``GAN["THROTTLE_RATES"]`` at request time, and let requests through when Redis is down.

    Failing open keeps reads of existing jobs working during a Redis outage; new jobs
    still get 503 because they cannot be queued.
    """

    def get_rate(self):
        return settings.GAN["THROTTLE_RATES"].get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("throttling skipped for %s: the cache is unavailable (%s)", request.path, error)
            return True


class AnonymousClientThrottle(_SettingsRateMixin, throttling.AnonRateThrottle):
    """Requests per client IP address, for calls without a token."""


class TokenClientThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    """Requests per token user, for authenticated calls."""
