"""Admin pages where staff start, watch, cancel and resume training runs and activate model versions."""

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from . import services
from .models import ModelVersion, RunStatus, TrainingRun
from .plots import loss_plot_svg

CONFIG_FIELDS = ("name", "dataset", "max_steps", "epochs", "batch_size", "generator_lr", "critic_lr", "n_critic",
                 "gp_weight", "latent_dim", "conditional_norm", "auxiliary_classifier", "seed", "device",
                 "precision", "checkpoint_every", "log_every", "start_from", "start_from_default", "critic_warmup")


def format_duration(seconds):
    return str(timedelta(seconds=int(seconds)))


def progress_text(run):
    """Return "step S of T (P%), elapsed E, ETA R" for the run's current attempt."""
    if not run.total_steps:
        return "waiting for a worker" if run.status == RunStatus.QUEUED else "-"
    percent = 100 * run.step / run.total_steps
    parts = [f"step {run.step} of {run.total_steps} ({percent:.1f}%)"]
    if run.started_at:
        end = run.finished_at or timezone.now()
        parts.append(f"elapsed {format_duration((end - run.started_at).total_seconds())}")
    done_this_attempt = run.step - run.attempt_start_step
    if run.status == RunStatus.RUNNING and run.attempt_started_at and done_this_attempt > 0:
        seconds_per_step = (timezone.now() - run.attempt_started_at).total_seconds() / done_this_attempt
        parts.append(f"ETA {format_duration(seconds_per_step * (run.total_steps - run.step))}")
    return ", ".join(parts)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "progress_bar", "agreement", "created_at")
    list_filter = ("status", "dataset")
    actions = ["cancel_runs", "resume_runs"]
    fieldsets = [
        ("Configuration", {"fields": CONFIG_FIELDS}),
        ("Progress", {"fields": ("status", "progress_bar", "error", "attempts", "created_by", "created_at",
                                 "started_at", "finished_at")}),
        ("Samples and losses", {"fields": ("latest_grid_image", "loss_plot", "model_versions")}),
    ]
    readonly_fields = ("status", "progress_bar", "error", "attempts", "created_by", "created_at", "started_at",
                       "finished_at", "latest_grid_image", "loss_plot", "model_versions")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [("Configuration", {"fields": CONFIG_FIELDS})]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        # A run's configuration is fixed once it exists; start a new run to change it.
        return self.readonly_fields + (CONFIG_FIELDS if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
        else:
            services.training_run_create(run=obj, user=request.user)

    @admin.display(description="progress")
    def progress_bar(self, run):
        return format_html('<progress value="{}" max="{}" style="width: 12em"></progress> {}',
                           run.step, max(run.total_steps, 1), progress_text(run))

    @admin.display(description="best agreement")
    def agreement(self, run):
        scores = [version.metrics.get("agreement") for version in run.versions.all()]
        scores = [score for score in scores if score is not None]
        return f"{max(scores):.4f}" if scores else "-"

    @admin.display(description="latest fixed-noise samples (one row per digit)")
    def latest_grid_image(self, run):
        if not run.latest_grid:
            return "none yet"
        return format_html('<img src="{}" width="{}" style="image-rendering: pixelated">', run.latest_grid.url, 3 * 302)

    @admin.display(description="losses over generator steps")
    def loss_plot(self, run):
        svg = loss_plot_svg(run.history)
        # The SVG is drawn by matplotlib from numbers only, so it carries no user input.
        return mark_safe(svg) if svg else "no losses recorded yet"  # noqa: S308

    @admin.display(description="model versions")
    def model_versions(self, run):
        versions = run.versions.order_by("step")
        if not versions:
            return "none yet"
        return format_html_join(
            mark_safe("<br>"), '<a href="../../../modelversion/{}/change/">{}</a>: agreement {}{}',
            ((version.pk, version.version, f"{version.metrics.get('agreement', float('nan')):.4f}",
              " (active)" if version.is_active else "") for version in versions),
        )

    @admin.action(description="Cancel selected runs (they keep their last checkpoint)")
    def cancel_runs(self, request, queryset):
        selected = queryset.count()
        canceled = [run for run in queryset if services.training_run_cancel(run_id=run.pk)]
        message = f"Canceled {len(canceled)} of {selected} runs."
        if len(canceled) < selected:
            message += " Only queued or running runs can be canceled."
        self.message_user(request, message, messages.SUCCESS if canceled else messages.WARNING)

    @admin.action(description="Resume selected runs from their last checkpoint")
    def resume_runs(self, request, queryset):
        for run in queryset:
            try:
                services.training_run_resume(run_id=run.pk)
            except services.RunStateError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Run {run.pk} queued to resume from step {run.step}.", messages.SUCCESS)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "dataset", "run", "step", "agreement", "frechet_distance", "is_active", "created_at")
    list_filter = ("is_active", "dataset")
    actions = ["activate", "activate_with_override", "deactivate"]
    readonly_fields = ("name", "version", "dataset", "run", "step", "checkpoint", "is_active", "activated_at", "created_at",
                       "grid_image", "metrics_table")
    exclude = ("grid", "metrics")

    def has_add_permission(self, request):
        return False  # versions come from training runs

    @admin.display(description="agreement")
    def agreement(self, version):
        value = version.metrics.get("agreement")
        return f"{value:.4f}" if value is not None else "-"

    @admin.display(description="Fréchet distance (floor)")
    def frechet_distance(self, version):
        value, floor = version.metrics.get("frechet_distance"), version.metrics.get("frechet_distance_floor")
        return f"{value:.3f} ({floor:.3f})" if value is not None else "-"

    @admin.display(description="samples (one row per digit)")
    def grid_image(self, version):
        if not version.grid:
            return "-"
        return format_html('<img src="{}" width="906" style="image-rendering: pixelated">', version.grid.url)

    @admin.display(description="agreement per digit")
    def metrics_table(self, version):
        per_digit = version.metrics.get("per_digit", {})
        return format_html_join(", ", "{}: {}", ((digit, f"{entry['agreement']:.3f}") for digit, entry in per_digit.items()))

    def _activate(self, request, queryset, override):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = services.model_version_activate(version_id=queryset.get().pk, override=override)
        except services.QualityFloorError as error:
            self.message_user(request, f"Not activated: {error}", messages.ERROR)
            return
        # Messages start with a word because the admin capitalises their first letter, which would
        # change the version id.
        self.message_user(request, f"Version {version.version} is now active; new generate jobs use it.", messages.SUCCESS)

    @admin.action(description="Activate (new generate jobs use it)")
    def activate(self, request, queryset):
        self._activate(request, queryset, override=False)

    @admin.action(description="Activate, overriding the quality floor")
    def activate_with_override(self, request, queryset):
        self._activate(request, queryset, override=True)

    def delete_model(self, request, obj):
        was_active = obj.is_active
        super().delete_model(request, obj)
        if was_active:
            self.report_default_model(request, [obj])

    def delete_queryset(self, request, queryset):
        active = [version for version in queryset if version.is_active]
        super().delete_queryset(request, queryset)
        self.report_default_model(request, active)

    def report_default_model(self, request, deleted_active):
        """Tell staff which datasets went back to their default model because their active version was deleted."""
        for version in deleted_active:
            self.message_user(request, f"Version {version.version} was the active one; new "
                                       f"{version.get_dataset_display()} jobs now use the default model.",
                              messages.WARNING)

    @admin.action(description="Deactivate (new jobs use the default model)")
    def deactivate(self, request, queryset):
        active = [version for version in queryset if version.is_active]
        if not active:
            self.message_user(request, "None of the selected versions is active; nothing changed.", messages.WARNING)
            return
        for version in active:
            services.model_version_deactivate(version_id=version.pk)
            self.message_user(request, f"Version {version.version} is no longer active; new "
                                       f"{version.get_dataset_display()} jobs use the default model.", messages.SUCCESS)
