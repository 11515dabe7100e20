"""scripts/run_all.py (the process supervisor behind `make run`) and scripts/write_env.py."""

import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from tests.conftest import BASE_DIR, free_port

SUPERVISOR = BASE_DIR / "scripts" / "run_all.py"


def start_supervisor(*children: str) -> subprocess.Popen[str]:
    args = [sys.executable, str(SUPERVISOR)]
    for child in children:
        args += ["--child", child]
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=BASE_DIR
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes; /proc tells it apart.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def wait_for_file_lines(path: Path, count: int, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().split()
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} did not get {count} lines")


def test_ctrl_c_stops_every_child_and_grandchild(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # Each child starts a grandchild in its own group, like runserver's reloader does.
    spawner = (
        f'{sys.executable} -c "import subprocess,sys,time;'
        f"p=subprocess.Popen(['sleep','300']);"
        f"open('{pids}','a').write(f'{{p.pid}}\\n');print('up',flush=True);time.sleep(300)\""
    )
    proc = start_supervisor(f"alpha={spawner}", f"beta={spawner}")
    grandchildren = [int(p) for p in wait_for_file_lines(pids, 2)]

    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)

    assert proc.returncode == 0
    assert "alpha | up" in output and "beta  | up" in output
    assert "SIGINT received; stopping" in output
    assert not [pid for pid in grandchildren if pid_alive(pid)]


def test_when_one_child_dies_the_others_are_stopped(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    sleeper = (
        f'{sys.executable} -c "import os,time;'
        f"open('{pids}','a').write(f'{{os.getpid()}}\\n');time.sleep(300)\""
    )
    # The crasher waits for the sleeper to be up, so there is something to stop.
    crasher = (
        f'{sys.executable} -c "import os,sys,time;'
        f"[time.sleep(0.05) for _ in range(400) if not os.path.exists('{pids}')];sys.exit(3)\""
    )
    proc = start_supervisor(f"steady={sleeper}", f"crasher={crasher}")

    output, _ = proc.communicate(timeout=60)

    assert proc.returncode == 1
    assert "crasher exited with code 3; stopping the others" in output
    steady_pid = int(pids.read_text().split()[0])
    assert not pid_alive(steady_pid)


def test_child_without_a_command_is_refused() -> None:
    proc = start_supervisor("lonely")

    output, _ = proc.communicate(timeout=30)

    assert proc.returncode == 2
    assert "expected NAME=COMMAND" in output


def test_env_file_gets_fresh_secrets_readable_by_its_owner_only(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"

    subprocess.run(
        [sys.executable, "scripts/write_env.py", str(env_file)], cwd=BASE_DIR, check=True
    )

    values = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert len(values["DJANGO_SECRET_KEY"]) >= 50
    assert "$" not in values["DJANGO_SECRET_KEY"]
    Fernet(values["FIELD_ENCRYPTION_KEYS"].encode())  # a valid key, or this raises
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_existing_env_file_is_never_overwritten(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_SECRET_KEY=mine\n")

    result = subprocess.run(
        [sys.executable, "scripts/write_env.py", str(env_file)],
        cwd=BASE_DIR, check=True, capture_output=True, text=True,
    )  # fmt: skip

    assert env_file.read_text() == "DJANGO_SECRET_KEY=mine\n"
    assert "left as it is" in result.stdout


def test_two_env_files_never_share_secrets(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    for path in (first, second):
        subprocess.run(
            [sys.executable, "scripts/write_env.py", str(path)], cwd=BASE_DIR, check=True
        )

    assert first.read_text() != second.read_text()


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.worker
@pytest.mark.sandbox
def test_make_run_services_come_up_green_and_stop_on_ctrl_c(
    child_process_env: dict[str, str], tmp_path: Path
) -> None:
    # The supervisor with its default services (web, worker, beat, sandbox), as `make run`
    # starts it, but on free ports and on the test database.
    web_port, sandbox_port = free_port(), free_port()
    marker = uuid.uuid4().hex
    env = {
        **child_process_env,
        "ERPCRM_RUN_ALL_TEST": marker,
        "SANDBOX_DB_PATH": str(tmp_path / "sandbox.sqlite3"),
    }
    log_path = tmp_path / "run_all.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, str(SUPERVISOR),
                "--web-port", str(web_port), "--sandbox-port", str(sandbox_port),
            ],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        health = wait_for_green(f"http://127.0.0.1:{web_port}/healthz", proc, log_path)
        sandbox = requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", timeout=10)
        assert len(processes_with_marker(marker)) >= 5  # supervisor + four services
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)

    output = log_path.read_text()
    assert proc.returncode == 0, output
    assert health["checks"]["worker"]["ok"] is True
    assert sandbox.status_code == 200
    for name in ("web", "worker", "beat", "sandbox"):
        assert f"starting {name}:" in output
    assert "all stopped" in output
    assert processes_with_marker(marker) == []


def wait_for_green(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"supervisor exited early:\n{log_path.read_text()}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return response.json()
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not turn green within {timeout} s:\n{log_path.read_text()}")
