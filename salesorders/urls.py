from django.urls import URLPattern, URLResolver

app_name = "salesorders"

urlpatterns: list[URLPattern | URLResolver] = []
