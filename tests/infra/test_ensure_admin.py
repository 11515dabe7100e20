"""`manage.py ensure_admin`: the first administrator, created once, password shown once."""

import io
import logging
import re

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts import roles

pytestmark = pytest.mark.django_db


def run_ensure_admin() -> str:
    out = io.StringIO()
    # Another test's Spanish request may have left Spanish active in this thread.
    with translation.override("en"):
        call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def no_admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DJANGO_ADMIN_USERNAME", "DJANGO_ADMIN_PASSWORD", "DJANGO_ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)


def test_generated_password_is_printed_once_and_signs_in(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    first = run_ensure_admin()
    second = run_ensure_admin()

    password = re.search(r"password: (\S+)", first).group(1)
    assert authenticate(username="admin", password=password) is not None
    assert password not in second
    assert "exists" in second
    assert password not in caplog.text


def test_administrator_is_superuser_and_integration_administrator() -> None:
    run_ensure_admin()

    user = User.objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert user.groups.filter(name=roles.INTEGRATION_ADMIN).exists()


def test_credentials_from_the_environment_are_used_and_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "Corr3ct-Horse-Battery")
    monkeypatch.setenv("DJANGO_ADMIN_EMAIL", "boss@example.org")

    output = run_ensure_admin()

    assert "Corr3ct-Horse-Battery" not in output
    user = authenticate(username="boss", password="Corr3ct-Horse-Battery")
    assert user is not None
    assert user.email == "boss@example.org"


def test_existing_password_is_kept_on_later_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "First-Pass-word-1")
    run_ensure_admin()
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "Second-Pass-word-2")

    run_ensure_admin()

    assert authenticate(username="admin", password="First-Pass-word-1") is not None


def test_weak_password_from_the_environment_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "123")

    with pytest.raises(CommandError, match="DJANGO_ADMIN_PASSWORD is not accepted: .*too short"):
        run_ensure_admin()

    assert not User.objects.filter(username="admin").exists()


def test_existing_plain_user_is_promoted_to_administrator() -> None:
    User.objects.create_user("admin", password="Own-pass-word-9")

    run_ensure_admin()

    user = User.objects.get(username="admin")
    assert user.is_superuser
    assert user.check_password("Own-pass-word-9")
