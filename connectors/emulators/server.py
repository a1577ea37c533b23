"""The HTTP server both emulators run on, with what they share: the record of requests and faults.

Written on http.server rather than a test-server library because a fault must be able to act and
then drop the connection, hang after acting, or cut an upload part-way, as real networks do.
"""

import json
import re
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    """One request as it arrived: what a test asserts on."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    form: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    """What to do to the next request(s) matching method and path.

    action: "error" answers status/body instead of acting; "act_then_error" acts and then answers
    status/body; "act_then_drop" acts and closes the connection without an answer; "act_then_hang"
    acts and answers nothing until the client gives up; "html" answers a proxy's HTML page;
    "cut_after" (uploads) keeps the first `cut_after` bytes of the upload and drops the connection.
    """

    method: str
    path: str
    action: str
    status: int = 500
    body: dict | str | None = None
    times: int = 1
    cut_after: int = 0


class Answer(Exception):
    """Raised by a handler to answer with an error body and status."""

    def __init__(self, status: int, body, headers: dict | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class Dropped(Exception):
    """The handler chose to close the connection without answering."""


def parse_form(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Form fields and uploaded files of a urlencoded or multipart body."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}, {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        form, files = {}, {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                files[name] = part.get_payload(decode=True)
            else:
                form[name] = part.get_payload(decode=True).decode()
        return form, files
    return {}, {}


class EmulatorServer:
    """Runs a handler class on 127.0.0.1 on a free port, in a thread."""

    def __init__(self):
        self.received: list[Received] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self.release = threading.Event()  # ends a hanging answer
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                emulator._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- faults and records ---

    def fail(self, method: str, path: str, action: str, **kwargs) -> Fault:
        """Make the next request(s) whose path matches the regular expression `path` fail."""
        fault = Fault(method.upper(), path, action, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def _fault_for(self, method: str, path: str, query: dict, length: int) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def requests(self, method: str | None = None, path: str | None = None) -> list[Received]:
        with self.lock:
            return [
                r for r in self.received
                if (method is None or r.method == method) and (path is None or re.search(path, r.path))
            ]

    # --- serving ---

    def route(self, request: Received, fault: Fault | None, handler) -> tuple[int, object, dict]:  # pragma: no cover
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler):
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        fault = self._fault_for(handler.command, split.path, query, length)
        if fault is not None and fault.action == "cut_after":
            body = handler.rfile.read(min(length, fault.cut_after)) if length else b""
        else:
            body = handler.rfile.read(length) if length else b""
        form, files = parse_form(handler.headers.get("Content-Type", ""), body)
        request = Received(handler.command, split.path, query, dict(handler.headers.items()), body, form, files)
        with self.lock:
            self.received.append(request)
        if fault is not None and fault.action == "error":
            return self._send(handler, fault.status, fault.body)
        if fault is not None and fault.action == "html":
            return self._send(handler, 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
        try:
            status, answer, headers = self.route(request, fault, handler)
        except Answer as error:
            status, answer, headers = error.status, error.body, error.headers
        except Dropped:
            return self._drop(handler)
        if fault is not None and fault.action == "act_then_error":
            return self._send(handler, fault.status, fault.body)
        if fault is not None and fault.action in ("act_then_drop", "cut_after"):
            return self._drop(handler)
        if fault is not None and fault.action == "act_then_hang":
            self.release.wait(timeout=60)
            return self._drop(handler)
        return self._send(handler, status, answer, headers=headers)

    @staticmethod
    def _drop(handler):
        handler.close_connection = True
        try:
            handler.connection.shutdown(2)
        except OSError:
            pass

    @staticmethod
    def _send(handler, status: int, answer, headers: dict | None = None, content_type: str | None = None):
        if isinstance(answer, (dict, list)):
            payload, kind = json.dumps(answer).encode(), "application/json; charset=UTF-8"
        elif isinstance(answer, bytes):
            payload, kind = answer, "application/octet-stream"
        elif answer is None:
            payload, kind = b"", None
        else:
            payload, kind = str(answer).encode(), "text/plain; charset=UTF-8"
        handler.send_response(status)
        if content_type or kind:
            handler.send_header("Content-Type", content_type or kind)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
