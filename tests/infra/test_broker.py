"""The embedded file-system broker writes a message under a name the reader ignores and renames
it into place when complete, so a polling worker never reads a half-written message."""

import json
import os

from erpcrm.celery import app


def test_a_message_appears_only_complete(tmp_path, settings) -> None:
    with app.connection_for_write("filesystem://") as conn:
        conn.transport_options.update(
            {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
        )
        channel = conn.default_channel
        # A message still being written, as another process would leave it.
        (tmp_path / ".123_x.jobs.msg.partial").write_bytes(b'{"body": "incompl')
        channel._put("jobs", {"body": "hello"})
        names = sorted(os.listdir(tmp_path))
        assert len(names) == 2 and names[1].endswith(".jobs.msg"), names
        assert json.loads((tmp_path / names[1]).read_bytes()) == {"body": "hello"}
        assert channel._get("jobs") == {"body": "hello"}
        # The partial file is not a message.
        assert channel._size("jobs") == 0
