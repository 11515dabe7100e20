"""Dying with the parent process under `make run`'s supervisor (scripts/run_all.py).

The supervisor gives each child a parent-death signal, but Linux clears that setting in the
child's own children, and runserver serves from such a child (its autoreloader is the parent).
When the supervisor is killed outright (SIGKILL, no handler runs), the leader gets SIGTERM and
dies, and that grandchild would keep the web port. So every process the supervisor starts
(ERPCRM_DIE_WITH_PARENT=1 in its environment) asks for the signal itself when Django starts:
then each one dies with its own parent, down the chain.
"""

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
ENV_FLAG = "ERPCRM_DIE_WITH_PARENT"


def die_with_parent_if_supervised() -> bool:
    """Ask for SIGTERM when the parent dies (Linux; only under the supervisor). True if set."""
    if os.environ.get(ENV_FLAG) != "1" or not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    parent = os.getppid()
    ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent or parent == 1:
        # The parent died before the call took effect: no signal would ever come.
        os.kill(os.getpid(), signal.SIGTERM)
    return True
