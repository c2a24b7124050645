"""A misbehaving stand-in for Intacct's gateway, on 127.0.0.1 only, for the client's defences.

`HostileServer(behaviour)` answers a sign-in (`getAPISession`) properly, pointing the session at itself,
and every other request with its one `behaviour` (see `BEHAVIOURS`), counting those in `hostile_requests`.
Every loop is bounded in count and in time and ends when the client hangs up, so the server stops by
itself; leaving the `with` block stops it at once. The bench imports this file by path, so it imports
nothing relative.

    with HostileServer("trickle", interval=0.2) as server:
        ...  # a client pointed at server.endpoint
        assert server.hostile_requests == 3
"""

from __future__ import annotations

import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIB = 1024 * 1024
OVERSIZED_BYTES = 200 * MIB
# No behaviour writes for longer than this, whatever its parameters.
MAX_SECONDS = 60.0
SESSION_ID = "hostile-session-id-0123456789"

RESPONSE_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<response><control><status>success</status><senderid>s</senderid><controlid>c</controlid>"
    b"<uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control><operation><authentication>"
    b"<status>success</status><userid>u</userid><companyid>HOSTILE</companyid><locationid></locationid>"
    b"<sessiontimestamp>2026-12-02T08:00:00+00:00</sessiontimestamp>"
    b"<sessiontimeout>2026-12-02T20:00:00+00:00</sessiontimeout></authentication>"
)


def query_page(records: int = 3, name: bytes = b"ACME") -> bytes:
    """A successful `query` page of CUSTOMER records with RECORDNO and NAME."""
    rows = b"".join(
        b"<CUSTOMER><RECORDNO>%d</RECORDNO><NAME>%s %d</NAME></CUSTOMER>" % (n, name, n)
        for n in range(1, records + 1)
    )
    return (
        RESPONSE_HEAD
        + b"<result><status>success</status><function>query</function><controlid>q</controlid>"
        + b'<data listtype="CUSTOMER" count="%d" totalcount="%d" offset="0" numremaining="0">'
        % (records, records)
        + rows
        + b"</data></result></operation></response>\n"
    )


XXE = (
    query_page(1)
    .replace(b"<response>", b'<!DOCTYPE response [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<response>', 1)
    .replace(b"<NAME>ACME 1</NAME>", b"<NAME>&e;</NAME>")
)

ENTITY_EXPANSION = (
    query_page(1)
    .replace(
        b"<response>",
        b'<!DOCTYPE response [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
            for n in range(1, 10)
        )
        + b"]>\n<response>",
        1,
    )
    .replace(b"<NAME>ACME 1</NAME>", b"<NAME>&lol9;</NAME>")
)

HTML_PAGE = (
    b'<!DOCTYPE html>\n<html lang="en"><head><title>Just a moment...</title></head>'
    b"<body><p>Checking your browser before accessing api.intacct.com.</p></body></html>\n"
)

# A tag mismatch early in an otherwise complete page: no retry can make it parse.
MALFORMED = query_page(3).replace(b"</NAME>", b"</NAMEX>", 1)


def _session_response(endpoint: str) -> bytes:
    return (
        RESPONSE_HEAD
        + b"<result><status>success</status><function>getAPISession</function><controlid>s</controlid>"
        + b"<data><api><sessionid>%s</sessionid><endpoint>%s</endpoint><locationid></locationid></api>"
        % (SESSION_ID.encode(), endpoint.encode())
        + b"</data></result></operation></response>\n"
    )


