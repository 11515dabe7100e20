"""Run the web app, a Celery worker, Celery beat and the sandbox CRM from one terminal.

Each child runs in its own process group; its output is prefixed with its name. Ctrl-C (SIGINT)
or SIGTERM stops every child (the whole group, so runserver's reloader and Celery's pool go
too) and exits. If one child dies, the others are stopped as well: a half-running system is
more confusing than a stopped one.

    python scripts/run_all.py                        # the four default services
    python scripts/run_all.py --child 'a=sleep 60'   # any commands (used by the tests)
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_SECONDS = 10.0


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

    def say(self, name: str, line: str) -> None:
        with self.print_lock:
            sys.stdout.write(f"{name:<{self.width}} | {line}\n")
            sys.stdout.flush()

    def _pump(self, child: Child) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        for raw in iter(child.proc.stdout.readline, b""):
            self.say(child.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for child in self.children:
            self.say("run_all", f"starting {child.name}: {shlex.join(child.argv)}")
            child.proc = subprocess.Popen(
                child.argv,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: we signal the whole group
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

    def stop_all(self) -> None:
        # The leaders first: Celery's warm shutdown stops its own pool cleanly, which it
        # cannot do when the pool processes get SIGTERM at the same time.
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("run_all", f"{child.name} did not stop in time; killing it")
        # Then whatever is left in the groups: a moment to exit, then SIGKILL.
        if self._signal_groups(signal.SIGTERM):
            time.sleep(0.5)
        self._signal_groups(signal.SIGKILL)
        for child in self.children:
            if child.proc is not None:
                child.proc.wait()
            if child.reader is not None:
                child.reader.join(timeout=2)

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
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


def parse_child(spec: str) -> Child:
    name, sep, command = spec.partition("=")
    if not sep or not name or not command:
        raise argparse.ArgumentTypeError(f"expected NAME=COMMAND, got {spec!r}")
    return Child(name, shlex.split(command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
    parser.add_argument("--sandbox-port", type=int, default=None)
    parser.add_argument(
        "--child",
        type=parse_child,
        action="append",
        help="NAME=COMMAND to run instead of the default services (repeatable)",
    )
    args = parser.parse_args(argv)
    children = args.child or default_children(
        web_port=args.web_port, sandbox_port=args.sandbox_port
    )
    return Supervisor(children).run()


if __name__ == "__main__":
    sys.exit(main())
