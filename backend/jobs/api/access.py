"""Access rules of the API: the token requirement and per-client throttling."""

import logging
import math
import threading
import time

from django.conf import settings
from redis import RedisError
from rest_framework import permissions, throttling

from .. import events

logger = logging.getLogger(__name__)


class GenerationAccess(permissions.BasePermission):
    """Require an authenticated client when ``GAN["REQUIRE_TOKEN"]`` is on; allow anyone otherwise."""

    message = "an API token is required: send 'Authorization: Token <key>' (staff create tokens in the admin)"

    def has_permission(self, request, view):
        if not settings.GAN["REQUIRE_TOKEN"]:
            return True
        return bool(request.user and request.user.is_authenticated)


# The generic cell rate algorithm (GCRA), run atomically in Redis. A client's key stores its
# theoretical arrival time (TAT) in microseconds. A request is admitted when the TAT is at
# most one period ahead of now, less one interval. The TAT then moves on by one interval, so
# a client may send the whole rate at once and then one request per interval, and its state
# is one small key instead of DRF's list of every request time in the period. The reply is 0
# for an admitted request, else the microseconds until the next one would be.
GCRA_SCRIPT = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allowed_at = tat + interval - period
if now < allowed_at then return allowed_at - now end
redis.call('SET', KEYS[1], string.format('%d', tat + interval), 'PX', math.ceil((tat + interval - now) / 1000))
return 0
"""
_scripts = {}
_scripts_lock = threading.Lock()

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate):
    """Return ``(requests, seconds)`` for DRF's rate syntax: ``600/min``, ``10/s``, ``1000/hour``, ``5/day``."""
    count, _, period = rate.partition("/")
    return int(count), PERIOD_SECONDS[period.strip()[0]]


def gcra_script():
    """Return this process's registered script for ``settings.REDIS_URL`` (EVALSHA, with EVAL as fallback)."""
    client = events.redis_client()
    with _scripts_lock:
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(GCRA_SCRIPT)
        return script


class RedisRateThrottle(throttling.BaseThrottle):
    """Limit each client to ``GAN["THROTTLE_RATES"][scope]``, with one Redis call per request.

    The rate is read at request time. When Redis is down the request goes through:
    reads of existing jobs keep working during an outage, and new jobs still get 503
    because they cannot be queued.
    """

    scope = None
    setting = None

    def __init__(self):
        self.retry_after = None

    def client_key(self, request):
        """Return the client's identity for this scope, or None when this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request, view):
        rate = settings.GAN["THROTTLE_RATES"].get(self.scope)
        ident = self.client_key(request)
        if rate is None or ident is None:
            return True
        count, seconds = parse_rate(rate)
        period = seconds * 1_000_000
        interval = max(1, period // count)
        try:
            wait = gcra_script()(keys=[f"gan:throttle:{self.scope}:{ident}"],
                                 args=[time.time_ns() // 1000, interval, period])
        except RedisError as error:
            logger.warning("throttling skipped for %s: Redis is unavailable (%s)", request.path, error)
            return True
        if wait == 0:
            return True
        self.retry_after = math.ceil(wait / 1_000_000)
        # Read by the API's error handler, so the 429 names the limit and the setting behind it.
        request.throttle_limit = (self.setting, rate)
        return False

    def wait(self):
        return self.retry_after


class AnonymousClientThrottle(RedisRateThrottle):
    """Requests per client IP address, for calls without a token."""

    scope = "anon"
    setting = "GAN_THROTTLE_ANON"

    def client_key(self, request):
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)


class TokenClientThrottle(RedisRateThrottle):
    """Requests per token user, for authenticated calls."""

    scope = "user"
    setting = "GAN_THROTTLE_USER"

    def client_key(self, request):
        if request.user and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return None
