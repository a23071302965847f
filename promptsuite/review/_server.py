"""The review page's server: the standard library's HTTP server, on 127.0.0.1 only.

Every request must carry the session's random token (in the page's address, then in a
header), and name this server as its host, so no other site and no DNS rebinding can read
the outputs or write labels. The page is one file (``page.html``) whose script runs under
a per-server nonce; outputs are set as text, never as markup.
"""

from __future__ import annotations

import json
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from promptsuite.review._items import ReviewQueue

#: The largest request body the server reads (a label with its comment).
MAX_BODY = 64 * 1024


class ReviewServer:
    """Serves a :class:`ReviewQueue` on ``127.0.0.1``.

    Args:
        queue: The outputs to review and where their labels go.
        port: The port; 0 picks a free one (see :attr:`url`).
    """

    def __init__(self, queue: ReviewQueue, port: int = 0) -> None:
        self.queue = queue
        self.token = secrets.token_urlsafe(24)
        self._nonce = secrets.token_urlsafe(16)
        self._lock = threading.Lock()
        template = resources.files("promptsuite.review").joinpath("page.html")
        self._page = template.read_text(encoding="utf-8").replace("{{nonce}}", self._nonce)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The page's address, token included."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` (or Ctrl-C in the calling thread)."""
        self._httpd.serve_forever()

    def start(self) -> None:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving from the background thread, and close the socket."""
        self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        """Close the socket (once :meth:`serve_forever` has returned)."""
        self._httpd.server_close()

    def page(self) -> str:
        """The review page."""
        return self._page

    @property
    def nonce(self) -> str:
        """The nonce the page's script runs under."""
        return self._nonce

    def items(self) -> dict[str, Any]:
        """The queue as the page reads it."""
        with self._lock:
            return {
                "items": [item.public(i) for i, item in enumerate(self.queue.items)],
                "problems": self.queue.problems,
                "labeller": self.queue.labeller,
            }

    def answer(self, body: Any) -> dict[str, Any]:
        """Save a label from the page's request body; the item with its judge's verdict.

        Raises:
            ValueError: The body is not a label of an item (the message says what is
                expected).
        """
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object with item, label, score and comment")
        index, label = body.get("item"), body.get("label")
        score, comment = body.get("score"), body.get("comment")
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError(f"item: expected an item number, got {index!r}")
        if label not in ("pass", "fail"):
            raise ValueError(f"label: expected 'pass' or 'fail', got {label!r}")
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1
        ):
            raise ValueError(f"score: expected a number from 0 to 1, or none, got {score!r}")
        if comment is not None and not isinstance(comment, str):
            raise ValueError(f"comment: expected text, got {comment!r}")
        with self._lock:
            try:
                item = self.queue.answer(index, label, score, comment)
            except ValidationError as exc:
                raise ValueError(str(exc.errors(include_url=False)[0]["msg"])) from None
            return item.public(index)


def _handler(server: ReviewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "promptsuite-review"

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are not logged: the terminal shows the address and the saves."""

        def _allowed(self, token: str | None) -> bool:
            hosts = {f"127.0.0.1:{server.port}", f"localhost:{server.port}"}
            if self.headers.get("Host") not in hosts:
                return False
            return token is not None and secrets.compare_digest(token, server.token)

        def _send(self, status: HTTPStatus, body: str, kind: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'none'; script-src 'nonce-{server.nonce}'; "
                "style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
                "form-action 'none'; frame-ancestors 'none'",
            )
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: HTTPStatus, data: Any) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False), "application/json")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            token = parse_qs(url.query).get("token", [None])[0]
            if url.path == "/items" and self._allowed(self.headers.get("X-Review-Token")):
                self._json(HTTPStatus.OK, server.items())
            elif url.path == "/" and self._allowed(token):
                self._send(HTTPStatus.OK, server.page(), "text/html; charset=utf-8")
            else:
                self._json(HTTPStatus.FORBIDDEN, {"error": "open the address the command printed"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/label" or not self._allowed(
                self.headers.get("X-Review-Token")
            ):
                self._json(HTTPStatus.FORBIDDEN, {"error": "open the address the command printed"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._json(
                    HTTPStatus.BAD_REQUEST, {"error": f"expected a body of 1 to {MAX_BODY} bytes"}
                )
                return
            try:
                body = json.loads(self.rfile.read(length))
                self._json(HTTPStatus.OK, server.answer(body))
            except ValueError as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    return Handler
