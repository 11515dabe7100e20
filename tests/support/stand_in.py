"""A stand-in HTTP server on 127.0.0.1: a token for anyone; the Web API answers what a test
sets (an HTML error page of some other server, or a redirect)."""

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _Handler(http.server.BaseHTTPRequestHandler):
    """A stand-in server: a token for anyone; the Web API answers what the test asks."""

    api_status = 502
    api_body = b"<html>SECRET-BANNER of some other server</html>"
    redirect_to = ""
    # The Host header of every request, in order (class-level: one list per stand_in_server).
    hosts: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"access_token": "t", "expires_in": 3600}).encode()
        self._send(200, body, "application/json")

    def do_GET(self) -> None:
        self.hosts.append(self.headers.get("Host", ""))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(self.api_status, self.api_body, "text/html")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def stand_in_server(
    tls: tuple[Path, Path] | None = None,
) -> Iterator[tuple[int, type["_Handler"]]]:
    """The server's port and handler class (set its attributes to change the answers).
    `tls`: (certificate, key) to serve HTTPS with."""
    handler = type("Handler", (_Handler,), {"hosts": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()
