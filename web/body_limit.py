"""A request body limit for the whole web host (REST, chat and the mounted MCP app), as a pure ASGI middleware.

FastAPI reads and parses a whole body before any validation runs, so without a limit one unauthenticated request
can hold hundreds of MiB. A body whose Content-Length is over the limit is answered 413 before a byte is read; a
body of unknown length (chunked) is counted as the app reads it and cut off the moment it passes the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.problems import problem_response

SETTING = "TODO_AGENT_MAX_BODY_BYTES"


class BodyTooLarge(Exception):
    """Raised to the app when the body it reads passes the limit (and out of the middleware, to end the connection,
    when the app had already started its response)."""


class BodyLimit:
    """Refuses request bodies larger than `limit` bytes with 413 problem+json."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self.refuse(scope, receive, send, f"the request body is {declared} bytes")
            return
        await _Counted(self, scope, receive, send).run()

    async def refuse(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        """Answer 413 problem+json saying how large the body is and what the limit is."""
        detail = f"{what}; the limit is {self.limit} ({SETTING})"
        # Connection: close, since the rest of the body is never read.
        response = problem_response(413, "Content Too Large", detail, code="body_too_large",
                                    headers={"connection": "close"})
        await response(scope, receive, send)


class _Counted:
    """One request whose body is counted as the app reads it."""

    def __init__(self, limit: BodyLimit, scope: Scope, receive: Receive, send: Send) -> None:
        self.limit, self.scope, self._receive, self._send = limit, scope, receive, send
        self.received = 0
        self.exceeded = False
        self.started = False  # the app sent its response start before the body passed the limit

    async def receive(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.limit:
                self.exceeded = True
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.started:
            return  # whatever the app answers to the failed read, the client gets the 413
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def run(self) -> None:
        """Run the app; answer 413 if the body passed the limit, or end the connection if it was answering."""
        try:
            await self.limit.app(self.scope, self.receive, self.send)
        except Exception:
            # After the cut-off, whatever the app failed with is a consequence of it; anything else is not ours.
            if not self.exceeded:
                raise
        if not self.exceeded:
            return
        if self.started:
            raise BodyTooLarge(f"request body over {self.limit.limit} bytes after the response started")
        await self.limit.refuse(self.scope, self._receive, self._send,
                                 f"the request body is more than {self.limit.limit} bytes")


def _content_length(scope: Scope) -> int | None:
    """The declared body length, or None when there is none (chunked) or it is not a number (the server's job)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
