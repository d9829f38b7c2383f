"""Raw HTTP/1.1 client for the black-box tests: exact bytes out, strict parsing in.

Standard library only. A Conn owns one socket and its receive buffer; every read has a timeout
(Conn.timeout, or the one passed in) and raises ProtocolError instead of hanging. Responses are
framed by Content-Length (or chunked, or close), HEAD and 1xx have no body.
"""

import re
import select
import socket
import threading
import time


class ProtocolError(AssertionError):
    pass


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), as received
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        """First value of header `name` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def header_all(self, name):
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def has_header(self, name):
        return self.header(name) is not None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return "<Response %s %s %r headers=%r body=%r>" % (self.version, self.status, self.reason,
                                                            self.headers, body)


def build_request(method, target, body=None, headers=(), version="1.1", host="", chunked=False,
                  content_length=None):
    """Bytes of one request.

    host: "" -> no Host header; a string -> that Host header. headers: (name, value) pairs, sent
    in order (duplicates allowed). body: bytes or str or None (None: no body and no
    Content-Length). chunked: send the body as one chunk per element if it is a list, else one.
    content_length: overrides the Content-Length value.
    """
    if isinstance(target, str):
        target = target.encode("utf-8")
    lines = [method.encode("latin-1") + b" " + target + b" HTTP/" + version.encode() + b"\r\n"]
    if host:
        lines.append(b"Host: " + host.encode("latin-1") + b"\r\n")
    for name, value in headers:
        if isinstance(value, str):
            value = value.encode("utf-8")
        lines.append(name.encode("latin-1") + b": " + value + b"\r\n")
    payload = b""
    if chunked:
        lines.append(b"Transfer-Encoding: chunked\r\n")
        pieces = body if isinstance(body, list) else [body or b""]
        for piece in pieces:
            if isinstance(piece, str):
                piece = piece.encode("utf-8")
            if piece:
                payload += b"%x\r\n" % len(piece) + piece + b"\r\n"
        payload += b"0\r\n\r\n"
    elif body is not None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        payload = body
        lines.append(b"Content-Length: %d\r\n"
                     % (len(body) if content_length is None else content_length))
    elif content_length is not None:
        lines.append(b"Content-Length: %d\r\n" % content_length)
    lines.append(b"\r\n")
    return b"".join(lines) + payload


class Conn:
    """One client connection with its own receive buffer. All operations time out."""

    def __init__(self, host, port, family, authority, timeout):
        self.host_header = authority
        self.timeout = timeout
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ----- sending -----

    def send(self, data):
        """Sends all of `data`. Returns False if the server already closed/reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:  # EPIPE, ECONNRESET, or a timeout: the server stopped reading
            return False

    def send_slowly(self, data, piece=1, pause_s=0.0):
        for i in range(0, len(data), piece):
            if not self.send(data[i:i + piece]):
                return False
            if pause_s:
                time.sleep(pause_s)
        return True

    def build(self, method, target, body=None, headers=(), version="1.1", host=None, **kwargs):
        return build_request(method, target, body, headers, version,
                             self.host_header if host is None else host, **kwargs)

    def request(self, method, target, body=None, headers=(), version="1.1", host=None, **kwargs):
        """Sends one request and reads its final response (skipping nothing: a 100 is returned
        only if read_response is used directly)."""
        self.send(self.build(method, target, body, headers, version, host, **kwargs))
        return self.read_response(head=(method == "HEAD"))

    # ----- receiving -----

    def _fill(self, timeout=None):
        """Reads more bytes into buf. Returns False at EOF (or reset)."""
        if self.eof:
            return False
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, marker, limit=1 << 20):
        start = 0
        while True:
            index = self.buf.find(marker, start)
            if index >= 0:
                end = index + len(marker)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if len(self.buf) > limit:
                raise ProtocolError("no %r within %d bytes: %r"
                                    % (marker, limit, bytes(self.buf[:200])))
            start = max(0, len(self.buf) - len(marker) + 1)
            try:
                more = self._fill()
            except socket.timeout:
                raise ProtocolError("timed out waiting for %r; have %r"
                                    % (marker, bytes(self.buf[:300])))
            if not more:
                raise ProtocolError("connection closed while waiting for %r; have %r"
                                    % (marker, bytes(self.buf[:300])))

    def _read_exact(self, count):
        while len(self.buf) < count:
            try:
                more = self._fill()
            except socket.timeout:
                raise ProtocolError("timed out reading %d body bytes; have %d"
                                    % (count, len(self.buf)))
            if not more:
                raise ProtocolError("connection closed after %d of %d body bytes"
                                    % (len(self.buf), count))
        out = bytes(self.buf[:count])
        del self.buf[:count]
        return out

    def _read_to_eof(self):
        while True:
            try:
                if not self._fill():
                    break
            except socket.timeout:
                raise ProtocolError("timed out reading a body delimited by close")
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_response(self, head=False, timeout=None):
        """Reads one response (a 1xx interim response is returned as such)."""
        saved = self.timeout
        if timeout is not None:
            self.timeout = timeout
        try:
            raw_head = self._read_until(b"\r\n\r\n", limit=64 * 1024)
            lines = raw_head[:-4].split(b"\r\n")
            match = re.match(rb"^HTTP/(\d\.\d) (\d{3})(?: (.*))?$", lines[0])
            if not match:
                raise ProtocolError("bad status line %r" % lines[0])
            headers = []
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep or not name or name != name.strip():
                    raise ProtocolError("bad header line %r" % line)
                headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
            version = match.group(1).decode()
            status = int(match.group(2))
            reason = (match.group(3) or b"").decode("latin-1")
            response = Response(version, status, reason, headers, b"", raw_head)
            if 100 <= status < 200 or status in (204, 304) or head:
                return response
            transfer = response.header("Transfer-Encoding")
            length = response.header("Content-Length")
            if transfer is not None:
                if transfer.lower() != "chunked":
                    raise ProtocolError("unexpected Transfer-Encoding %r" % transfer)
                response.body = self._read_chunked()
            elif length is not None:
                if not length.isdigit():
                    raise ProtocolError("bad Content-Length %r" % length)
                response.body = self._read_exact(int(length))
            else:
                response.body = self._read_to_eof()
            return response
        finally:
            self.timeout = saved

    def _read_chunked(self):
        body = b""
        while True:
            size_line = self._read_until(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while self._read_until(b"\r\n") != b"\r\n":
                    pass
                return body
            body += self._read_exact(size)
            if self._read_exact(2) != b"\r\n":
                raise ProtocolError("bad chunk terminator")

    def read_final_response(self, head=False, timeout=None):
        """Reads responses until a non-1xx one; returns (interim statuses, final response)."""
        interim = []
        while True:
            response = self.read_response(head=head, timeout=timeout)
            if response.status >= 200:
                return interim, response
            interim.append(response.status)

    def closed_by_peer(self, timeout=2.0):
        """True if the server closes (EOF or reset) within `timeout` with no further bytes."""
        if self.buf:
            return False
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                more = self._fill(timeout=remaining)
            except socket.timeout:
                return False
            if not more:
                return not self.buf
            return False

    def wait_closed_or_response(self, timeout):
        """Waits up to `timeout` for the server to answer or close.

        Returns ("response", Response, elapsed) if a complete response arrived (the connection
        may then be closed), ("closed", bytes received, elapsed) if it closed without a complete
        response, or ("timeout", bytes received, elapsed).
        """
        start = time.monotonic()
        deadline = start + timeout
        while True:
            if b"\r\n\r\n" in self.buf:
                saved = self.timeout
                self.timeout = max(0.5, deadline - time.monotonic())
                try:
                    return "response", self.read_response(), time.monotonic() - start
                except ProtocolError:
                    return "closed", bytes(self.buf), time.monotonic() - start
                finally:
                    self.timeout = saved
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", bytes(self.buf), time.monotonic() - start
            try:
                more = self._fill(timeout=remaining)
            except socket.timeout:
                continue
            if not more and b"\r\n\r\n" not in self.buf:
                return "closed", bytes(self.buf), time.monotonic() - start


def pipeline(conn, requests, head_flags=None):
    """Sends `requests` (list of bytes) in one write from a helper thread while reading; returns
    the responses in order. head_flags[i] tells whether request i is a HEAD."""
    data = b"".join(requests)
    sender = threading.Thread(target=conn.send, args=(data,), daemon=True)
    sender.start()
    responses = []
    for i in range(len(requests)):
        responses.append(conn.read_response(head=bool(head_flags and head_flags[i])))
    sender.join(conn.timeout)
    return responses


def answered(sock, timeout):
    """Whether `sock` has bytes to read (or was closed) within `timeout` seconds."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def read_answer(sock, timeout=5.0):
    """One answer read from a raw socket: its head and its body (Content-Length long; none for
    a 1xx, 204 or 304), as bytes; what arrived if the server closes first."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b""
    length = 0
    if not (status.startswith(b"1") or status in (b"204", b"304")):
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
