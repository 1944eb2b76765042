"""One HTTP request from the hook handler, without urllib or http.client on the plain-HTTP path.

`import urllib.request` costs ~40 ms (it pulls in email, ssl, http.client); a loopback or LAN
collector speaks plain HTTP, and one POST with Content-Length needs nothing but a socket. HTTPS
collectors go through http.client + ssl, imported only then.
"""

from __future__ import annotations

import socket

USER_AGENT = "agent-trace-hook/1"


class TransportError(Exception):
    """The collector could not be reached, or its answer could not be read."""


def request(
    method: str,
    url: str,
    body: bytes | None,
    timeout: float,
    *,
    token: str | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    """(status, body) of one request; raises TransportError when there is no HTTP answer."""
    scheme, host, port, path = split_url(url)
    headers = {"User-Agent": USER_AGENT, "Connection": "close"}
    if body is not None:
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if scheme == "https":
        return _https(method, host, port, path, headers, body, timeout)
    host_header = host if port == 80 else f"{host}:{port}"
    head = f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(head.encode("latin-1") + (body or b""))
            return _read_response(sock)
    except OSError as exc:
        raise TransportError(f"{host}:{port}: {exc}") from exc


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an http(s) URL (urllib.parse costs the hook ~3 ms)."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise TransportError(f"unsupported URL {url!r}: expected http:// or https://")
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, path = rest[:cut], rest[cut:].split("#", 1)[0]
    netloc = netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):  # [::1]:8317
        host, _, tail = netloc[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = netloc.partition(":")
    if not host or (port_text and not port_text.isdigit()):
        raise TransportError(f"unsupported URL {url!r}")
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    if not path.startswith("/"):
        path = "/" + path
    return scheme, host, port, path


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > 1 << 20:
            break
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise TransportError(f"not an HTTP answer: {head[:80]!r}")
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    # We sent Connection: close, so the body ends where the server closes (or at its length).
    while length is None or len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    if chunked:
        rest = _dechunk(rest)
    return int(status_line[1]), rest if length is None else rest[:length]


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def _https(
    method: str, host: str, port: int, path: str, headers: dict[str, str], body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    import http.client
    import ssl

    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise TransportError(f"{host}:{port}: {exc}") from exc
    finally:
        conn.close()
