from django.contrib import admin
from django.utils.html import format_html

from .models import Job, JobImage


class JobImageInline(admin.TabularInline):
    model = JobImage
    extra = 0
    can_delete = False
    fields = ("index", "digit", "seed", "preview")
    readonly_fields = fields

    @admin.display(description="image")
    def preview(self, image):
        return format_html('<img src="{}" width="56" height="56" style="image-rendering: pixelated">', image.file.url)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "digit", "count", "seed", "model_version", "created_at", "finished_at")
    list_filter = ("status", "digit", "model_version")
    search_fields = ("id",)
    readonly_fields = ("id", "status", "digit", "count", "seed", "model_version", "error", "attempts",
                       "created_at", "started_at", "finished_at")
    inlines = [JobImageInline]

    def has_add_permission(self, request):
        return False  # jobs are created through the API, which validates and enqueues them
