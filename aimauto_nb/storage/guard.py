"""Who may use the dashboard served from the kernel: a WSGI wrapper around
optuna-dashboard's app. The loopback interface is open to every local user, and a web
page can reach it through DNS rebinding, so a request is answered only when

- it carries the server's random token: in the URL (``?token=``, the link and IFrame
  carry it), after which a cookie carries it for the dashboard's own requests;
- its ``Host`` header is a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``);
- it only reads (``GET``/``HEAD``), unless the dashboard was started ``writable``.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

__all__ = ["Guard", "LOOPBACK_NAMES"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_READS = ("GET", "HEAD", "OPTIONS")


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """Wraps ``app``; ``token`` is random, ``port`` names the cookie (cookies ignore ports)."""

    def __init__(self, app, port: int, writable: bool = False):
        self.app = app
        self.token = secrets.token_urlsafe(24)
        self.writable = writable
        self.port = port
        self._cookies = (f"aimauto_dashboard_{port}", f"aimauto_dashboard_{port}_x")

    def _given(self, environ) -> tuple[str | None, bool]:
        """The token the request carries, and whether it came in the URL."""
        query = parse_qs(environ.get("QUERY_STRING", "")).get("token")
        if query:
            return query[0], True
        cookie = SimpleCookie()
        try:
            cookie.load(environ.get("HTTP_COOKIE", ""))
        except Exception:
            return None, False
        for name in self._cookies:
            if name in cookie:
                return cookie[name].value, False
        return None, False

    def __call__(self, environ, start_response):
        host = _host_name(environ.get("HTTP_HOST", "").strip().lower())
        if host not in LOOPBACK_NAMES:
            return _refuse(start_response, "400 Bad Request", "unexpected Host header")
        token, in_url = self._given(environ)
        if token is None or not hmac.compare_digest(token.encode(), self.token.encode()):
            return _refuse(start_response, "403 Forbidden",
                           "open the dashboard from the link aimauto_nb printed (it carries a token)")
        if environ.get("REQUEST_METHOD", "GET").upper() not in _READS and not self.writable:
            return _refuse(start_response, "403 Forbidden",
                           "this dashboard is read-only: start it with dashboard(writable=True)")
        if not in_url:
            return self.app(environ, start_response)

        def with_cookie(status, headers, exc_info=None):
            # Lax for a page opened on its own; None (+Secure, allowed on loopback) for the
            # IFrame inside a notebook served from another loopback name
            headers = list(headers) + [
                ("Set-Cookie", f"{self._cookies[0]}={self.token}; Path=/; HttpOnly; SameSite=Lax"),
                ("Set-Cookie", f"{self._cookies[1]}={self.token}; Path=/; HttpOnly; "
                               "SameSite=None; Secure")]
            return start_response(status, headers, exc_info)

        return self.app(environ, with_cookie)


def _refuse(start_response, status: str, why: str):
    body = f"aimauto_nb dashboard: {why}\n".encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))])
    return [body]
