from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from accounts import roles
from core.models import WorkerHeartbeat


def heartbeat_record(*, hostname: str) -> WorkerHeartbeat:
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"beat_at": timezone.now()}
    )
    return beat


@dataclass(frozen=True)
class AdminResult:
    user: AbstractUser
    created: bool


@transaction.atomic
def admin_ensure(*, username: str, email: str, password: str) -> AdminResult:
    """Create the first administrator unless a user with `username` exists.

    An existing user keeps its password (it may have been changed since): this runs on every
    `make run`. Either way the user ends up a superuser in the Integration administrators group.
    Raises django.core.exceptions.ValidationError when the password is too weak.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = user_model(username=username, email=email, is_staff=True, is_superuser=True)
        validate_password(password, user)
        user.set_password(password)
        user.save()
    elif not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    group, _ = Group.objects.get_or_create(name=roles.INTEGRATION_ADMIN)
    user.groups.add(group)
    return AdminResult(user=user, created=created)
