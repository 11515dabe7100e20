"""Test settings: the same embedded defaults, or PostgreSQL + Redis when the environment says so."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-insecure-" + "y" * 40)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="]
)
LOGIN_THROTTLE_ATTEMPTS = 5
