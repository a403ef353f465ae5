"""Django settings, read from the environment (django-environ).

Every value has a default that runs the embedded setup: SQLite under ``var/``,
media under ``var/media``, and Redis at ``REDIS_URL``. The main job's launcher
sets ``REDIS_URL`` to an embedded server when the environment does not.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GAN_VAR_DIR", BASE_DIR / "var"))

# The default SQLite database, media and logs live here.
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The fallback key is for local runs only; set DJANGO_SECRET_KEY in any shared deployment.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-only-key-set-DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend.jobs",
    "backend.training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Keep each thread's connection for a minute instead of opening one per request. A broken one
# is noticed and replaced at the start of the next request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write to the same file; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # Write-ahead logging lets readers run beside the one writer, and synchronous=NORMAL
    # commits without waiting for the disk each time: a crash of a process loses nothing,
    # only a power cut can lose the last commits.
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    # Transactions take the write lock when they begin. A deferred transaction that reads, then
    # writes after another process committed, fails at once with "database is locked" in WAL
    # mode, without waiting for the timeout above.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["TEST"] = {"NAME": env.str("GAN_TEST_DATABASE", default=str(VAR_DIR / "test-db.sqlite3"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = env.str("DJANGO_MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Serve MEDIA_ROOT from Django itself. Right for the embedded setup; a deployment with a
# web server or object storage in front turns it off.
SERVE_MEDIA = env.bool("DJANGO_SERVE_MEDIA", default=True)

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["backend.jobs.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["backend.jobs.api.access.GenerationAccess"],
    "DEFAULT_THROTTLE_CLASSES": [
        "backend.jobs.api.access.AnonymousClientThrottle",
        "backend.jobs.api.access.TokenClientThrottle",
    ],
    "EXCEPTION_HANDLER": "backend.jobs.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Digit generation API",
    "DESCRIPTION": (
        "Asynchronous generation of 28x28 handwritten digits by a conditional WGAN-GP. "
        "POST /api/generate queues a job; GET /api/jobs/{job_id} reports it. Every error has the "
        "shape {\"error\": {\"status\", \"code\", \"message\", \"fields\"}}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from the drf-spectacular-sidecar package, so the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.jobs.api.schema.forbid_unknown_request_fields",
        "backend.jobs.api.schema.mark_token_optional",
    ],
}

# Celery reads every CELERY_* setting below (see worker/celery.py).
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

# The cache stores the API's throttling counters, so it is shared by every web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "gan-cache",
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The job row is the source of truth, so Celery keeps no results of its own in Redis.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged after it finishes, so a worker that dies mid-task leaves it to be redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A generate worker reserves up to this many messages per pool process, so dynamic batching
# (GAN["BATCH_MAX_JOBS"]) has messages to coalesce. Train workers are started with 1.
BATCH_MAX_JOBS = env.int("GAN_BATCH_MAX_JOBS", default=32)
CELERY_WORKER_PREFETCH_MULTIPLIER = BATCH_MAX_JOBS
CELERY_TASK_DEFAULT_QUEUE = "generate"
# Celery's Django fixup closes the database connection around every task unless this is set,
# and reopening it (with SQLite's PRAGMAs) cost more than a small job. With it, the worker
# reconnects every 2,000 tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_ROUTES = {
    "gan.generate": {"queue": "generate"},
    "gan.purge_expired": {"queue": "generate"},
    "gan.deliver_webhook": {"queue": "generate"},
    "gan.train": {"queue": "train"},
}
# Celery beat (python -m backend.serve beat) runs the retention sweep.
CELERY_BEAT_SCHEDULE = {
    "purge-expired-jobs": {"task": "gan.purge_expired", "schedule": env.float("GAN_PURGE_INTERVAL_SECONDS", default=600)},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing to a Redis that is down fails within about a second instead of hanging the request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Maximum length of one attempt of a training run; a run still going then fails and can be resumed.
TRAIN_MAX_HOURS = env.float("GAN_TRAIN_MAX_HOURS", default=24)
# Seconds before Redis hands an unacknowledged task to another worker. It must exceed the
# longest task, so it is two hours above TRAIN_MAX_HOURS.
# Even when it is not, a run never executes twice at once: the second delivery finds the
# run's heartbeat fresh and waits (backend.training.services.training_run_claim).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=int(TRAIN_MAX_HOURS * 3600) + 7200),
    # kombu looks for expired unacknowledged tasks about every interval x throttle seconds
    # (10 x 10 by default); tests with a short visibility timeout lower both.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}

GAN = {
    # Sampling checkpoint of the default model (EMA generator, written by gan_core.train --export).
    # Fashion-MNIST's default model; MODEL_PATH is MNIST's.
    "FASHION_MODEL_PATH": env.str("GAN_FASHION_MODEL_PATH", default=str(BASE_DIR / "gan_core" / "weights" / "fashion_mnist.pt")),
    "MODEL_PATH": env.str("GAN_MODEL_PATH", default=str(BASE_DIR / "gan_core" / "weights" / "mnist.pt")),
    # "auto" uses CUDA in the worker when it is available.
    "DEVICE": env.str("GAN_DEVICE", default="auto"),
    # Torch threads per worker process; 0 divides half the machine's cores among the pool processes.
    "TORCH_THREADS": env.int("GAN_TORCH_THREADS", default=0),
    # Images per forward pass (within one job, or across jobs generated together).
    "BATCH_SIZE": env.int("GAN_BATCH_SIZE", default=64),
    # Dynamic batching (worker.tasks.GenerateBatches): while a batch runs, the worker buffers
    # up to BATCH_MAX_JOBS generate messages for the next one, for at most BATCH_MAX_WAIT_MS.
    # An idle worker starts a lone message at once. BATCH_MAX_JOBS=1 turns batching off.
    "BATCH_MAX_JOBS": BATCH_MAX_JOBS,
    "BATCH_MAX_WAIT_MS": env.float("GAN_BATCH_MAX_WAIT_MS", default=10.0),
    # Times a job may be started; a worker lost mid-job leads to redelivery and another start.
    "MAX_ATTEMPTS": env.int("GAN_MAX_ATTEMPTS", default=3),
    # New jobs are rejected (503 over REST, RESOURCE_EXHAUSTED over gRPC) while this many wait.
    "MAX_QUEUE_DEPTH": env.int("GAN_MAX_QUEUE_DEPTH", default=1000),
    # Hours a job and its images are kept; afterwards the job returns 410 Gone.
    "RETENTION_HOURS": env.float("GAN_RETENTION_HOURS", default=24),
    # Days an expired job's row stays (so it can still return 410) before it is deleted too.
    "TOMBSTONE_DAYS": env.float("GAN_TOMBSTONE_DAYS", default=7),
    # Key of the HMAC-SHA256 signature on webhook deliveries; receivers verify with the same key.
    "WEBHOOK_SECRET": env.str("GAN_WEBHOOK_SECRET", default=f"webhook-{SECRET_KEY}"),
    # Attempts per webhook delivery, and the first retry's delay in seconds (it doubles each time).
    "WEBHOOK_MAX_ATTEMPTS": env.int("GAN_WEBHOOK_MAX_ATTEMPTS", default=6),
    "WEBHOOK_RETRY_BASE_SECONDS": env.float("GAN_WEBHOOK_RETRY_BASE_SECONDS", default=5.0),
    "WEBHOOK_TIMEOUT_SECONDS": env.float("GAN_WEBHOOK_TIMEOUT_SECONDS", default=5.0),
    # Largest request body the API reads; a generate request is a few hundred bytes.
    "MAX_BODY_BYTES": env.int("GAN_MAX_BODY_BYTES", default=64 * 1024),
    # Require an API token (DRF token authentication) for every API call; off in the local setup.
    "REQUIRE_TOKEN": env.bool("GAN_REQUIRE_TOKEN", default=False),
    # Requests per client (DRF rate syntax, e.g. "120/min"); "anon" counts by IP address, "user" by token.
    "THROTTLE_RATES": {
        "anon": env.str("GAN_THROTTLE_ANON", default="600/min"),
        "user": env.str("GAN_THROTTLE_USER", default="1200/min"),
    },
    # Prefix for absolute media URLs built outside an HTTP request (the gRPC gateway).
    "PUBLIC_BASE_URL": env.str("GAN_PUBLIC_BASE_URL", default="http://127.0.0.1:8000"),
}

TRAINING = {
    # Full checkpoints (with critic and optimiser state) of each run, for resuming.
    "RUNS_DIR": Path(env.str("GAN_RUNS_DIR", default=str(VAR_DIR / "runs"))),
    "MAX_HOURS": TRAIN_MAX_HOURS,
    # A running run whose worker has not written a heartbeat for this long is taken over.
    "HEARTBEAT_STALE_SECONDS": env.int("GAN_TRAIN_HEARTBEAT_STALE_SECONDS", default=60),
    # Starts of one run before it is marked failed (a worker lost mid-run adds one).
    "MAX_ATTEMPTS": env.int("GAN_TRAIN_MAX_ATTEMPTS", default=3),
    # Samples per digit when scoring each checkpoint's model version.
    "EVAL_PER_DIGIT": env.int("GAN_TRAIN_EVAL_PER_DIGIT", default=100),
    # A version whose classifier agreement is below this needs an explicit override to activate.
    "QUALITY_FLOOR": env.float("GAN_QUALITY_FLOOR", default=0.95),
    "CLASSIFIER_PATH": env.str("GAN_CLASSIFIER_PATH", default=str(BASE_DIR / "gan_core" / "weights" / "mnist_classifier.pt")),
    # The same two for Fashion-MNIST runs; its classes are harder to tell apart, even for the classifier (about 92%).
    "FASHION_QUALITY_FLOOR": env.float("GAN_FASHION_QUALITY_FLOOR", default=0.80),
    "FASHION_CLASSIFIER_PATH": env.str("GAN_FASHION_CLASSIFIER_PATH",
                                       default=str(BASE_DIR / "gan_core" / "weights" / "fashion_mnist_classifier.pt")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
