"""One Dataverse client per connection per process.

A client keeps its access token and its HTTP sessions; building a new one for every check made a
single `setup_connection` sign in three times in a row. Callers ask here instead, so a command, a
request or a worker process signs in once per connection (settings that differ in anything,
the secret included, are another connection and get their own client).
"""

import threading
from collections import OrderedDict

from dataverse.client import ConnectionSettings, DataverseClient

# A handful is plenty: the saved connection (interactive and background flavours), plus the
# candidates an administrator tries in the wizard. The oldest is closed when this is exceeded.
MAX_CLIENTS = 8

_lock = threading.Lock()
_clients: "OrderedDict[ConnectionSettings, DataverseClient]" = OrderedDict()


def client_get(*, settings: ConnectionSettings) -> DataverseClient:
    """The process's client for these settings, created on first use."""
    with _lock:
        client = _clients.get(settings)
        if client is not None:
            _clients.move_to_end(settings)
            return client
        client = DataverseClient(settings)
        _clients[settings] = client
        while len(_clients) > MAX_CLIENTS:
            _old_settings, old = _clients.popitem(last=False)
            old.close()
        return client


def clients_close() -> None:
    """Close and forget every client (tests; a process that is about to fork)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
