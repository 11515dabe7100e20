"""Run the web app, a Celery worker, Celery beat and the sandbox CRM from one terminal.

Each child runs in its own process group; its output is prefixed with its name. Ctrl-C (SIGINT),
SIGTERM or SIGHUP (the terminal was closed) stops every child (the whole group, so runserver's
reloader and Celery's pool go too) within about STOP_TIMEOUT_SECONDS and exits. If the
supervisor itself is killed outright (SIGKILL), each child still gets SIGTERM from the kernel
(Linux parent-death signal), so no service is left holding its port. If one child dies, the
others are stopped as well: a half-running system is more confusing than a stopped one.

Before starting anything it checks that the web and sandbox ports are free, and says so in one
line otherwise (typically another `make run` is still up).

    python scripts/run_all.py                        # the four default services
    python scripts/run_all.py --child 'a=sleep 60'   # any commands (used by the tests)
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent
# A stop takes at most about this long: the leaders get SIGTERM and LEADER_GRACE_SECONDS to
# exit, then whatever is left in their groups gets SIGTERM, then SIGKILL.
STOP_TIMEOUT_SECONDS = 10.0
LEADER_GRACE_SECONDS = 7.0
GROUP_GRACE_SECONDS = 1.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
DEFAULT_SANDBOX_PORT = 8765


def parent_death_signal(parent_pid: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when the supervisor dies, however it dies.

    Linux only (prctl); elsewhere None, and only a supervisor that gets to run its signal
    handlers stops its children. libc is resolved here, in the parent, so that the forked
    child only makes one system call before exec (the supervisor has threads running).
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The supervisor may have died between fork and prctl: no signal would ever come.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)

    return set_pdeathsig


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


def default_children(*, web_port: int, sandbox_port: int | None) -> list[Child]:
    python = sys.executable
    children = [
        Child("web", [python, "manage.py", "runserver", f"127.0.0.1:{web_port}"]),
        Child("worker", [python, "-m", "celery", "-A", "erpcrm", "worker", "-l", "INFO"]),
        Child("beat", [python, "-m", "celery", "-A", "erpcrm", "beat", "-l", "INFO"]),
    ]
    if (BASE_DIR / "sandbox" / "management" / "commands" / "runsandbox.py").exists():
        # Without --port, runsandbox takes SANDBOX_PORT from the settings (and so from .env).
        port_args = ["--port", str(sandbox_port)] if sandbox_port else []
        children.append(Child("sandbox", [python, "manage.py", "runsandbox", *port_args]))
    else:
        print("run_all: the sandbox CRM (runsandbox) is not available; not starting it.")
    return children


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.width = max(len(c.name) for c in children)
        self.print_lock = threading.Lock()
        self.stop_requested = threading.Event()
        self.stop_signal: int | None = None
        self.output_lost = False

    def say(self, name: str, line: str) -> None:
        with self.print_lock:
            if self.output_lost:
                return
            try:
                sys.stdout.write(f"{name:<{self.width}} | {line}\n")
                sys.stdout.flush()
            except OSError:
                # The terminal is gone (SIGHUP: EIO) or the reader of a pipe quit (EPIPE);
                # stopping the children matters more than telling anyone.
                self.output_lost = True

    def _pump(self, child: Child) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        for raw in iter(child.proc.stdout.readline, b""):
            self.say(child.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def start(self) -> None:
        # ERPCRM_DIE_WITH_PARENT: each Django process asks for the parent-death signal itself
        # (core/supervision.py), so that runserver's serving grandchild dies with its leader too.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ERPCRM_DIE_WITH_PARENT": "1"}
        # The parent-death signal is tied to the thread that forks the child: this one, the
        # main thread, which lives as long as the supervisor.
        preexec_fn = parent_death_signal(os.getpid())
        for child in self.children:
            if self.stop_requested.is_set():
                break
            self.say("run_all", f"starting {child.name}: {shlex.join(child.argv)}")
            child.proc = subprocess.Popen(
                child.argv,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: we signal the whole group
                preexec_fn=preexec_fn,
            )
            child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
            child.reader.start()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum
        self.stop_requested.set()

    def _signal_groups(self, sig: int) -> bool:
        """Signal every child's process group; True if any group still had a member."""
        alive = False
        for child in self.children:
            if child.proc is None:
                continue
            try:
                # The group outlives its leader while grandchildren remain (runserver's
                # server process, Celery's pool), so signal it even when the leader is gone.
                os.killpg(child.proc.pid, sig)
                alive = True
            except (ProcessLookupError, PermissionError):
                pass
        return alive

    def _groups_alive(self) -> bool:
        for child in self.children:
            if child.proc is None:
                continue
            child.proc.poll()  # reap the leader, or its zombie keeps the group "alive"
            try:
                os.killpg(child.proc.pid, 0)
                return True
            except (ProcessLookupError, PermissionError):
                pass
        return False

    def stop_all(self) -> None:
        # The leaders first: Celery's warm shutdown stops its own pool cleanly, which it
        # cannot do when the pool processes get SIGTERM at the same time.
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + LEADER_GRACE_SECONDS
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("run_all", f"{child.name} did not stop in time; killing it")
        # Then whatever is left in the groups: a moment to exit, then SIGKILL.
        if self._signal_groups(signal.SIGTERM):
            deadline = time.monotonic() + GROUP_GRACE_SECONDS
            while time.monotonic() < deadline and self._groups_alive():
                time.sleep(0.05)
        self._signal_groups(signal.SIGKILL)
        for child in self.children:
            if child.proc is not None:
                child.proc.wait()
            if child.reader is not None:
                child.reader.join(timeout=2)

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        # Closing the terminal: make dies of it, and the children would be left behind.
        signal.signal(signal.SIGHUP, self._on_signal)
        self.start()
        exit_code = 0
        while not self.stop_requested.wait(0.2):
            dead = [c for c in self.children if c.proc is not None and c.proc.poll() is not None]
            if dead:
                for child in dead:
                    assert child.proc is not None
                    self.say(
                        "run_all",
                        f"{child.name} exited with code {child.proc.returncode}; "
                        "stopping the others",
                    )
                exit_code = 1
                break
        if self.stop_signal is not None:
            self.say("run_all", f"{signal.Signals(self.stop_signal).name} received; stopping")
        self.stop_all()
        self.say("run_all", "all stopped")
        return exit_code


