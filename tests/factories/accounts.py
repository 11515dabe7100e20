"""factory-boy factories for users (tests of every app may use them; test-only)."""

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from accounts.roles import INTEGRATION_ADMIN

DEFAULT_PASSWORD = "Correct-Horse-9!"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        """UserFactory(roles=["Integration administrators"]) puts the user in those groups."""
        if create:
            add_roles(self, extracted or [])


class IntegrationAdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"intadmin{n}")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            add_roles(self, extracted or [INTEGRATION_ADMIN])


def add_roles(user: Any, names: list[str]) -> None:
    for name in names:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
