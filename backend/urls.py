from django.conf import settings
from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.jobs.api.operations import healthz, metrics, readyz
from backend.jobs.api.views import GenerateView, JobCancelView, JobDetailView, JobListView

urlpatterns = [
    path("api/generate", GenerateView.as_view(), name="generate"),
    path("api/jobs", JobListView.as_view(), name="job-list"),
    path("api/jobs/<str:job_id>", JobDetailView.as_view(), name="job-detail"),
    path("api/jobs/<str:job_id>/cancel", JobCancelView.as_view(), name="job-cancel"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

if settings.SERVE_MEDIA:
    prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{prefix}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))

handler400 = "backend.jobs.api.errors.json_bad_request"
handler404 = "backend.jobs.api.errors.json_not_found"
handler500 = "backend.jobs.api.errors.json_server_error"
