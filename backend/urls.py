from django.conf import settings
from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve

from backend.jobs.api.views import GenerateView, JobCancelView, JobDetailView

urlpatterns = [
    re_path(r"^api/generate/?$", GenerateView.as_view(), name="generate"),
    re_path(r"^api/jobs/(?P<job_id>[^/]+)/?$", JobDetailView.as_view(), name="job-detail"),
    re_path(r"^api/jobs/(?P<job_id>[^/]+)/cancel/?$", JobCancelView.as_view(), name="job-cancel"),
    path("admin/", admin.site.urls),
]

if settings.SERVE_MEDIA:
    prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(re_path(rf"^{prefix}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))

handler404 = "backend.jobs.api.errors.json_not_found"
handler500 = "backend.jobs.api.errors.json_server_error"
