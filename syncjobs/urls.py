from django.urls import path

from . import fullsync_views, jobqueue_views, views

app_name = "syncjobs"
urlpatterns = [
    path("", views.mapping_list, name="mapping-list"),
    path("defaults/", views.mappings_restore_defaults, name="restore-defaults"),
    path("synchronize/", views.mappings_synchronize, name="synchronize-all"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("mappings/<int:pk>/", views.mapping_edit, name="mapping-edit"),
    path("mappings/<int:pk>/synchronize/", views.mapping_synchronize, name="mapping-synchronize"),
    path("mappings/<int:pk>/full/", views.mapping_full_synchronize, name="mapping-full"),
    path("mappings/<int:pk>/dry-run/", views.mapping_dry_run, name="mapping-dry-run"),
    path("mappings/<int:pk>/defaults/", views.mapping_restore_default, name="mapping-defaults"),
    path("jobs/", jobqueue_views.entry_list, name="job-queue"),
    *[
        path(
            f"jobs/<int:pk>/{action}/",
            jobqueue_views.entry_action,
            {"action": action},
            name=f"job-queue-{action}",
        )
        for action in ("pause", "resume", "hold", "run")
    ],  # fmt: skip
    path("full/", fullsync_views.review, name="fullsync"),
    path("full/status.json", fullsync_views.status_json, name="fullsync-status"),
    path("full/prepare/", fullsync_views.prepare, name="fullsync-prepare"),
    path("full/start/", fullsync_views.start, name="fullsync-start"),
    path("full/lines/<int:pk>/restart/", fullsync_views.line_restart, name="fullsync-line-restart"),
    path(
        "full/lines/<int:pk>/override/", fullsync_views.line_override, name="fullsync-line-override"
    ),
]