BEHAVIOURS = {
    "xxe": "an XML page with an external entity (file:///etc/passwd) in a DOCTYPE",
    "entity_expansion": "a 'billion laughs' page: entities nested ten deep",
    "oversized": "a 200 MB body in 1 MiB chunks, with a Content-Length (length=True) or chunked",
    "gzip_bomb": "200 MB of gzip-compressed zeros (about 200 KB on the wire), chunked",
    "html_200": "a proxy's HTML page with HTTP 200",
    "trickle": "a page one byte every `interval` s; framing by length, chunked or connection close",
    "slow": "a valid page in `pieces` pieces over `seconds` s",
    "truncated": "the first half of a valid page, with its Content-Length (a cut that a retry may not see)",
    "malformed": "a complete page with a mismatched tag near its start",
    "drop": "close the connection without answering",
    "silent": "read the request, then send nothing for `seconds` s",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:
        pass  # quiet: the tests read the client's log, not the server's

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if b"<getAPISession" in request:
            self._answer(_session_response(self.server.endpoint))
            return
        self.server.count()
        behaviour, params = self.server.behaviour, self.server.params
        getattr(self, f"_{behaviour}")(**params)

    # -- the behaviours ---------------------------------------------------------------------------

    def _xxe(self) -> None:
        self._answer(XXE)

    def _entity_expansion(self) -> None:
        self._answer(ENTITY_EXPANSION)

    def _html_200(self) -> None:
        self._answer(HTML_PAGE, content_type="text/html; charset=UTF-8")

    def _malformed(self) -> None:
        self._answer(MALFORMED)

    def _truncated(self) -> None:
        page = query_page(50)
        self._answer(page[: len(page) // 2])

    def _drop(self) -> None:
        self.close_connection = True  # the handler returns without a word, and the server hangs up

    def _silent(self, seconds: float = 5.0) -> None:
        self.server.stopped.wait(min(seconds, MAX_SECONDS))
        self.close_connection = True

    def _oversized(self, length: bool = True, size: int = OVERSIZED_BYTES) -> None:
        chunk = b"<CUSTOMER><NAME>" + b"x" * (MIB - 35) + b"</NAME></CUSTOMER>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; encoding=UTF-8")
        if length:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent, started = 0, time.monotonic()
        while sent < size and not self._should_stop(started):
            part = chunk[: size - sent]
            if not self._write(part, chunked=not length):
                return
            sent += len(part)
        if not length:
            self._write(b"", chunked=True)

    def _gzip_bomb(self, size: int = OVERSIZED_BYTES) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; encoding=UTF-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gzip = zlib.compressobj(wbits=31)  # a gzip stream, compressed a MiB at a time
        zeros, started = bytes(MIB), time.monotonic()
        for _ in range(size // MIB):
            piece = gzip.compress(zeros)  # often empty: an empty chunk would end the body
            if self._should_stop(started) or (piece and not self._write(piece, chunked=True)):
                return
        self._write(gzip.flush(), chunked=True)
        self._write(b"", chunked=True)

    def _trickle(self, interval: float = 0.2, framing: str = "length", count: int = 300) -> None:
        page = query_page(20)
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; encoding=UTF-8")
        if framing == "length":
            self.send_header("Content-Length", str(len(page)))
        elif framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        started = time.monotonic()
        for byte in range(min(count, len(page))):
            if self._should_stop(started) or not self._write(page[byte : byte + 1], framing == "chunked"):
                return
            if self.server.stopped.wait(interval):
                return
        self.close_connection = True  # never finishes the page: the client must give up first

    def _slow(self, pieces: int = 4, seconds: float = 1.0) -> None:
        page = query_page(20)
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; encoding=UTF-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        step = -(-len(page) // pieces)
        for start in range(0, len(page), step):
            if not self._write(page[start : start + step]) or self.server.stopped.wait(seconds / pieces):
                return

    # -- plumbing ---------------------------------------------------------------------------------

    def _answer(self, body: bytes, content_type: str = "text/xml; encoding=UTF-8", status: int = 200):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._write(body)

    def _write(self, data: bytes, chunked: bool = False) -> bool:
        """Send `data`; False once the client has hung up."""
        try:
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
            return False
        return True

    def _should_stop(self, started: float) -> bool:
        return self.server.stopped.is_set() or time.monotonic() - started > MAX_SECONDS


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: str, params: dict):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour, self.params = behaviour, params
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}/ia/xml/xmlgw.phtml"
        self.stopped = threading.Event()
        self.hostile_requests = 0
        self._lock = threading.Lock()

    def count(self) -> None:
        with self._lock:
            self.hostile_requests += 1


class HostileServer:
    """The server as a context manager: `endpoint` to point a client at, `hostile_requests` answered."""

    def __init__(self, behaviour: str, **params):
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; one of {', '.join(BEHAVIOURS)}")
        self._server = _Server(behaviour, params)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def endpoint(self) -> str:
        return self._server.endpoint

    @property
    def hostile_requests(self) -> int:
        return self._server.hostile_requests

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
