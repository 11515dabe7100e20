from django.urls import path

from . import views

app_name = "syncjobs"
urlpatterns = [path("", views.mapping_list, name="mapping-list")]
