from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    # POST only (Django 5): a link cannot log anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/web-service-key/", views.account_key, name="account-key"),
    path("account/web-service-key/revoke/", views.account_key_revoke, name="account-key-revoke"),
    path("account/api-token/", views.account_api_token, name="account-api-token"),
    path(
        "account/api-token/revoke/",
        views.account_api_token_revoke,
        name="account-api-token-revoke",
    ),
    path("users/", views.user_list, name="user-list"),
    path("users/<int:pk>/", views.user_detail, name="user-detail"),
    path("users/<int:pk>/web-service-key/", views.user_key, name="user-key"),
    path("users/<int:pk>/web-service-key/revoke/", views.user_key_revoke, name="user-key-revoke"),
    path("users/<int:pk>/api-token/", views.user_api_token, name="user-api-token"),
    path(
        "users/<int:pk>/api-token/revoke/",
        views.user_api_token_revoke,
        name="user-api-token-revoke",
    ),
]
