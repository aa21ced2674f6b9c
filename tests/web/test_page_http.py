"""The page's files over HTTP: served at / and /static/, with a Content-Security-Policy that forbids inline
script, and written so that the policy holds (no inline script, style or handler; nothing from other origins)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.bootstrap import Runtime
from tests.hosts import user_of
from tests.web.conftest import Host, Tags, client_of
from web.page import CONTENT_SECURITY_POLICY, STATIC_DIR

pytestmark = pytest.mark.slow

FILES = sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def parsed_index() -> Tags:
    tags = Tags()
    tags.feed((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    return tags


async def test_the_page_and_its_files_are_served_with_the_policy(host: Host, runtime: Runtime) -> None:
    app = host(None)
    ada = await user_of(runtime)
    async with client_of(app) as client:
        index = await client.get("/")
        assets = {p: await client.get("/static/" + p.relative_to(STATIC_DIR).as_posix()) for p in FILES}
        api = await client.get("/api/v1/me", headers=ada.headers)
        missing = await client.get("/static/js/nope.js")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    for response in (index, *assets.values(), api):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
    for path, response in assets.items():
        assert response.status_code == 200, path
        assert response.content == path.read_bytes()
        if path.suffix == ".js":
            assert response.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert missing.status_code == 404
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_the_page_has_no_inline_script_style_or_handlers() -> None:
    tags = parsed_index()
    assert tags.inline == []
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert scripts and all(a.get("src", "").startswith("/static/") and a.get("type") == "module" for a in scripts)
    for tag, attrs in tags.tags:
        assert "style" not in attrs, f"<{tag}> has a style attribute"
        assert not [a for a in attrs if a.startswith("on")], f"<{tag}> has an inline handler"
        for name in ("src", "href", "action"):
            value = attrs.get(name) or ""
            assert not re.match(r"(https?:)?//", value), f"<{tag} {name}={value}> leaves the origin"


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix in (".js", ".css")], ids=lambda p: p.name)
def test_scripts_and_styles_load_nothing_from_elsewhere_and_never_write_html(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"https?://|@import\s+url\(\s*['\"]?//", text), "refers to another origin"
    if path.suffix == ".js":
        # Server data goes into the page as text (textContent), never as markup.
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(", text)
