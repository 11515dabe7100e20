"""A long-lived client (one per connection and process) keeps HTTP sessions for live threads
only: a web server that starts a thread per request must not pile them up."""

import threading

from dataverse.client import ConnectionSettings, DataverseClient


def test_sessions_of_finished_threads_are_closed_and_forgotten() -> None:
    client = DataverseClient(
        ConnectionSettings(
            environment_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/t", client_id="c"
        )
    )
    for _request in range(20):
        thread = threading.Thread(target=lambda: client.session)
        thread.start()
        thread.join()
    main_session = client.session
    # The last finished thread's session may remain until the next new one is made.
    assert len(client._sessions) <= 2
    assert main_session in client._sessions.values()
    client.close()
    assert client._sessions == {}
