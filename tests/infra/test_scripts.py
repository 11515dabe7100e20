"""scripts/run_all.py (the process supervisor behind `make run`) and scripts/write_env.py."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from sandbox.process import BASE_DIR, free_port

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
    # 200 needs every check green, the worker's heartbeat included.
    assert health == {"status": "ok"}
    assert sandbox.status_code == 200
    for name in ("web", "worker", "beat", "sandbox"):
        assert f"starting {name}:" in output
    assert "all stopped" in output
    assert processes_with_marker(marker) == []


@pytest.mark.worker
@pytest.mark.sandbox
@pytest.mark.parametrize("how", ["terminal closed", "supervisor killed"])
def test_make_run_leaves_no_service_behind_however_it_ends(
    how: str, child_process_env: dict[str, str], tmp_path: Path
) -> None:
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
            start_new_session=True,  # a terminal's foreground job
        )  # fmt: skip
    try:
        wait_for_green(f"http://127.0.0.1:{web_port}/healthz", proc, log_path)
        services = processes_with_marker(marker)
        assert len(services) >= 5  # supervisor + four services

        if how == "terminal closed":
            os.killpg(proc.pid, signal.SIGHUP)
        else:
            proc.kill()
        proc.wait(timeout=30)

        wait_until_gone(services, [web_port, sandbox_port])
        assert processes_with_marker(marker) == []
    finally:
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)


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


# A service stand-in: listens on a port (so we can tell when it is released), records its pid
# and, with a second port, starts a grandchild that listens there, like runserver's server
# process under its reloader.
LISTENER = """
import os, socket, subprocess, sys, time
port, pids = int(sys.argv[1]), sys.argv[2]
sock = socket.socket()
sock.bind(("127.0.0.1", port))
sock.listen()
if len(sys.argv) > 3:
    subprocess.Popen([sys.executable, __file__, sys.argv[3], pids])
with open(pids, "a") as f:
    f.write(f"{os.getpid()}\\n")
print("listening", port, flush=True)
time.sleep(300)
"""


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_gone(pids: list[int], ports: list[int], timeout: float = 12.0) -> None:
    """Every pid gone and every port free, or fail naming what is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if pid_alive(pid)]
        taken = [port for port in ports if not port_free(port)]
        if not alive and not taken:
            return
        time.sleep(0.1)
    raise AssertionError(f"still alive: {alive}; ports still taken: {taken}")


@pytest.fixture
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    """After the test, kill any stand-in a failing supervisor left behind."""
    yield
    pids = tmp_path / "pids"
    for pid in pids.read_text().split() if pids.exists() else []:
        if pid_alive(int(pid)):
            os.kill(int(pid), signal.SIGKILL)


def start_listeners(tmp_path: Path, ports: list[tuple[int, ...]]) -> subprocess.Popen[str]:
    script = tmp_path / "listener.py"
    script.write_text(LISTENER)
    pids = tmp_path / "pids"
    args = [sys.executable, str(SUPERVISOR)]
    for index, (port, *grandchild_port) in enumerate(ports):
        extra = " ".join(str(p) for p in grandchild_port)
        args += ["--child", f"svc{index}={sys.executable} {script} {port} {pids} {extra}"]
    # Its own session, as a terminal's foreground job is: closing the terminal signals the group.
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=BASE_DIR,
        start_new_session=True,
    )  # fmt: skip


@pytest.mark.usefixtures("no_leftovers")
def test_closing_the_terminal_stops_every_child_and_frees_the_ports(tmp_path: Path) -> None:
    ports = [(free_port(), free_port()), (free_port(), free_port())]
    proc = start_listeners(tmp_path, ports)
    pids = [int(p) for p in wait_for_file_lines(tmp_path / "pids", 4)]

    os.killpg(proc.pid, signal.SIGHUP)  # what the terminal does to its foreground job
    output, _ = proc.communicate(timeout=30)

    assert "SIGHUP received; stopping" in output
    assert "all stopped" in output
    wait_until_gone(pids, [port for pair in ports for port in pair])


@pytest.mark.usefixtures("no_leftovers")
def test_a_killed_supervisor_takes_its_children_with_it(tmp_path: Path) -> None:
    ports = [(free_port(),), (free_port(),)]
    proc = start_listeners(tmp_path, ports)
    pids = [int(p) for p in wait_for_file_lines(tmp_path / "pids", 2)]

    proc.kill()  # no handler runs: only the kernel can tell the children
    proc.wait(timeout=10)

    wait_until_gone(pids, [port for (port,) in ports])


def test_a_second_supervisor_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as other:  # the other `make run`'s sandbox
        other.bind(("127.0.0.1", port))
        other.listen()
        proc = subprocess.run(
            [
                sys.executable, str(SUPERVISOR), "--sandbox-port", str(port),
                "--child", f"never={sys.executable} -c 'open(\"{tmp_path}/ran\", \"w\")'",
            ],
            cwd=BASE_DIR, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"run_all: port {port} is already in use (by another erpcrm sandbox?): "
        "stop the other `make run` or set SANDBOX_PORT"
    ]
    assert not (tmp_path / "ran").exists()


def test_make_run_starts_nothing_when_the_web_port_is_taken() -> None:
    web_port, sandbox_port = free_port(), free_port()
    with socket.socket() as other:
        other.bind(("127.0.0.1", web_port))
        other.listen()
        proc = subprocess.run(
            [
                sys.executable, str(SUPERVISOR),
                "--web-port", str(web_port), "--sandbox-port", str(sandbox_port),
            ],
            cwd=BASE_DIR, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    assert proc.returncode == 1
    assert "starting" not in proc.stdout
    assert proc.stderr.strip() == (
        f"run_all: port {web_port} is already in use (by another erpcrm web app?): "
        "stop the other `make run` or set WEB_PORT"
    )
