"""docker-compose.yml, the production shape: read as compose would, without Docker."""

import re
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def default_of(value: str) -> str:
    """The value compose uses when the variable is unset: "${NAME:-default}" -> "default"."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_the_sandbox_is_published_on_this_machine_only() -> None:
    ports = compose()["services"]["sandbox"]["ports"]

    assert ports
    assert [default_of(port) for port in ports] == ["127.0.0.1:8765:8765"]


def test_the_app_trusts_the_one_tls_proxy_in_front_for_client_addresses() -> None:
    for name in ("web", "worker", "beat"):
        environment = compose()["services"][name]["environment"]
        assert default_of(str(environment["TRUSTED_PROXY_COUNT"])) == "1", name
