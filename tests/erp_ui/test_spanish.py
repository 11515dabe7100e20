import ast
import gettext
from pathlib import Path

import pytest
from django.test import Client

from tests.factories.erp import CurrencyFactory, CustomerFactory
from tests.support.po import BASE_DIR, PO_FILES, po_blocks

PO_FILE = PO_FILES[0]


def unescape(text: str) -> str:
    return ast.literal_eval(f'"{text}"')


def po_entries(text: str) -> list[dict[str, str | bool]]:
    """The entries of a .po file: msgid, the msgstr values joined, and the fuzzy flag."""
    entries: list[dict[str, str | bool]] = []
    for parts, fuzzy in po_blocks(text):
        msgstrs = [v for k, v in parts.items() if k.startswith("msgstr")]
        entries.append(
            {
                "msgid": parts.get("msgid", ""),
                "msgstr": parts.get("msgstr", ""),
                "plural": "msgid_plural" in parts,
                "translated": all(msgstrs) and bool(msgstrs),
                "fuzzy": fuzzy,
            }
        )
    return entries


@pytest.mark.parametrize("po_file", PO_FILES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_every_spanish_message_is_translated_and_not_fuzzy(po_file: Path) -> None:
    entries = [e for e in po_entries(po_file.read_text(encoding="utf-8")) if e["msgid"]]

    untranslated = [e["msgid"] for e in entries if not e["translated"]]
    fuzzy = [e["msgid"] for e in entries if e["fuzzy"]]

    assert entries
    assert untranslated == [], f"Untranslated Spanish messages: {untranslated}"
    assert fuzzy == [], f"Fuzzy Spanish messages: {fuzzy}"


@pytest.mark.parametrize("po_file", PO_FILES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_compiled_catalogue_matches_the_po_file(po_file: Path) -> None:
    """The .mo is committed (a fresh machine may lack gettext), so it must not lag behind."""
    with po_file.with_suffix(".mo").open("rb") as mo:
        catalogue = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    entries = [e for e in po_entries(po_file.read_text(encoding="utf-8")) if e["msgid"]]

    stale = [
        e["msgid"]
        for e in entries
        if not e["plural"] and catalogue.get(unescape(e["msgid"])) != unescape(e["msgstr"])
    ]

    assert stale == [], f"Run compilemessages: the .mo lacks {stale[:5]}"


def test_pages_render_in_spanish_with_spanish_numbers(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Fabrikam", credit_limit="12345.50")
    eur = CurrencyFactory(code="EUR", exchange_rate="1.5")
    sales_client.post("/i18n/setlang/", {"language": "es", "next": "/"})

    list_html = sales_client.get("/erp/customers/").content.decode()
    card_html = sales_client.get("/erp/customers/", {"q": "fabrikam"}).content.decode()
    currency_html = sales_client.get(f"/erp/currencies/{eur.pk}/").content.decode()

    assert '<html lang="es">' in list_html
    assert "<h1>Clientes</h1>" in list_html
    assert "Crear cliente" in list_html
    assert "1 registro" in card_html
    assert "1,500000" in currency_html
    assert "Tipo de cambio" in currency_html


def test_validation_errors_are_spanish(sales_client: Client) -> None:
    sales_client.post("/i18n/setlang/", {"language": "es", "next": "/"})

    html = sales_client.post(
        "/erp/customers/new/", {"no": "x", "name": "", "email": "bad"}
    ).content.decode()

    assert "Corrija los errores indicados a continuación." in html
    assert "Este campo es requerido." in html
    assert "Introduzca una dirección de correo electrónico válida." in html


def test_anonymous_visitor_can_switch_the_login_page_to_spanish(client: Client, db: None) -> None:
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/login/"}, follow=True)

    assert response.redirect_chain[-1][0] == "/login/"
    assert "Iniciar sesión" in response.content.decode()


def test_the_project_catalogue_covers_the_erp_pages() -> None:
    msgids = {e["msgid"] for e in po_entries(PO_FILE.read_text(encoding="utf-8"))}

    assert {"customers", "Search", "New %(name)s", "Log in"} <= msgids
