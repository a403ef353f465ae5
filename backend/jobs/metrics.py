"""Prometheus metrics, computed from the database and Redis at scrape time.

Reading the job table at scrape time gives the same figures from every web process,
with no shared metric state between gunicorn workers and Celery workers.
"""

from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .models import Job, JobKind, JobStatus
from .services import QueueUnavailableError, queue_depth

# Upper bounds in seconds of the generation-latency histogram (job started to job finished).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class JobCollector:
    def collect(self):
        jobs = GaugeMetricFamily("gan_jobs", "Jobs in the database by status and kind.", labels=["status", "kind"])
        rows = Job.objects.values("status", "kind").annotate(count=Count("id")).values_list("status", "kind", "count")
        counts = {(status, kind): count for status, kind, count in rows}
        for status in JobStatus.values:
            for kind in JobKind.values:
                jobs.add_metric([status, kind], counts.get((status, kind), 0))
        yield jobs

        images = CounterMetricFamily("gan_images_generated", "Images generated and stored, over jobs still kept.")
        images.add_metric([], Job.objects.aggregate(total=Sum("progress"))["total"] or 0)
        yield images

        depth = GaugeMetricFamily("gan_queue_depth", "Generate tasks waiting in Redis (-1 when Redis is unreachable).")
        try:
            depth.add_metric([], queue_depth())
        except QueueUnavailableError:
            depth.add_metric([], -1)
        yield depth

        yield self._latency_histogram()

    def _latency_histogram(self):
        durations = (
            Job.objects.filter(status=JobStatus.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
            .annotate(duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()))
            .values_list("duration", flat=True)
        )
        seconds = [duration.total_seconds() for duration in durations]
        buckets = [(str(bound), sum(1 for value in seconds if value <= bound)) for bound in LATENCY_BUCKETS]
        buckets.append(("+Inf", len(seconds)))
        histogram = HistogramMetricFamily("gan_generation_latency_seconds",
                                          "Time from a worker starting a job to the job succeeding.")
        histogram.add_metric([], buckets, sum_value=sum(seconds))
        return histogram
