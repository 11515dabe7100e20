from django.urls import path

from . import views

app_name = "coupling"
urlpatterns = [
    path("", views.index, name="index"),
    path("errors/", views.errors, name="errors"),
    path("errors/retry/", views.errors_retry, name="errors-retry"),
    path("errors/retry-all/", views.errors_retry_all, name="errors-retry-all"),
    path("<int:pk>/", views.mapping_page, name="mapping"),
    path("<int:pk>/crm-search/", views.crm_search, name="crm-search"),
    path("<int:pk>/couple/<uuid:erp_uuid>/", views.couple, name="couple"),
    path("<int:pk>/actions/", views.bulk_action, name="bulk"),
    path("<int:pk>/history/", views.history, name="history"),
    path("<int:pk>/match/", views.match, name="match"),
    path("couplings/<int:cid>/uncouple/", views.uncouple, name="uncouple"),
    path("couplings/<int:cid>/synchronize/", views.synchronize, name="synchronize"),
    path("couplings/<int:cid>/resolve/", views.resolve, name="resolve"),
    path("couplings/<int:cid>/restore/", views.restore, name="restore"),
    path("couplings/<int:cid>/delete/", views.delete_coupling, name="delete"),
    path("match-runs/<int:run_id>/", views.match_run, name="match-run"),
    path("match-runs/<int:run_id>/status/", views.match_run_status, name="match-run-status"),
    path("candidates/<int:cid>/couple/", views.candidate_couple, name="candidate-couple"),
    path("actions/<int:aid>/", views.action_progress, name="action"),
    path(
        "full-sync-lines/<int:pk>/couple/",
        views.fullsync_line_couple,
        name="fullsync-line-couple",
    ),
    path("actions/<int:aid>/status/", views.action_status, name="action-status"),
]
