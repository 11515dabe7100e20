"""The recorded Dataverse exchanges in tests/fixtures are the published ones, unedited."""

from pathlib import Path

import pytest

from tests.support.examples import EXAMPLES_DIR

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "dataverse-examples"


def test_every_published_exchange_is_in_the_repository() -> None:
    assert len(sorted(EXAMPLES_DIR.glob("*.http"))) >= 34


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="the shared reference is not beside this clone")
def test_recorded_exchanges_equal_the_reference_byte_for_byte() -> None:
    reference = {p.name: p.read_bytes() for p in REFERENCE.glob("*.http")}
    recorded = {p.name: p.read_bytes() for p in EXAMPLES_DIR.glob("*.http")}
    assert recorded == reference
