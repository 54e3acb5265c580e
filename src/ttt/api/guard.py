"""Host and Origin checks on every request (plain ASGI, like ``middleware.py``).

Two attacks reach a server that listens on 127.0.0.1 from an ordinary web page:

* **Cross-site requests.** A page on ``https://evil.example`` may POST to
  ``http://127.0.0.1:13579/api/...`` (a "simple" request needs no CORS preflight); the
  browser sends it with ``Origin: https://evil.example`` and ``Sec-Fetch-Site: cross-site``.
  Every state-changing request (anything but GET, HEAD, OPTIONS) whose ``Origin`` is neither
  this server's own origin nor a configured ``--cors-origin``, or which a browser marks
  ``Sec-Fetch-Site: cross-site``, is refused with 403.
* **DNS rebinding.** The attacker's name resolves to 127.0.0.1 after the page has loaded, so
  the page's requests are "same-origin" but carry ``Host: evil.example``. Every request whose
  ``Host`` is not a name the server answers to is refused with 403: loopback names and
  addresses, the ``--host`` it is bound to and the ``--allowed-host`` values (a value with a
  port allows that port only; ``*`` turns the check off). Bound to a wildcard address
  (``0.0.0.0``, ``::``), the server also answers to any IP address and to the machine's own
  host name: a rebinding attack always sends a name that the attacker controls.

Requests without ``Origin`` (curl, the CLI, scripts) are not cross-site requests of a
browser and pass the Origin check; their ``Host`` is still checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ttt.api.settings import is_loopback

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(hostname, port)`` of a Host header value (``name``, ``name:port``, ``[v6]:port``),
    lowercased, brackets and a trailing dot removed; None if it cannot be parsed."""
    value = value.strip()
    if not value or any(c in value for c in "/\\@?#% \t"):
        return None
    try:
        parts = urlsplit("//" + value)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    return host.rstrip("."), port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostRules:
    """Which Host header values the server answers to."""

    names: frozenset[str]  # any port
    name_ports: frozenset[tuple[str, int]]  # that port only
    any_ip: bool = False
    any_host: bool = False

    @classmethod
    def build(cls, bind_host: str, allowed: Iterable[str] = ()) -> HostRules:
        """Rules for a server bound to ``bind_host`` with extra ``--allowed-host`` values.
        ValueError names a value that is not a host name, address or ``*``."""
        names: set[str] = set()
        name_ports: set[tuple[str, int]] = set()
        any_host = False
        for raw in allowed:
            raw = raw.strip()
            if raw == "*":
                any_host = True
                continue
            parsed = split_host(raw)
            if parsed is None:
                raise ValueError(f"allowed host {raw!r} is not a host name or address")
            host, port = parsed
            (names.add(host) if port is None else name_ports.add((host, port)))
        bind = bind_host.strip().lower()
        wildcard = bind in WILDCARD_BINDS
        if wildcard:
            for name in _own_names():
                names.add(name)
        else:
            parsed = split_host(bind if ":" not in bind or bind.startswith("[") else f"[{bind}]")
            if parsed is not None:
                names.add(parsed[0])
        return cls(frozenset(names), frozenset(name_ports), any_ip=wildcard, any_host=any_host)

    def allows(self, host: str, port: int | None) -> bool:
        if self.any_host or is_loopback(host) or host in self.names:
            return True
        if port is not None and (host, port) in self.name_ports:
            return True
        return self.any_ip and _is_ip(host)


def _own_names() -> set[str]:
    """This machine's host name and fully qualified name (lowercased)."""
    out = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            out.add(name.lower().rstrip("."))
    return out


def _origin_netloc(origin: str) -> tuple[str, str, int | None] | None:
    """``(scheme, hostname, port)`` of an Origin header; None for ``null`` or garbage."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.rstrip("."), port


def same_origin(origin: str, host: str, port: int | None) -> bool:
    """Is ``origin`` the origin this request was sent to (its Host header)? A Host without
    a port matches the default port of the Origin's scheme (as a proxy in front may send)."""
    parsed = _origin_netloc(origin)
    if parsed is None:
        return False
    scheme, o_host, o_port = parsed
    default = DEFAULT_PORTS[scheme]
    return o_host == host and (o_port or default) == (port or default)


class HostOriginMiddleware:
    """403 JSON for a foreign ``Host`` (every request) or a cross-site state-changing request."""

    def __init__(self, app: ASGIApp, *, hosts: HostRules, cors_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts = hosts
        self.cors_origins = frozenset(o.strip().rstrip("/").lower() for o in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await JSONResponse({"detail": problem}, status_code=403)(scope, receive, send)

    def problem(self, scope: Scope) -> str | None:
        """Why this request is refused, or None."""
        headers = Headers(scope=scope)
        raw_host = headers.get("host")
        if raw_host is None:  # HTTP/1.0 without Host: the address it reached
            server = scope.get("server") or ("", None)
            parsed: tuple[str, int | None] | None = (str(server[0]), server[1])
        else:
            parsed = split_host(raw_host)
        if parsed is None or not self.hosts.allows(*parsed):
            shown = (raw_host or "")[:100]
            return (
                f"Host {shown!r} is not allowed: this server answers to its loopback names, the "
                "address it is bound to and --allowed-host values (a guard against DNS "
                "rebinding). Start it with --allowed-host <name> to use that name."
            )
        method = scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET"
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and origin.strip().rstrip("/").lower() in self.cors_origins:
            return None
        if origin is not None and not same_origin(origin.lower(), *parsed):
            return (
                f"cross-site request refused: Origin {origin[:100]!r} is not this server's "
                "origin; allow a browser origin with --cors-origin"
            )
        if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            return "cross-site request refused (Sec-Fetch-Site: cross-site)"
        return None
