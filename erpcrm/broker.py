"""The file-system broker of the embedded defaults (`filesystem://`), with atomic writes.

kombu's filesystem transport creates a message file and then writes it; a worker polling the
folder at that moment moves the still-empty file away and dies on the JSON it cannot decode
("Unrecoverable error: JSONDecodeError"). Here a message is written under a name the reader
ignores and renamed into place when complete (a rename within a folder is atomic).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's stubs give the abstract channel's (queue, message); the filesystem channel takes
    # (queue, payload, **kwargs).
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: the reader matches "<anything>.<queue>.msg" after the first dot only.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def install() -> None:
    """Make `filesystem://` broker URLs use this transport."""
    TRANSPORT_ALIASES["filesystem"] = "erpcrm.broker:Transport"
