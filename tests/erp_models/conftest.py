import pytest
from django.test import Client


@pytest.fixture
def admin_client_logged_in(django_user_model, db: None) -> Client:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_superuser("root", "root@example.com", "Secret-pass-1")
    client = Client()
    client.force_login(user)
    return client
