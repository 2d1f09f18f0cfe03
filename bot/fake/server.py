"""The fake's HTTP server, and the adapter that sends real WeChat hosts to it."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from bot.fake.records import json_response

if TYPE_CHECKING:
    from bot.fake import FakeWeChat

logger = logging.getLogger("bot.fake")  # the package's one logger, whichever module logs


class RedirectAdapter(HTTPAdapter):
    """Send requests meant for WeChat hosts to the fake instead."""

    def __init__(self, base_url: str) -> None:
        """Remember the fake's base URL."""
        super().__init__()
        self._target = urlsplit(base_url)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Rewrite the scheme and host of the request, then send it."""
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self._target.scheme, self._target.netloc, parts.path, parts.query, parts.fragment)
        )
        return super().send(request, **kwargs)


class FakeServer(ThreadingHTTPServer):
    """Serve the fake in one thread per request, never blocking shutdown on idle clients."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # bursts of concurrent senders overflow the default backlog of 5

    def __init__(self, address: tuple[str, int], fake: FakeWeChat) -> None:
        """Bind the server and keep a reference to the fake it serves."""
        self.fake = fake
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    """Translate HTTP requests into calls on the fake."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeWeChat/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 60
    server: FakeServer

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Answer a GET request."""
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Answer a POST request."""
        self._serve("POST")

    def _serve(self, method: str) -> None:
        """Read the body, let the fake answer and write the answer back."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        try:
            response = self.server.fake.handle(method, self.path, body, dict(self.headers))
        except Exception:
            logger.exception("Fake WeChat failed on %s %s", method, urlsplit(self.path).path)
            response = json_response({"errcode": -1, "errmsg": "system error"}, 500)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in (response.headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("Client went away before the answer to %s", urlsplit(self.path).path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request without its query string (it carries tokens and keys)."""
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Send the server's own messages to logging instead of stderr."""
        logger.debug("Fake WeChat: " + format, *args)
