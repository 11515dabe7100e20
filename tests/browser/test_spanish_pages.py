"""Every page each role can reach, in Spanish, shows no English message of the catalogue.

An English message on a Spanish page means a string the catalogue lacks or left fuzzy, or a
string translated once at import time (`gettext` instead of `gettext_lazy` at module or class
level) in whatever language was active then. The needles are the msgids of the Spanish .po files
whose translation differs from them (or is missing), plus the messages marked for translation in
the source that the catalogue does not have yet (a stale catalogue), at least MIN_LENGTH
characters long; a message with placeholders or markup contributes its literal pieces of that
length.
"""

import ast
import io
import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts import roles
from erp.tables import POSTED_SALES_INVOICES, SALES_ORDERS, TABLES
from sandbox import seed
from setup_wizard.views import STEPS
from tests.factories.accounts import IntegrationAdminFactory, UserFactory
from tests.support.po import BASE_DIR, PO_FILES, po_blocks

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

MIN_LENGTH = 12
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[sdfrgiex]|%[sdfrgiex]|\{\{[^}]*\}\}")
TAG = re.compile(r"<[^>]+>")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def po_messages(text: str) -> Iterator[tuple[list[str], list[str], bool]]:
    """(msgid and msgid_plural, the msgstr values, fuzzy) for each live entry of a .po file."""
    for parts, fuzzy in po_blocks(text):
        if not parts.get("msgid"):
            continue
        unescape = lambda s: s.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")  # noqa: E731
        ids = [unescape(parts[k]) for k in ("msgid", "msgid_plural") if k in parts]
        strs = [unescape(v) for k, v in parts.items() if k.startswith("msgstr")]
        yield ids, strs, fuzzy


