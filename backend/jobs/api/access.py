"""Access rules of the API: the token requirement and per-client throttling."""

from django.conf import settings
from rest_framework import permissions, throttling


class GenerationAccess(permissions.BasePermission):
    """Require an authenticated client when ``GAN["REQUIRE_TOKEN"]`` is on; allow anyone otherwise."""

    message = "an API token is required: send 'Authorization: Token <key>' (staff create tokens in the admin)"

    def has_permission(self, request, view):
        if not settings.GAN["REQUIRE_TOKEN"]:
            return True
        return bool(request.user and request.user.is_authenticated)


class _SettingsRateMixin:
    """Read the rate from ``GAN["THROTTLE_RATES"]`` at request time, so a settings change applies at once."""

    def get_rate(self):
        return settings.GAN["THROTTLE_RATES"].get(self.scope)


class AnonymousClientThrottle(_SettingsRateMixin, throttling.AnonRateThrottle):
    """Requests per client IP address, for calls without a token."""


class TokenClientThrottle(_SettingsRateMixin, throttling.UserRateThrottle):
    """Requests per token user, for authenticated calls."""
