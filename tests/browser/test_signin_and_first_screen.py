"""Staying signed in and the chat's first screen, in headless Chromium against `todo-agent serve`.

A reload keeps the user signed in (the refresh token is an HttpOnly cookie the page never reads) without showing
the sign-in form first; sign out and a reload show the form; an ended or expired session says why; two tabs
renewing with the same cookie at once both stay signed in. Without a model the chat says what to set up; with one
the chat names the model and an empty conversation greets the user with example prompts; at phone width tabs switch
between chat and tasks."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PASSWORD, Site, fresh_email, send, sign_up, task_row

pytestmark = [pytest.mark.slow, pytest.mark.browser]

Serve = Any
OpenPage = Any

README = Path(__file__).resolve().parents[2] / "README.md"
EXPIRED = "Your session expired; please sign in again."
ELSEWHERE = "You were signed out from another device."
EXAMPLES = ["What's due this week?", "Add 'pay rent' on the 1st of every month", "Show my overdue tasks"]

# Runs before the page's own scripts (Playwright injects it; the page's CSP does not apply): notes whether the
# sign-in form is ever shown, from the first parsed byte on.
WATCH_SIGN_IN_FORM = """
window.signInShown = false;
new MutationObserver(() => {
  const form = document.getElementById("auth");
  if (form && !form.hidden) window.signInShown = true;
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["hidden"]});
"""


async def another_tab(page: Page) -> Page:
    """A second tab of the same browser (same cookies and storage) on the same page."""
    tab = await page.context.new_page()
    await tab.goto(page.url)
    return tab


async def log_in(page: Page, email: str) -> None:
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")
    await expect(page.locator("#app")).to_be_visible()


async def refresh_cookie(page: Page) -> dict[str, Any] | None:
    cookies = await page.context.cookies()
    return next((dict(c) for c in cookies if c["name"] == "todo_agent_refresh"), None)


async def test_a_reload_keeps_the_user_signed_in_without_showing_the_sign_in_form(
    site: Site, open_page: OpenPage
) -> None:
    email = fresh_email()
    page: Page = await open_page(site)
    await sign_up(page, email)
    await page.fill("#new-task-title", "Water the plants")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "Water the plants")).to_have_count(1)

    cookie = await refresh_cookie(page)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["secure"]) == (
        True, "Strict", "/api/v1/auth", False)
    assert await page.evaluate("document.cookie") == ""  # the page's scripts cannot read it

    await page.add_init_script(WATCH_SIGN_IN_FORM)
    await page.reload()
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#user-email")).to_have_text(email)
    await expect(task_row(page, "Water the plants")).to_have_count(1)
    assert await page.evaluate("window.signInShown") is False
    await page.fill("#new-task-title", "Added after the reload")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "Added after the reload")).to_have_count(1)


async def test_after_signing_out_a_reload_shows_the_sign_in_form_without_a_message(
    site: Site, open_page: OpenPage
) -> None:
    email = fresh_email()
    page: Page = await open_page(site)
    await sign_up(page, email)
    async with page.expect_response("**/api/v1/auth/logout") as logout:
        await page.click("#sign-out")
    assert (await logout.value).status == 204
    await expect(page.locator("#auth")).to_be_visible()
    assert await refresh_cookie(page) is None  # the server cleared it
    await page.reload()
    await expect(page.locator("#auth")).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()
    await expect(page.locator("#auth-error")).to_be_hidden()
    await log_in(page, email)  # and signing in again works


async def test_a_session_ended_from_another_device_says_so_in_the_tab_and_after_a_reload(
    serve: Serve, open_page: OpenPage
) -> None:
    """Changing the password elsewhere ends this tab's session (it notices through its live stream); signing out
    everywhere while the page is closed is told when it is opened again."""
    site: Site = serve([], stream_recheck_seconds="0.5")
    page: Page = await open_page(site)
    await sign_up(page, "ada@example.com")
    with site.api(await asyncio.to_thread(site.login, "ada@example.com")) as http:
        changed = http.post("/api/v1/auth/password",
                            json={"current_password": PASSWORD, "new_password": "another long passphrase"})
    assert changed.status_code == 200, changed.text
    await expect(page.locator("#auth")).to_be_visible(timeout=15_000)
    await expect(page.locator("#auth-error")).to_have_text(ELSEWHERE)

    await page.fill("#password", "another long passphrase")
    await page.fill("#email", "ada@example.com")
    await page.click("#login-button")
    await expect(page.locator("#app")).to_be_visible()
    url = page.url
    context = page.context
    await page.close()
    with site.api(changed.json()["access_token"]) as http:
        assert http.post("/api/v1/auth/sessions/revoke").status_code == 200
    reopened = await context.new_page()
    await reopened.goto(url)
    await expect(reopened.locator("#auth-error")).to_have_text(ELSEWHERE)
    await expect(reopened.locator("#app")).to_be_hidden()


async def test_an_expired_session_says_so_in_the_tab_and_after_a_reload(serve: Serve, open_page: OpenPage) -> None:
    """Sessions here end 9 s after sign-in: an open tab says so when its renewal is refused, and a tab opened
    after the end (the browser has dropped the cookie by then) says so too."""
    site: Site = serve([], session_max_hours=str(9 / 3600))
    page: Page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await expect(page.locator("#auth-error")).to_have_text(EXPIRED, timeout=30_000)
    await expect(page.locator("#app")).to_be_hidden()

    await log_in(page, "ada@example.com")
    url, context = page.url, page.context
    await page.close()
    for _ in range(300):  # until the browser drops the cookie at its Max-Age
        if not any(c["name"] == "todo_agent_refresh" for c in await context.cookies()):
            break
        await asyncio.sleep(0.1)
    reopened = await context.new_page()
    await reopened.goto(url)
    await expect(reopened.locator("#auth-error")).to_have_text(EXPIRED)


async def test_two_tabs_renewing_with_the_same_cookie_at_once_both_stay_signed_in(
    site: Site, open_page: OpenPage
) -> None:
    """Two tabs renew at once: the second's request left with the cookie before the first's answer replaced it.
    That is made certain here by putting the spent cookie back before the second tab reloads; the server must
    answer it (with the same successor) instead of ending the session as a replayed token."""
    email = fresh_email()
    first: Page = await open_page(site)
    await sign_up(first, email)
    second = await another_tab(first)
    await expect(second.locator("#app")).to_be_visible()  # a new tab is signed in by the cookie too

    shared = await refresh_cookie(first)
    assert shared is not None
    async with first.expect_response("**/api/v1/auth/refresh") as renewal:
        await first.reload()
    assert (await renewal.value).status == 200
    rotated = await refresh_cookie(first)
    assert rotated is not None and rotated["value"] != shared["value"]
    await first.context.add_cookies([shared])  # what the second tab sent, unaware of the first tab's answer
    async with second.expect_response("**/api/v1/auth/refresh") as late:
        await second.reload()
    assert (await late.value).status == 200
    for tab in (first, second):
        await expect(tab.locator("#app")).to_be_visible()
        await expect(tab.locator("#auth")).to_be_hidden()
    await first.reload()  # the session goes on
    await expect(first.locator("#user-email")).to_have_text(email)
    await second.close()


async def test_without_a_model_the_chat_says_what_to_set_and_restart_and_that_tasks_work(
    serve: Serve, open_page: OpenPage
) -> None:
    site: Site = serve(None)
    page: Page = await open_page(site)
    await sign_up(page, "ada@example.com")
    help_ = page.locator("#chat-unavailable")
    await expect(help_).to_be_visible()
    for words in ("no chat model", "CO_API_KEY", "dashboard.cohere.com", "TODO_AGENT_MODEL=scripted:<file>",
                  "Restart the server", "Your tasks work without it", "README, section “The chat model”"):
        await expect(help_).to_contain_text(words)
    section = re.search(r"section “(.+?)”", await help_.inner_text())
    assert section is not None
    assert f"\n## {section.group(1)}\n" in README.read_text(), "the README has no section with that heading"

    await expect(page.locator("#chat-input")).to_be_disabled()
    await expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("chat is off"))
    await expect(page.locator("#composer-hint")).to_contain_text("chat is off")
    await expect(page.locator("#send")).to_be_disabled()
    await expect(page.locator("#chat-welcome")).to_be_hidden()
    await expect(page.locator("#chat-model")).to_be_hidden()


async def test_an_empty_conversation_greets_with_example_prompts_and_one_sends(
    serve: Serve, open_page: OpenPage, tmp_path: Path
) -> None:
    site: Site = serve([{"text": "Nothing is due this week."}])
    page: Page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await expect(page.locator("#chat-model")).to_have_text(f"Model: scripted {tmp_path / 'script.json'}")
    welcome = page.locator("#chat-welcome")
    await expect(welcome).to_be_visible()
    await expect(welcome).to_contain_text("Hi! I can add, find and change your tasks.")
    await expect(welcome.locator("button.chat-example")).to_have_text(EXAMPLES)

    await welcome.get_by_role("button", name=EXAMPLES[0]).click()
    await expect(page.locator("#messages .message.user")).to_have_text(EXAMPLES[0])
    await expect(page.locator("#messages .message.assistant")).to_have_text("Nothing is due this week.")
    await expect(welcome).to_be_hidden()

    await page.reload()  # the conversation with messages comes back, without the greeting
    await expect(page.locator("#messages .message.assistant")).to_have_text("Nothing is due this week.")
    await expect(welcome).to_be_hidden()
    await page.click("#new-conversation")
    await expect(welcome).to_be_visible()
    await expect(page.locator("#messages")).to_be_hidden()


async def test_at_phone_width_one_tap_shows_the_tasks_and_one_tap_goes_back_to_the_chat(
    serve: Serve, open_page: OpenPage
) -> None:
    site: Site = serve([{"text": "Hi there."}])
    page: Page = await open_page(site, width=390, height=844)
    await sign_up(page, "ada@example.com")
    chat_tab, tasks_tab = page.locator("#tab-chat"), page.locator("#tab-tasks")
    await expect(page.locator("#view-tabs")).to_have_attribute("role", "tablist")
    await expect(chat_tab).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#chat")).to_be_visible()
    await expect(page.locator("#chat")).to_have_attribute("role", "tabpanel")
    await expect(page.locator("#tasks")).to_be_hidden()

    await tasks_tab.click()
    await expect(page.locator("#tasks")).to_be_visible()
    await expect(page.locator("#chat")).to_be_hidden()
    await expect(tasks_tab).to_have_attribute("aria-selected", "true")
    await expect(chat_tab).to_have_attribute("aria-selected", "false")
    await page.fill("#new-task-title", "Buy stamps")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "Buy stamps")).to_have_count(1)

    await page.reload()  # the choice lasts for the session
    await expect(page.locator("#tasks")).to_be_visible()
    await expect(tasks_tab).to_have_attribute("aria-selected", "true")

    await chat_tab.click()
    await expect(page.locator("#chat")).to_be_visible()
    await expect(page.locator("#tasks")).to_be_hidden()
    await send(page, "hi")
    await expect(page.locator("#messages")).to_contain_text("Hi there.")
    await chat_tab.press("ArrowRight")  # the keyboard moves between the tabs too
    await expect(tasks_tab).to_be_focused()
    await expect(page.locator("#tasks")).to_be_visible()


async def test_at_desktop_width_both_panels_show_side_by_side_without_tabs(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()
    page: Page = await open_page(site, width=1280, height=800)
    await sign_up(page, email)
    await expect(page.locator("#view-tabs")).to_be_hidden()
    for panel in ("#chat", "#tasks"):
        await expect(page.locator(panel)).to_be_visible()
        await expect(page.locator(panel)).not_to_have_attribute("role", "tabpanel")
    chat, tasks = await page.locator("#chat").bounding_box(), await page.locator("#tasks").bounding_box()
    assert chat is not None and tasks is not None and chat["x"] + chat["width"] <= tasks["x"]
