"""Drive the setup wizard with Django's test client, one step at a time."""

from typing import Any

PREFIX = "setup_wizard_view"


def post_step(client: Any, step: str, data: dict[str, Any], **extra: Any) -> Any:
    payload = {f"{PREFIX}-current_step": step}
    payload.update({f"{step}-{k}": v for k, v in data.items()})
    payload.update(extra)
    return client.post(f"/setup/{step}/", payload)


def crm_data(crm: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "environment_url": crm.url,
        "token_url": crm.token_url,
        "client_id": crm.client_id,
        "client_secret": crm.client_secret,
    }
    data.update(overrides)
    return data


def walk_to(client: Any, crm: Any, stop: str, **choices: Any) -> Any:
    """Walk from the start up to (not including) step `stop`; return the last response."""
    client.get("/setup/?reset")
    steps = [
        ("welcome", {}),
        ("crm", crm_data(crm)),
        ("solution", {"import_solution": "on", "admin_username": crm.admin_username,
                      "admin_password": crm.admin_password}),
        ("user", {}),
        ("areas", {"areas": choices.get("areas", ["salespeople", "currencies", "units", "customers",
                                                  "contacts", "items", "resources", "price_lists",
                                                  "invoices"]),
                   "owner_mode": "salesperson"}),
        ("availability", choices.get("availability", {"publish": ""})),
        ("sales-orders",
         choices.get("sales_orders", {"enabled": "on", "processor": "integration"})),
        ("finish", {"enable": "on"}),
    ]  # fmt: skip
    response = None
    for step, data in steps:
        if step == stop:
            return response
        response = post_step(client, step, data)
        assert response.status_code == 302, (step, _errors(response))
    return response


def _errors(response: Any) -> Any:
    form = response.context["form"] if response.context else None
    return form.errors if form is not None else response.content[:500]
