"""The web page: static HTML, CSS and JavaScript modules at `/` and `/static/`, the API docs at `/docs` (Swagger
UI's own files, from the fastapi-offline package, at `/static/swagger/`), and the security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"

# The page loads nothing but its own files and talks only to this server; no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# /docs: Swagger UI sets inline style attributes, so styles may be inline there; scripts stay our own files only.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response (a plain ASGI middleware, so streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_page(app: FastAPI) -> None:
    """Serve the page at `/` and its files at `/static/` (before the MCP app takes the rest of the paths)."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        # Revalidated on every load, so a new version of the page is never mixed with old modules.
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        """The REST API's Swagger UI (a static page; its script is /static/docs/init.js)."""
        headers = {"cache-control": "no-cache", "content-security-policy": DOCS_CONTENT_SECURITY_POLICY}
        return FileResponse(STATIC_DIR / "docs" / "index.html", headers=headers)

    app.mount("/static/swagger", StaticFiles(directory=swagger_assets()), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)


def swagger_assets() -> Path:
    """The directory of Swagger UI's bundle and CSS shipped by fastapi-offline (no CDN at run time)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"
