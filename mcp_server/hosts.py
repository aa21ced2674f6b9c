"""Strict Host and Origin syntax in front of the SDK's DNS-rebinding check.

The SDK matches `name:*` patterns by prefix, so `Host: localhost:@evil.com` or `Origin: http://localhost:1@evil.com`
pass it. Browsers cannot send such values, but nothing legitimate does either: a Host must be exactly host[:port]
and an Origin exactly scheme://host[:port]; anything else (userinfo, paths, spaces) is refused here, with the
SDK's answers (421 for the Host, 403 for the Origin), before the SDK's own allow-list check runs.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])"  # a DNS name, an IPv4 address, or [IPv6]
_PORT = r"(?::[0-9]{1,5})?"
HOST_RE = re.compile(rf"{_HOST}{_PORT}")
ORIGIN_RE = re.compile(rf"https?://{_HOST}{_PORT}")


def valid_host(value: str) -> bool:
    """Whether a Host header is exactly host[:port]."""
    return HOST_RE.fullmatch(value) is not None


def valid_origin(value: str) -> bool:
    """Whether an Origin header is exactly http(s)://host[:port]."""
    return ORIGIN_RE.fullmatch(value) is not None


class StrictHostAndOrigin:
    """Refuses a malformed Host (421) or Origin (403), as the SDK refuses foreign ones."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if not valid_host(headers.get("host", "")):
                await PlainTextResponse("Invalid Host header", status_code=421)(scope, receive, send)
                return
            if origin is not None and not valid_origin(origin):
                await PlainTextResponse("Invalid Origin header", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
