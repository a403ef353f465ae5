"""Generation jobs and their images. The job row is the source of truth for a job's state."""

import uuid

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class JobKind(models.TextChoices):
    IMAGES = "images"  # count images of one digit, or of seed-derived digits
    GRID = "grid"  # chosen digits x k seeds, as cells and one sprite sheet
    INTERPOLATION = "interpolation"  # frames between two (digit, seed) points, and an animated GIF


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})


class Job(models.Model):
    """A request for ``count`` images of one digit (or random digits), one seed per image."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    kind = models.CharField(max_length=16, choices=JobKind.choices, default=JobKind.IMAGES, db_index=True)
    # Which dataset's model draws the images: "mnist" or "fashion-mnist" (gan_core.data.DATASETS).
    # For Fashion-MNIST, ``digit`` is the class index (0 T-shirt/top ... 9 Ankle boot).
    dataset = models.CharField(max_length=16, default="mnist")
    # Kind-specific parameters: grid {"digits", "seeds_per_digit"}; interpolation {"start_digit",
    # "end_digit", "start_seed", "end_seed", "frames"}. Empty for plain images.
    options = models.JSONField(default=dict, blank=True)
    # The grid's sprite sheet (PNG) or the interpolation's animation (GIF); empty for plain images.
    artifact = models.FileField(upload_to="jobs/", blank=True, max_length=255)
    # The requested class; null means each image gets a class derived from its seed.
    digit = models.SmallIntegerField(null=True, blank=True)
    count = models.PositiveSmallIntegerField(default=1)
    # Seed of the first image; image i uses seed + i. Drawn at random when the request omits it.
    seed = models.BigIntegerField()
    model_version = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    # Images stored so far; a worker updates it after each batch.
    progress = models.PositiveIntegerField(default=0)
    # True for GenerateStream jobs: the worker also publishes each image on a Redis stream.
    stream = models.BooleanField(default=False)
    # How many times a worker has started this job; redelivery after a lost worker adds one.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Optional URL that receives the job at the events in ``webhook_events`` (start, completed).
    webhook_url = models.URLField(max_length=2000, blank=True)
    webhook_events = models.JSONField(default=list, blank=True)
    # After this the job returns 410 and a periodic task deletes its images; set at creation
    # from GAN["RETENTION_HOURS"].
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"job {self.id} ({self.status})"

    @property
    def is_expired(self):
        from django.utils import timezone

        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_terminal(self):
        return self.status in TERMINAL_STATUSES


def image_path(image, filename):
    """``jobs/<first two hex digits of the job id>/<job id>-<index>.png``.

    Names come from ids only, so no user input reaches the storage path. The 256 shared
    folders are created once, where a folder per job cost each job a directory creation,
    which takes about as long as writing the file itself.
    """
    job_id = str(image.job_id)
    return f"jobs/{job_id[:2]}/{job_id}-{image.index:05d}.png"


class JobImage(models.Model):
    """One generated PNG of a job, stored through Django's default storage."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveIntegerField()
    digit = models.SmallIntegerField()
    seed = models.BigIntegerField()
    file = models.FileField(upload_to=image_path, max_length=255)
    # Grid cells: position in the sprite sheet. Interpolation frames: position on the path, 0 to 1.
    row = models.PositiveSmallIntegerField(null=True, blank=True)
    column = models.PositiveSmallIntegerField(null=True, blank=True)
    fraction = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="unique_image_index_per_job")]

    def __str__(self):
        return f"image {self.index} of job {self.job_id}"


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` and the job its first request created.

    A retried request with the same key and body gets that job back; the same key with
    another body is a conflict. The row goes when its job is deleted.
    """

    key = models.CharField(max_length=255, unique=True)
    # SHA-256 of the request's validated parameters, to tell a retry from a different request.
    request_hash = models.CharField(max_length=64)
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="idempotency_key")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.key


class WebhookEvent(models.TextChoices):
    START = "start"  # a worker started the job
    COMPLETED = "completed"  # the job succeeded, failed or was canceled


class WebhookDelivery(models.Model):
    """One event to POST to a job's webhook URL. Its id stays the same across retries."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(max_length=16, choices=WebhookEvent.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["job", "event"], name="one_delivery_per_job_event")]

    def __str__(self):
        return f"{self.event} of job {self.job_id} ({self.status})"
