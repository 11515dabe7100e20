"""The web app, the worker and beat are separate processes writing to one database; on SQLite
a writer must wait for another's transaction rather than fail with "database is locked"."""

import subprocess
import sys
import textwrap
from pathlib import Path

from core.models import WorkerHeartbeat
from sandbox.process import BASE_DIR

WRITES_PER_PROCESS = 150

# Each process records heartbeats the way a worker does (update_or_create: a read, then a
# write, in one transaction), on a row of its own and on one row all of them share. They all
# start writing at once: each waits until the test creates the "go" file.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    import django

    django.setup()
    from core.services import heartbeat_record

    name, go = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    for _ in range({writes}):
        heartbeat_record(hostname=name)
        heartbeat_record(hostname="shared")
    print("done", flush=True)
    """
).format(writes=WRITES_PER_PROCESS)


def test_concurrent_writers_in_separate_processes_all_succeed(
    child_process_env: dict[str, str], tmp_path: Path
) -> None:
    go = tmp_path / "go"
    names = ["web", "worker", "beat"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(go)],
            cwd=BASE_DIR,
            env=child_process_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in names
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()

    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
        assert "database is locked" not in output
    stored = set(WorkerHeartbeat.objects.values_list("hostname", flat=True))
    assert stored == {*names, "shared"}
