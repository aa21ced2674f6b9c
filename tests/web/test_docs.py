"""/docs under a strict CSP: Swagger UI's files come from this server (no CDN), its start-up script is a file of
its own (no inline script), and the page's own policy never allows inline or foreign scripts."""

from __future__ import annotations

import pytest

from tests.web.conftest import Host, Tags, client_of

pytestmark = pytest.mark.slow


async def test_docs_reference_only_same_origin_assets_that_are_served(host: Host) -> None:
    """Every script and stylesheet of /docs is a path on this server, and each of them is served."""
    async with client_of(host(None)) as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        tags = Tags()
        tags.feed(page.text)
        refs = [a.get("src") or a.get("href") for t, a in tags.tags if t in ("script", "link")]
        assert refs and all(r is not None and r.startswith("/") and not r.startswith("//") for r in refs), refs
        assert tags.inline == []  # no inline script or style
        for ref in refs:
            assert (await client.get(str(ref))).status_code == 200, ref
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "todo-agent"


async def test_the_docs_policy_allows_scripts_from_this_server_only(host: Host) -> None:
    """The CSP of /docs keeps `script-src 'self'`: no 'unsafe-inline', no CDN."""
    async with client_of(host(None)) as client:
        policy = (await client.get("/docs")).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert "cdn" not in policy and "http" not in policy


async def test_fastapis_cdn_pages_are_gone(host: Host) -> None:
    """ReDoc (FastAPI's CDN page) is not served; /docs is ours."""
    async with client_of(host(None)) as client:
        assert (await client.get("/redoc")).status_code == 404
        assert "cdn.jsdelivr.net" not in (await client.get("/docs")).text
