"""The guard every request passes: its Host header must be a name the server is reachable as,
and every response carries a same-origin policy.

DNS rebinding: a web page on attacker.example can point that name at the server's address and
then script requests to it as same-origin requests. The browser still sends ``Host:
attacker.example``, so only the names the server is reachable as are accepted: bound to a
loopback address, any 127.0.0.0/8 address, ``localhost`` and ``::1``; bound to another address,
that address; bound to every address (0.0.0.0, ::), the loopback names, since the addresses others
use are not known here. ``seqgen serve --allow-host NAME`` adds a name (a host name, a LAN address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from starlette.responses import JSONResponse


def canonical(name: str) -> str:
    """A host name as compared: lower case, without IPv6 brackets, an address in its one spelling."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    address = _address(name)
    return str(address) if address else name


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(name: str) -> bool:
    """Whether ``name`` (a host name or address, any spelling) reaches only this machine."""
    name = canonical(name)
    address = _address(name)
    return name == "localhost" or bool(address and address.is_loopback)


class AllowedHosts:
    """The names a server bound to ``bind`` is reachable as, plus ``extra`` names."""

    def __init__(self, bind: str, extra: Iterable[str] = ()) -> None:
        address = _address(canonical(bind))
        self.loopback = is_loopback(bind) or bool(address and address.is_unspecified)
        self.names = {canonical(name) for name in extra} | (set() if self.loopback else {canonical(bind)})

    def __contains__(self, host: str) -> bool:
        """Whether a Host header (``name``, ``name:port`` or ``[v6]:port``) names this server."""
        name = canonical(host.split("]")[0] + "]" if host.startswith("[") else host.split(":")[0])
        return name in self.names or (self.loopback and is_loopback(name))

    def __str__(self) -> str:
        names = sorted(self.names) + (["127.0.0.1", "localhost"] if self.loopback else [])
        return ", ".join(f"[{n}]" if ":" in n else n for n in names)


class Guard:
    """Refuses requests whose Host header is not in ``hosts`` (400), and sends every response
    with a same-origin policy: no framing, no foreign scripts, no content sniffing."""

    POLICY = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    HEADERS = ((b"content-security-policy", POLICY.encode()), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer"))

    def __init__(self, app: Callable[..., Any], hosts: AllowedHosts) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host not in self.hosts:
            response = JSONResponse({"error": f"unexpected Host header {host!r}: open the page through one of "
                                              f"{self.hosts}, or start the server with --allow-host NAME"},
                                    status_code=400)
            return await response(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)
