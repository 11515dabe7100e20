"""The Content-Security-Policy: no inline script anywhere, and the pages (the API
documentation page included) still work under it in a real browser."""

import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.factories.accounts import IntegrationAdminFactory

BASE_DIR = Path(__file__).resolve().parent.parent.parent
TEMPLATES = BASE_DIR / "templates"


def directives(header: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/healthz", "/static/css/app.css"])
def test_every_response_carries_a_policy_without_inline_code(client: Client, path: str) -> None:
    response = client.get(path)

    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_api_documentation_pages_inline_script_runs_by_nonce_alone(client: Client) -> None:
    client.force_login(IntegrationAdminFactory())

    response = client.get("/api/docs/")

    policy = directives(response["Content-Security-Policy"])
    nonces = [value for value in policy["script-src"] if value.startswith("'nonce-")]
    assert policy["script-src"][0] == "'self'" and len(nonces) == 1
    assert "'unsafe-inline'" not in policy["script-src"]
    nonce = nonces[0].removeprefix("'nonce-").removesuffix("'")
    assert f'<script nonce="{nonce}">' in response.content.decode()


def test_templates_hold_no_inline_script_style_or_event_handler() -> None:
    # An inline script is admitted only with the response's nonce (the API documentation page).
    offenders = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        name = template.relative_to(BASE_DIR)
        offenders += [
            f"{name}: inline <script>"
            for _ in re.findall(r"<script(?![^>]*\b(?:src|nonce)=)", text)
        ]
        offenders += [f"{name}: <style>" for _ in re.findall(r"<style\b", text)]
        offenders += [f"{name}: {m}" for m in re.findall(r"\s(on[a-z]+)\s*=", text)]
        offenders += [f"{name}: style=" for _ in re.findall(r"\sstyle\s*=", text)]
        offenders += [f"{name}: javascript: URL" for _ in re.findall(r"javascript:", text)]
    assert offenders == []


def csp_violations(page: Page) -> list[str]:
    seen: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", record)
    return seen


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_api_documentation_page_works_under_the_policy(page: Page) -> None:
    IntegrationAdminFactory(username="docs-reader")
    violations = csp_violations(page)
    page.goto("/login/?next=/api/docs/")
    page.get_by_label("Username").fill("docs-reader")
    page.get_by_label("Password").fill("Correct-Horse-9!")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/api/docs/$"))
    # Swagger UI rendered the schema: its title and an operation of the ERP tables.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("erpcrm API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_scripts_run_under_the_policy(page: Page) -> None:
    IntegrationAdminFactory(username="menu-user")
    violations = csp_violations(page)
    page.goto("/login/")
    page.get_by_label("Username").fill("menu-user")
    page.get_by_label("Password").fill("Correct-Horse-9!")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))

    # static/js/app.js marks the document once it has run.
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs\b"))
    assert violations == []