APP_PACKAGES = ["accounts", "availability", "connection", "core", "coupling", "dataverse", "erp"]
APP_PACKAGES += ["erpcrm", "setup_wizard", "syncjobs"]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}
GETTEXT_NAMES |= {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}
TRANSLATE_TAG = re.compile(r"""{%\s*trans(?:late)?\s+(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
BLOCK_TAG = re.compile(
    r"{%\s*blocktrans(?:late)?\b.*?%}(.*?){%\s*endblocktrans(?:late)?\s*%}", re.S
)


def source_messages() -> set[str]:
    """The messages marked for translation in our Python modules and templates (what
    makemessages would extract), so that a catalogue lagging behind the source shows up."""
    found = set()
    for package in APP_PACKAGES:
        for path in (BASE_DIR / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name not in GETTEXT_NAMES:
                    continue
                args = node.args[1:] if name.startswith(("pgettext", "npgettext")) else node.args
                constants = [a.value for a in args if isinstance(a, ast.Constant)]
                found |= {value for value in constants if isinstance(value, str)}
    for path in (BASE_DIR / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        found |= {a or b for a, b in TRANSLATE_TAG.findall(text)}
        for block in BLOCK_TAG.findall(text):
            found |= set(re.split(r"{%\s*plural\s*%}", block))
    return found


def english_needles() -> set[str]:
    """English texts that must not appear on a Spanish page."""
    messages = [m for po in PO_FILES for m in po_messages(po.read_text(encoding="utf-8"))]
    spanish = " | ".join(normalise(TAG.sub(" ", s)) for _ids, strs, _f in messages for s in strs)
    same_in_spanish = {i for ids, strs, fuzzy in messages if not fuzzy for i in ids if i in strs}
    needles = set()
    for msgid in source_messages() | {i for ids, _strs, _fuzzy in messages for i in ids}:
        if msgid not in same_in_spanish:  # not a product name, "CRM", ...
            for piece in PLACEHOLDER.split(TAG.sub(" ", msgid.replace("%%", "%"))):
                piece = normalise(piece)
                # A piece some translation contains too (a role name kept in English) proves
                # nothing.
                if len(piece) >= MIN_LENGTH and piece not in spanish:
                    needles.add(piece)
    return needles


def english_on_page(page: Page, needles: set[str]) -> list[str]:
    text = normalise(page.evaluate("document.title + '\\n' + document.body.innerText"))
    return sorted(n for n in needles if n in text)


def saved_connection(sandbox, monkeypatch) -> None:
    """As tests/plugins/crm_setup.py's `saved_connection`: solution imported, enabled."""
    sandbox.reset()
    monkeypatch.setenv("CRM_CLIENT_SECRET", seed.INTEGRATION_CLIENT_SECRET)
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", seed.ADMIN_PASSWORD)
    call_command(
        "setup_connection",
        "--environment-url", sandbox.url, "--token-url", sandbox.token_url,
        "--client-id", seed.INTEGRATION_CLIENT_ID, "--admin-username", seed.ADMIN_USERNAME,
        stdout=io.StringIO(),
    )  # fmt: skip
    monkeypatch.delenv("CRM_CLIENT_SECRET")
    monkeypatch.delenv("CRM_ADMIN_PASSWORD")


def every_page(user: User) -> list[str]:
    """Every page of the app but /api/docs/ (a third-party UI), with records to show."""
    urls = ["/", "/account/", "/users/", f"/users/{user.pk}/", "/sync/"]
    urls += ["/connection/", "/setup/connection/reset-defaults/", "/setup/complete/"]
    urls += [f"/setup/{name}/" for name, _form in STEPS]
    for table in TABLES:
        record = table.model._default_manager.order_by("pk").first()
        assert record is not None, f"no {table.slug} record to show"
        base = f"/erp/{table.slug}/"
        urls += [base, f"{base}new/", f"{base}{record.pk}/", f"{base}{record.pk}/edit/"]
        urls += [f"{base}{record.pk}/delete/"]
    # The sales documents (seed_demo makes some): an open order first, then a released one,
    # and the read-only posted invoices.
    for status in ("open", "released"):
        order = SALES_ORDERS.model._default_manager.filter(status=status).order_by("pk").first()
        assert order is not None, f"no {status} sales order to show"
        base = f"/erp/{SALES_ORDERS.slug}/"
        urls += [base, f"{base}new/", f"{base}{order.pk}/", f"{base}{order.pk}/delete/"]
        if status == "open":
            urls += [f"{base}{order.pk}/edit/"]
    invoice = POSTED_SALES_INVOICES.model._default_manager.order_by("pk").first()
    assert invoice is not None, "no posted sales invoice to show"
    urls += [
        f"/erp/{POSTED_SALES_INVOICES.slug}/",
        f"/erp/{POSTED_SALES_INVOICES.slug}/{invoice.pk}/",
    ]
    return urls


ROLES = {
    "integration administrator": lambda: IntegrationAdminFactory(),
    "salesperson": lambda: UserFactory(roles=[roles.SALESPERSON]),
    "support": lambda: UserFactory(roles=[roles.SUPPORT]),
}
# Pages each role must reach (not 403), so that a broken login cannot pass the test.
MUST_REACH = {
    "integration administrator": ["/connection/", "/setup/crm/", "/users/", "/sync/"],
    "salesperson": ["/erp/customers/new/", "/account/"],
    "support": ["/sync/", "/erp/items/"],
}


def spanish_context(browser: Browser, base_url: str, user: User | None) -> BrowserContext:
    context = browser.new_context(base_url=base_url, locale="en-US")
    context.set_default_timeout(20_000)
    if user is not None:
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        cookie = {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}
        context.add_cookies([cookie])  # type: ignore[list-item]
    return context


def switch_to_spanish(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("Language").select_option("es")
    expect(page.locator("html")).to_have_attribute("lang", "es")


@pytest.fixture
def demo_records(db: None) -> None:
    call_command(
        "seed_demo", "--customers", "3", "--contacts", "3", "--items", "3", "--resources", "2",
        stdout=io.StringIO(),
    )  # fmt: skip


def test_the_login_page_in_spanish_shows_no_english_message(browser: Browser, live_server) -> None:
    context = spanish_context(browser, live_server.url, None)
    try:
        page = context.new_page()
        switch_to_spanish(page, "/login/")
        assert english_on_page(page, english_needles()) == []
    finally:
        context.close()


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_a_role_in_spanish_shows_no_english_message(
    role: str,
    browser: Browser,
    live_server,
    sandbox,
    monkeypatch: pytest.MonkeyPatch,
    demo_records: None,
) -> None:
    saved_connection(sandbox, monkeypatch)
    user = ROLES[role]()
    needles = english_needles()
    context = spanish_context(browser, live_server.url, user)
    found: dict[str, list[str]] = {}
    reached = []
    try:
        page = context.new_page()
        switch_to_spanish(page, "/account/")
        for url in every_page(user):
            response = page.goto(url)
            assert response is not None
            assert response.status < 500, f"{url} answered {response.status} to the {role}"
            assert page.locator("html").get_attribute("lang") == "es", url
            if response.status != 403:
                reached.append(url)
            # The 403 page is a page the role sees too.
            english = english_on_page(page, needles)
            if english:
                found[url] = english
    finally:
        context.close()

    assert set(MUST_REACH[role]) <= set(reached)
    assert found == {}, f"English messages on Spanish pages of the {role}: {found}"
