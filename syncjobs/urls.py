from django.urls import path

from . import views

app_name = "syncjobs"
urlpatterns = [
    path("", views.mapping_list, name="mapping-list"),
    path("defaults/", views.mappings_restore_defaults, name="restore-defaults"),
    path("mappings/<int:pk>/", views.mapping_edit, name="mapping-edit"),
    path("mappings/<int:pk>/defaults/", views.mapping_restore_default, name="mapping-defaults"),
]
