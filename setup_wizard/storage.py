"""Wizard storage that never keeps a secret in clear text in the session.

formtools keeps the raw POST data of each step in the session. Secret fields are encrypted with
connection.crypto before they are stored and decrypted when read; the administrator password is
dropped altogether (it is used once, during the step that needs it).
"""

from typing import Any

from django.utils.datastructures import MultiValueDict
from formtools.wizard.storage.session import SessionStorage

from connection import crypto

ENCRYPTED_FIELDS = frozenset({"client_secret", "existing_key"})
DROPPED_FIELDS = frozenset({"admin_password"})
_MARK = "enc:"


def _base(key: str) -> str:
    # formtools prefixes field names with the step name: "crm-client_secret".
    return key.split("-", 1)[-1]


class EncryptedSessionStorage(SessionStorage):
    def set_step_data(self, step: str, cleaned_data: Any) -> None:
        if isinstance(cleaned_data, MultiValueDict):
            cleaned_data = dict(cleaned_data.lists())
        data: dict[str, list[str]] = {}
        for key, values in (cleaned_data or {}).items():
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            base = _base(key)
            if base in DROPPED_FIELDS:
                continue
            if base in ENCRYPTED_FIELDS:
                values = [_MARK + crypto.encrypt(v) if v else "" for v in values]
            data[key] = values
        super().set_step_data(step, data)

    def get_step_data(self, step: str) -> MultiValueDict | None:
        values = super().get_step_data(step)
        if values is None:
            return None
        decrypted = {}
        for key, items in values.lists():
            if _base(key) in ENCRYPTED_FIELDS:
                items = [
                    crypto.decrypt(v[len(_MARK) :]) if v.startswith(_MARK) else v for v in items
                ]
            decrypted[key] = items
        return MultiValueDict(decrypted)
