"""Write a `.env` with fresh secrets for local use; never touches an existing one.

Run by `make run` with the project's virtualenv (it needs `cryptography`).
"""

import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Written by `make run` on first start. Keep this file private; it is in .gitignore.
# Every setting is documented in README.md ("Configuration").
DJANGO_SECRET_KEY={secret_key}
# Fernet keys that encrypt stored secrets (newest first, comma-separated). Losing them means
# re-entering the CRM connection secrets.
FIELD_ENCRYPTION_KEYS={fernet_key}
"""


def env_write(*, path: Path) -> bool:
    """Create `path` with new secrets; False (and no change) if it already exists."""
    content = TEMPLATE.format(
        # token_urlsafe never yields "$", which django-environ would try to interpolate.
        secret_key=secrets.token_urlsafe(50),
        fernet_key=Fernet.generate_key().decode("ascii"),
    )
    try:
        # O_EXCL: never overwrite; 0o600: the secrets are readable by their owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return True


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if env_write(path=path):
        print(f"Wrote {path} with a new DJANGO_SECRET_KEY and FIELD_ENCRYPTION_KEYS.")
    else:
        print(f"{path} exists; left as it is.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
