"""The web page in real headless Chromium (Debian's `chromium`, driven by Playwright) against `todo-agent serve`
started by the test on a fresh data directory, with a scripted chat model (TODO_AGENT_MODEL=scripted:<file>).

Every page also checks, when its test ends, that the page threw no error, broke no Content-Security-Policy rule,
requested nothing from another origin, and sent every API call but register, login, refresh and logout (those go
by the session cookie) with a bearer token. When a test fails, a screenshot, the page's console and the server's
log are saved under test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright, expect

from tests.e2e.conftest import Server
from tests.infra import clean_env, require_or_skip

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# Calls without a bearer token: register and login, and refresh and logout, which the page makes with its
# HttpOnly session cookie instead.
UNAUTHENTICATED = ("/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout")
FAILED = pytest.StashKey[bool]()

expect.set_options(timeout=10_000)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


def chromium_path() -> str:
    """Debian's Chromium, as provisioned by `make test` (TODO_AGENT_CHROMIUM) or found on the PATH."""
    path = os.environ.get("TODO_AGENT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        require_or_skip("chromium is not installed (make test installs it with apt-get: apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Site:
    """A running `todo-agent serve` and what the test gave it."""

    server: Server
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.base

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=15)

    def login(self, email: str) -> str:
        """An access token for a user who signed up on the page."""
        with self.api() as http:
            response = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def api_token(self, email: str) -> str:
        """A personal API token (as Claude Desktop would use) for a user who signed up on the page."""
        with self.api(self.login(email)) as http:
            response = http.post("/api/v1/tokens", json={"name": "claude-desktop"})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """`serve(steps, **settings)` starts `todo-agent serve` with a scripted model replaying `steps` (None: no
    model) and returns the Site; stopped when the test ends."""
    started: list[Site] = []

    def start(steps: list[dict[str, Any]] | None, **settings: str) -> Site:
        site = start_site(tmp_path, steps, **settings)
        started.append(site)
        return site

    yield start
    for site in started:
        site.server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One `todo-agent serve` for a module's tests that need no setting of their own and no chat script (the model
    fails, as an empty script does): starting a server costs seconds. Each test signs up its own user
    (`fresh_email()`), so no test sees another's tasks, sessions or notifications."""
    started = start_site(tmp_path_factory.mktemp("site"), [], register_per_hour="1000")
    yield started
    started.server.stop()


def fresh_email(name: str = "ada") -> str:
    """An address no other test on the shared site uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def start_site(folder: Path, steps: list[dict[str, Any]] | None, **settings: str) -> Site:
    """`todo-agent serve` on a data directory in `folder`, with a scripted model replaying `steps` (None: no
    model), once it answers; the caller stops `site.server`."""
    data = folder / "data"
    env = clean_env(data_dir=str(data), scheduler_seconds="0.1", relay_poll_seconds="0.05", **settings)
    for name in ("CO_API_KEY", "COHERE_API_KEY"):
        env.pop(name, None)
    if steps is not None:
        script = folder / "script.json"
        script.write_text(json.dumps(steps))
        env["TODO_AGENT_MODEL"] = f"scripted:{script}"
    server = Server("web", ["serve"], env, folder)
    server.start()
    server.wait_ready()
    return Site(server, data)


@dataclass
class Watch:
    """What a page did: console messages, errors, and every request."""

    origin: str = ""
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, url, authorization

    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def on_request(self, request: Request) -> None:
        self.requests.append((request.method, request.url, request.headers.get("authorization")))

    def problems(self) -> list[str]:
        found = [f"page error: {e}" for e in self.errors]
        found += [f"console: {c}" for c in self.console if re.search(r"Content.Security.Policy|Refused to", c)]
        for method, url, authorization in self.requests:
            if not url.startswith(self.origin + "/"):
                found.append(f"request to another origin: {method} {url}")
            elif "/api/" in url and not url.startswith(tuple(self.origin + p for p in UNAUTHENTICATED)):
                if not (authorization or "").startswith("Bearer "):
                    found.append(f"API call without a bearer token: {method} {url}")
        return found


@pytest.fixture
async def open_page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """`await open_page(site, width=1280, height=800)` opens the site's page in a fresh browser context."""
    opened: list[tuple[Page, Watch, Site]] = []

    async def open_(site: Site, width: int = 1280, height: int = 800) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": height},
                                            timezone_id="Europe/Berlin", locale="en-GB")
        page = await context.new_page()
        watch = Watch(origin=site.url)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.on("request", watch.on_request)
        opened.append((page, watch, site))
        await page.goto(site.url + "/")
        return page

    yield open_
    failed = request.node.stash.get(FAILED, False)
    problems: list[str] = []
    for number, (page, watch, site) in enumerate(opened):
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            stem = ARTIFACTS / f"{request.node.name}-{number}"
            await page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.console.txt").write_text("\n".join(watch.console + watch.errors))
            Path(f"{stem}.server.txt").write_text(site.server.logs())
        problems += watch.problems()
        await page.context.close()
    assert not problems, "\n".join(problems)


async def sign_up(page: Page, email: str) -> None:
    """Create an account on the page and wait for the app."""
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("#register-button")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#user-email")).to_have_text(email)


async def send(page: Page, text: str) -> None:
    """Type a chat message and send it with Enter."""
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")


def task_row(page: Page, title: str) -> Any:
    return page.locator("#task-list li.task", has=page.locator(".task-title", has_text=title))