@dataclass(frozen=True)
class Port:
    port: int
    host: str
    owner: str  # what usually holds it
    setting: str  # how to choose another


def port_taken(port: Port) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves: connections in TIME_WAIT from a run that just stopped
        # do not count, only a live listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((port.host, port.port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def port_problem(ports: list[Port]) -> str | None:
    for port in ports:
        if port_taken(port):
            return (
                f"run_all: port {port.port} is already in use (by {port.owner}?): "
                f"stop the other `make run` or set {port.setting}"
            )
    return None


def env_setting(name: str) -> str | None:
    """A setting as the Django settings would see it: the environment, else `.env`."""
    if name in os.environ:
        return os.environ[name]
    env_file = BASE_DIR / ".env"
    if not env_file.exists():
        return None
    for line in env_file.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"")
    return None


def parse_child(spec: str) -> Child:
    name, sep, command = spec.partition("=")
    if not sep or not name or not command:
        raise argparse.ArgumentTypeError(f"expected NAME=COMMAND, got {spec!r}")
    return Child(name, shlex.split(command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web-port", type=int, default=None)
    parser.add_argument("--sandbox-port", type=int, default=None)
    parser.add_argument(
        "--child",
        type=parse_child,
        action="append",
        help="NAME=COMMAND to run instead of the default services (repeatable)",
    )
    args = parser.parse_args(argv)
    web_port = args.web_port or int(os.environ.get("WEB_PORT", "8000"))
    sandbox_port = args.sandbox_port or int(env_setting("SANDBOX_PORT") or DEFAULT_SANDBOX_PORT)
    web = Port(web_port, "127.0.0.1", "another erpcrm web app", "WEB_PORT")
    sandbox = Port(
        sandbox_port,
        env_setting("SANDBOX_HOST") or "127.0.0.1",
        "another erpcrm sandbox",
        "SANDBOX_PORT",
    )
    if args.child:
        # Arbitrary commands: only the ports named on the command line are theirs.
        children = args.child
        ports = [p for p, given in ((web, args.web_port), (sandbox, args.sandbox_port)) if given]
    else:
        children = default_children(web_port=web_port, sandbox_port=args.sandbox_port)
        ports = [web, *([sandbox] if any(c.name == "sandbox" for c in children) else [])]
    problem = port_problem(ports)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return Supervisor(children).run()


if __name__ == "__main__":
    sys.exit(main())
