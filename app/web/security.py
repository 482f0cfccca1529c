"""Web hygiene for a shared host (docs/security.md), as plain ASGI middleware.

- `SecurityHeaders`: CSP (`script-src 'self'`), frame-ancestors / X-Frame-Options, nosniff,
  Referrer-Policy on every answer.
- `SameOrigin`: a state-changing request (anything but GET, HEAD, OPTIONS) that a browser
  marks as coming from another site (Sec-Fetch-Site, else Origin) is refused with 403:
  no cross-site form, fetch or body-less POST can create runs or move a class.
- `TrustedHosts`: a Host header outside the configured names gets 400 (links never echo it:
  share and follow links come from `public_base_url`).
- `Access`: the optional instance token or login (`MIGSCOPE_AUTH`).
- `CreationRateLimit`: creations per client and minute (token bucket), 429 with Retry-After.
- `RejectControlCharacters`: a NUL or other control character in the path or query string is
  a 422 naming where it was (PostgreSQL cannot even compare such text).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
import threading
import time
from collections import OrderedDict
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api.errors import error_response, validation_response

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class SameOrigin:
    """Refuse cross-site state changes. Requests without either header (curl, scripts) pass:
    browsers always send one of them on a cross-site POST."""

    def __init__(self, app: ASGIApp, public_base_url: str) -> None:
        self.app = app
        self.public_origin = origin_of(public_base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        site = headers.get("sec-fetch-site")
        origin = headers.get("origin")
        refused: str | None = None
        if site is not None:
            if site not in ("same-origin", "none"):
                refused = f"Sec-Fetch-Site: {site}"
        elif origin is not None:
            own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
            if origin.lower() not in (own, self.public_origin):
                refused = f"Origin: {origin[:100]}"
        if refused is not None:
            message = f"cross-site request refused ({refused}): state changes come from this site's own pages"
            await error_response(403, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class TrustedHosts:
    def __init__(self, app: ASGIApp, hosts: list[str], public_base_url: str) -> None:
        self.app = app
        self.hosts = {_host_name(host) for host in hosts}
        public = urlsplit(public_base_url).hostname
        if public:
            self.hosts.add(public.lower() if ":" not in public else f"[{public.lower()}]")
        self.any = "*" in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.any:
            host = _host_name(Headers(scope=scope).get("host", ""))
            if host not in self.hosts:
                await error_response(400, "unknown Host header (see trusted_hosts in docs/api.md)")(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


class Access:
    """`token:SECRET` (Bearer SECRET, or HTTP Basic with any user and SECRET as password) or
    `basic:USER:PASSWORD`. Browsers ask once (HTTP Basic) and then send it on every request,
    including event streams."""

    def __init__(self, app: ASGIApp, auth: str) -> None:
        self.app = app
        kind, _, rest = auth.partition(":")
        self.user: str | None = None
        if kind == "token" and rest:
            self.secret = rest
        elif kind == "basic" and ":" in rest:
            self.user, _, self.secret = rest.partition(":")
        else:
            raise ValueError("MIGSCOPE_AUTH must be 'token:SECRET', 'basic:USER:PASSWORD' or 'off'")

    def _allowed(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and self.user is None:
            return hmac.compare_digest(value.strip().encode(), self.secret.encode())
        if scheme.lower() == "basic":
            try:
                user, _, password = (
                    base64.b64decode(value.strip(), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                return False
            user_ok = self.user is None or hmac.compare_digest(user.encode(), self.user.encode())
            return user_ok and hmac.compare_digest(password.encode(), self.secret.encode())
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(Headers(scope=scope).get("authorization")):
            response = error_response(
                401,
                "this migscope instance needs a login (MIGSCOPE_AUTH)",
                headers={"WWW-Authenticate": 'Basic realm="migscope", charset="UTF-8"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def auth_enabled(auth: str) -> bool:
    return auth not in ("", "off")


# Creating requests: POSTs, except a presenter moving the class (many per minute by design).
_NOT_CREATIONS = re.compile(r"^/api/presentations/[^/]+/step$")
_MAX_CLIENTS = 10_000


class CreationRateLimit:
    """A token bucket per client address: `per_minute` creations, refilled evenly."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _take(self, client: str) -> float:
        """0 when allowed, else the seconds until the next creation is."""
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > _MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.per_minute > 0
            and scope["method"] == "POST"
            and not _NOT_CREATIONS.match(scope["path"])
        ):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self._take(client)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                message = f"at most {self.per_minute} creations per minute per client; try again in {seconds} s"
                await error_response(429, message, headers={"Retry-After": str(seconds)})(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RejectControlCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            loc = self._where(scope)
            if loc is not None:
                item = {
                    "loc": loc,
                    "msg": "control characters (such as NUL) are not allowed here",
                    "type": "value_error",
                }
                await validation_response([item])(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _where(scope: Scope) -> list[str | int] | None:
        path = scope.get("path", "")
        if _CONTROL.search(path):
            return ["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if query and ("%" in query or _CONTROL.search(query)):
            try:
                pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
            except (UnicodeDecodeError, ValueError):
                return ["query"]
            for name, value in pairs:
                if _CONTROL.search(name) or _CONTROL.search(value):
                    return ["query", _CONTROL.sub("", unquote(name))[:64] or "query"]
        return None
