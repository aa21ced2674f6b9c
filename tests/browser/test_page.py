"""The chat page in headless Chromium: sign-up, streamed chat with tool cards and approvals, the live task panel,
a task added over MCP appearing without a reload, reminders in the bell, stop, history, XSS, phone width.

The server is the real `todo-agent serve`; only the chat model is scripted, because Cohere cannot run here."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from agent.mcp_client import connect_remote
from tests.browser.conftest import PASSWORD, Site, fresh_email, send, sign_up, task_row

pytestmark = [pytest.mark.slow, pytest.mark.browser]

Serve = Any
OpenPage = Any


# Records every text the first assistant bubble shows, as the page changes (run through DevTools, not the page).
RECORD_ASSISTANT_TEXT = """() => {
  window.assistantTexts = [];
  new MutationObserver(() => {
    const bubble = document.querySelector("#messages .message.assistant");
    if (bubble) window.assistantTexts.push(bubble.textContent.trim());
  }).observe(document.querySelector("#messages"), {subtree: true, childList: true, characterData: true});
}"""


def call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


async def test_chat_streams_text_shows_tool_cards_and_asks_before_deleting(serve: Serve, open_page: OpenPage) -> None:
    slow = "Let me add that for you, one moment while I write it down."
    site = serve([
        {"text": slow, "delay_ms": 120, "tool_calls": [call("add_task", title="Buy milk", priority="high")]},
        {"text": "Buy milk is on your list."},
        {"text": "I'll delete it.", "tool_calls": [call("delete_task", task_id="{{results[-1].id}}")]},
        {"text": "Deleted Buy milk."},
    ])
    page = await open_page(site)
    await sign_up(page, "ada@example.com")

    await page.evaluate(RECORD_ASSISTANT_TEXT)
    await send(page, "add buy milk, it's important")
    await expect(page.locator("#messages .message.user")).to_have_text(re.compile("add buy milk"))
    assistant = page.locator("#messages .message.assistant").first
    await expect(assistant).to_contain_text(slow)
    # The text arrived piece by piece: the page showed part of it before the rest had been sent.
    shown: list[str] = await page.evaluate("window.assistantTexts")
    assert any(text.startswith("Let me") and text != slow for text in shown), shown

    card = page.locator("#messages .tool-card").first
    await expect(card.locator(".tool-name")).to_contain_text("add_task")
    await expect(card.locator(".tool-args")).to_contain_text("Buy milk")
    await expect(card.locator(".tool-result")).to_contain_text("Buy milk")
    await expect(page.locator("#messages")).to_contain_text("Buy milk is on your list.")
    row = task_row(page, "Buy milk")
    await expect(row).to_have_count(1)  # the panel follows the agent's change live
    await expect(row.locator(".task-priority-mark")).to_have_text("high")
    await expect(page.locator("#stop")).to_be_disabled()

    await send(page, "delete it")
    approval = page.locator("#messages .approval").last
    await expect(approval.locator(".approval-reason")).not_to_be_empty()
    await expect(row).to_have_count(1)  # nothing deleted before the answer
    await approval.locator("button.approve").click()
    await expect(page.locator("#messages")).to_contain_text("Deleted Buy milk.")
    await expect(row).to_have_count(0)
    await expect(approval.locator("button.approve")).to_be_disabled()


async def test_a_task_added_over_mcp_appears_in_the_panel_without_a_reload(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()
    page = await open_page(site)
    await sign_up(page, email)
    await expect(page.locator("#task-count")).to_contain_text("0")

    token = await asyncio.to_thread(site.api_token, email)
    async with connect_remote(f"{site.url}/mcp", token) as mcp:  # an MCP client with a personal API token
        outcome = await mcp.call("add_task", {"title": "Plan the trip", "tags": ["travel"]})
        assert not outcome.is_error, outcome.text

    row = task_row(page, "Plan the trip")
    await expect(row).to_have_count(1)
    await expect(row.locator(".task-tag")).to_have_text("#travel")
    await expect(page.locator("#task-count")).to_contain_text("1")


async def test_a_reminder_rings_the_bell_and_can_be_marked_read(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()
    page = await open_page(site)
    await sign_up(page, email)
    await expect(page.locator("#bell-count")).to_be_hidden()

    due = datetime.now(UTC) + timedelta(seconds=2)
    with site.api(await asyncio.to_thread(site.login, email)) as http:
        created = http.post("/api/v1/tasks", json={"title": "Call the dentist", "due_at": due.isoformat(),
                                                   "reminders": [0]})
    assert created.status_code == 201, created.text

    await expect(page.locator("#bell-count")).to_have_text("1", timeout=15_000)
    await expect(page.locator("#bell")).to_have_attribute("aria-label", re.compile("1"))
    await page.click("#bell")
    note = page.locator("#notifications li.notification")
    await expect(note).to_have_count(1)
    await expect(note).to_contain_text("Call the dentist")
    # One date format across the page: the bell says the due exactly as the task's row does (dates.js).
    row_due = (await page.locator("#task-list li.task .task-due").first.inner_text()).strip()
    assert row_due, "the row shows its due"
    await expect(note).to_contain_text(f"Due {row_due}")
    await note.locator("button.mark-read").click()
    await expect(page.locator("#bell-count")).to_be_hidden()
    with site.api(await asyncio.to_thread(site.login, email)) as http:
        assert http.get("/api/v1/notifications", params={"unread": "true"}).json()["count"] == 0


async def test_the_task_panel_filters_edits_and_checks_off(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()
    page = await open_page(site)
    await sign_up(page, email)
    for title in ("Water the plants", "Write the report", "Book flights"):
        await page.fill("#new-task-title", title)
        await page.press("#new-task-title", "Enter")
        await expect(task_row(page, title)).to_have_count(1)
    await expect(page.locator("#task-count")).to_contain_text("3")

    report = task_row(page, "Write the report")
    await report.locator(".task-open").click()  # the row opens its editor in place
    await report.locator("select.task-priority").select_option("urgent")
    await report.locator("input.task-tags").fill("work, q3")
    await report.locator("input.task-tags").press("Enter")
    await expect(report.locator(".task-tag")).to_have_count(2)
    plants = task_row(page, "Water the plants")
    await plants.locator(".task-open").click()
    await plants.locator("input.task-due-date").fill("2026-12-24")
    await plants.locator("input.task-due-time").fill("18:30")
    await plants.locator("input.task-due-time").press("Enter")
    await expect(plants.locator(".task-due")).to_contain_text("18:30")
    await report.locator("input.task-done").check()
    await expect(report).to_have_count(0)  # the default view shows open tasks: a completed one fades out

    with site.api(await asyncio.to_thread(site.login, email)) as http:
        stored = {t["title"]: t for t in http.get("/api/v1/tasks").json()["data"]}
    assert stored["Write the report"]["priority"] == "urgent"
    assert sorted(stored["Write the report"]["tags"]) == ["q3", "work"]
    assert stored["Write the report"]["status"] == "completed"
    assert stored["Water the plants"]["due_at"] == "2026-12-24T18:30:00+01:00"  # the user's zone: Europe/Berlin

    await page.select_option("#filter-status", "open")
    await expect(page.locator("#task-list li.task")).to_have_count(2)
    await page.fill("#search", "wat")
    await expect(page.locator("#task-list li.task")).to_have_count(1)
    await expect(task_row(page, "Water the plants")).to_have_count(1)
    await page.fill("#search", "")
    await page.select_option("#filter-status", "all")
    await page.fill("#filter-tag", "work")
    await page.press("#filter-tag", "Enter")
    await expect(page.locator("#task-list li.task")).to_have_count(1)
    await expect(task_row(page, "Write the report")).to_have_count(1)


async def test_stop_cancels_a_running_turn_and_the_conversation_goes_on(serve: Serve, open_page: OpenPage) -> None:
    endless = "This is a very long answer that keeps going. " * 20
    site: Site = serve([{"text": endless, "delay_ms": 200}, {"text": "Back again."}])
    page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await send(page, "tell me everything")
    await expect(page.locator("#messages .message.assistant").first).to_contain_text("This is a very")
    await page.click("#stop")
    await expect(page.locator("#messages")).to_contain_text("Stopped")
    await expect(page.locator("#stop")).to_be_disabled()
    await send(page, "short answer please")
    await expect(page.locator("#messages")).to_contain_text("Back again.")
    await expect(page.locator("#conversations button.conversation")).to_have_count(1)  # the same conversation


async def test_conversations_list_their_history(serve: Serve, open_page: OpenPage) -> None:
    site: Site = serve([{"text": "Adding.", "tool_calls": [call("add_task", title="Pay rent")]},
                        {"text": "Pay rent is on your list."},
                        {"text": "Hello in a new conversation."}])
    page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await send(page, "add pay rent")
    await expect(page.locator("#messages")).to_contain_text("Pay rent is on your list.")
    await page.click("#new-conversation")
    await expect(page.locator("#messages .message")).to_have_count(0)
    await send(page, "hello")
    await expect(page.locator("#messages")).to_contain_text("Hello in a new conversation.")
    conversations = page.locator("#conversations button.conversation")
    await expect(conversations).to_have_count(2)

    await conversations.filter(has_text="add pay rent").click()
    await expect(page.locator("#messages .message.user")).to_have_text(["add pay rent"])
    await expect(page.locator("#messages .tool-card .tool-name")).to_contain_text("add_task")
    await expect(page.locator("#messages .tool-card .tool-result")).to_contain_text("Pay rent")
    await expect(page.locator("#messages")).to_contain_text("Pay rent is on your list.")
    await expect(page.locator("#messages")).not_to_contain_text("Hello in a new conversation.")


async def test_a_title_with_markup_renders_as_text(serve: Serve, open_page: OpenPage) -> None:
    evil = "<img src=x onerror=alert(1)>"
    site: Site = serve([{"text": f"Adding {evil}", "tool_calls": [call("add_task", title=evil)]},
                        {"text": f"Added {evil}."}])
    page = await open_page(site)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_up(page, "ada@example.com")
    await send(page, "add the markup one")
    await expect(page.locator("#messages")).to_contain_text(f"Added {evil}.")
    await expect(task_row(page, evil)).to_have_count(1)
    assert await page.locator("#task-list img, #messages img").count() == 0
    assert dialogs == []


async def test_without_a_model_the_chat_says_how_to_set_one_and_tasks_still_work(
    serve: Serve, open_page: OpenPage
) -> None:
    site: Site = serve(None)
    page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await expect(page.locator("#chat-unavailable")).to_be_visible()
    await expect(page.locator("#chat-unavailable")).to_contain_text("CO_API_KEY")
    await expect(page.locator("#chat-input")).to_be_disabled()
    await page.fill("#new-task-title", "Still works")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "Still works")).to_have_count(1)


async def test_sign_in_with_the_keyboard_and_sign_out(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()
    page = await open_page(site)
    await sign_up(page, email)
    await page.click("#sign-out")
    await expect(page.locator("#auth")).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()

    await page.fill("#email", "")
    await page.fill("#password", "")
    await page.focus("#email")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type("wrong password")
    await page.keyboard.press("Enter")
    await expect(page.locator("#auth-error")).not_to_be_empty()
    await page.fill("#password", PASSWORD)
    await page.focus("#password")
    await page.keyboard.press("Enter")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#timezone")).to_have_value("Europe/Berlin")  # the browser's zone, from sign-up
    await page.select_option("#timezone", "America/New_York")
    with site.api(await asyncio.to_thread(site.login, email)) as http:
        for _ in range(50):
            if http.get("/api/v1/me").json()["timezone"] == "America/New_York":
                break
            await asyncio.sleep(0.1)
        assert http.get("/api/v1/me").json()["timezone"] == "America/New_York"


async def test_the_page_fits_a_phone(serve: Serve, open_page: OpenPage) -> None:
    site: Site = serve([{"text": "Hi there."}])
    page: Page = await open_page(site, width=375, height=740)
    await sign_up(page, "ada@example.com")
    await send(page, "hi")
    await expect(page.locator("#messages")).to_contain_text("Hi there.")
    for selector in ("#chat-input", "#send", "#tab-tasks", "#bell"):
        await expect(page.locator(selector)).to_be_visible()
    for tab in ("#tab-tasks", "#tab-chat"):  # one panel at a time at phone width
        await page.click(tab)
        overflow = await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at phone width"


async def test_the_page_renews_its_token_before_it_expires(serve: Serve, open_page: OpenPage) -> None:
    site: Site = serve([], access_token_minutes="0.15")  # tokens live 9 s
    page = await open_page(site)
    async with (
        page.expect_response(lambda r: r.url.endswith("/api/v1/auth/refresh") and r.status == 200,
                             timeout=15_000) as renewal,
        page.expect_response("**/api/v1/auth/login") as login,
    ):
        await sign_up(page, "ada@example.com")
    # The renewal presents the session cookie (the page never holds the refresh token), never the access token.
    assert "refresh_token" not in await (await login.value).json()
    request = (await renewal.value).request
    headers = await request.all_headers()
    assert "authorization" not in headers and "todo_agent_refresh=" in headers["cookie"]
    await page.wait_for_timeout(4_000)  # now past the first token's expiry
    await page.fill("#new-task-title", "Added with the renewed token")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "Added with the renewed token")).to_have_count(1)
    await expect(page.locator("#app")).to_be_visible()


async def test_a_call_waiting_in_history_can_still_be_approved(serve: Serve, open_page: OpenPage) -> None:
    site: Site = serve([{"tool_calls": [call("add_task", title="Old plan")]}, {"text": "Added Old plan."},
                        {"text": "Deleting.", "tool_calls": [call("delete_task", task_id="{{results[-1].id}}")]},
                        {"text": "Deleted Old plan."}])
    page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await send(page, "add old plan")
    await expect(page.locator("#messages")).to_contain_text("Added Old plan.")
    await send(page, "delete it")
    await expect(page.locator("#messages .approval")).to_have_count(1)
    await page.click("#new-conversation")
    await expect(page.locator("#messages .approval")).to_have_count(0)

    await page.locator("#conversations button.conversation").filter(has_text="add old plan").click()
    approval = page.locator("#messages .approval")
    await expect(approval.locator(".approval-reason")).to_contain_text("approval")
    await approval.locator("button.approve").click()
    await expect(page.locator("#messages")).to_contain_text("Deleted Old plan.")
    await expect(task_row(page, "Old plan")).to_have_count(0)


async def test_a_model_error_is_shown_plainly(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()  # the script has no step: the model fails
    page = await open_page(site)
    await sign_up(page, email)
    await send(page, "hello?")
    await expect(page.locator("#messages .chat-error")).to_contain_text("script")
    await expect(page.locator("#stop")).to_be_disabled()
    await expect(page.locator("#chat-input")).to_be_enabled()


async def test_after_the_idle_timeout_the_next_message_opens_a_new_conversation(
    serve: Serve, open_page: OpenPage
) -> None:
    site: Site = serve([{"text": "First session."}, {"text": "Second session."}], session_timeout_minutes="0.01")
    page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await send(page, "hello")
    await expect(page.locator("#messages")).to_contain_text("First session.")
    await page.wait_for_timeout(1_000)  # idle longer than the 0.6 s session timeout
    await send(page, "hello again")
    await expect(page.locator("#messages")).to_contain_text("Second session.")
    await expect(page.locator("#messages")).not_to_contain_text("First session.")
    await expect(page.locator("#conversations button.conversation")).to_have_count(2)


async def test_the_task_list_pages_with_load_more(site: Site, open_page: OpenPage) -> None:
    email = fresh_email()
    page = await open_page(site)
    await sign_up(page, email)
    with site.api(await asyncio.to_thread(site.login, email)) as http:
        for n in range(1, 26):
            assert http.post("/api/v1/tasks", json={"title": f"Task {n:02d}"}).status_code == 201
    await expect(page.locator("#task-count")).to_contain_text("25")
    rows = page.locator("#task-list li.task")
    await expect(rows).to_have_count(20)
    await page.click("#tasks-more")
    await expect(rows).to_have_count(25)
    await expect(page.locator("#tasks-more")).to_be_hidden()
    titles = await page.locator("#task-list .task-title").all_text_contents()
    assert sorted(titles) == [f"Task {n:02d}" for n in range(1, 26)]


async def log_in(page: Page, email: str) -> None:
    """Sign in on the page with the account's password and wait for the app."""
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")
    await expect(page.locator("#user-email")).to_have_text(email)


async def test_sign_out_everywhere_ends_another_pages_session(serve: Serve, open_page: OpenPage) -> None:
    """"Sign out everywhere" on one page signs out another page of the same account (its live stream ends)."""
    site: Site = serve([], stream_recheck_seconds="0.5")
    here, there = await open_page(site), await open_page(site)
    await sign_up(here, "ada@example.com")
    await log_in(there, "ada@example.com")
    await here.click("#sign-out-everywhere")
    await expect(here.locator("#auth")).to_be_visible()
    await expect(there.locator("#auth")).to_be_visible(timeout=15_000)
    await expect(there.locator("#auth-error")).to_have_text("You were signed out from another device.")


async def test_the_password_can_be_changed_and_the_page_stays_signed_in(site: Site, open_page: OpenPage) -> None:
    """The change-password form sets a new password; the page carries on with its new session."""
    email = fresh_email()
    page = await open_page(site)
    await sign_up(page, email)
    await page.click("#password-toggle")
    await page.fill("#current-password", "not the password")
    await page.fill("#new-password", "another long passphrase")
    await page.click("#password-submit")
    await expect(page.locator("#password-error")).to_contain_text("current password")
    await page.fill("#current-password", PASSWORD)
    await page.fill("#new-password", "another long passphrase")
    await page.click("#password-submit")
    await expect(page.locator("#password-popover")).to_be_hidden()
    await page.fill("#new-task-title", "Added after the change")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "Added after the change")).to_have_count(1)
    with site.api() as http:
        old = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401


async def test_a_tab_whose_live_stream_was_closed_for_a_newer_one_stays_closed(
    serve: Serve, open_page: OpenPage
) -> None:
    """Over the per-user stream cap the oldest tab's stream is closed: it says so and does not reconnect (which
    would close the other tab's stream in turn, for ever)."""
    site: Site = serve([], streams_per_user="1")
    first, second = await open_page(site), await open_page(site)
    await sign_up(first, "ada@example.com")
    await log_in(second, "ada@example.com")
    await expect(first.locator("#app-status")).to_contain_text("too many tabs", timeout=10_000)
    await first.wait_for_timeout(3_000)  # longer than the first reconnect delay
    await expect(second.locator("#app-status")).to_be_hidden()
    with site.api(site.login("ada@example.com")) as http:
        http.post("/api/v1/tasks", json={"title": "Seen live in the newer tab"}).raise_for_status()
    await expect(task_row(second, "Seen live in the newer tab")).to_have_count(1)


async def test_the_api_docs_render_under_their_strict_policy(site: Site, open_page: OpenPage) -> None:
    """/docs shows Swagger UI's operations from the app's own assets: no CDN request, no CSP violation."""
    page = await open_page(site)
    await page.goto(site.url + "/docs")
    await expect(page.locator(".opblock-summary-path", has_text="/api/v1/tasks").first).to_be_visible(timeout=15_000)


async def test_a_message_sent_while_an_answer_is_still_streaming_goes_out_when_it_ends(
    serve: Serve, open_page: OpenPage
) -> None:
    """Enter pressed before the running answer has finished is not lost: the message goes out once the turn ends."""
    slow = "This answer takes a while to write. " * 4
    site: Site = serve([{"text": slow, "delay_ms": 150}, {"text": "Second answer."}])
    page = await open_page(site)
    await sign_up(page, "ada@example.com")
    await send(page, "first")
    await expect(page.locator("#messages .message.assistant").first).to_contain_text("This answer")
    await send(page, "second")  # the first answer is still being written
    await expect(page.locator("#messages")).to_contain_text("Second answer.", timeout=15_000)
    await expect(page.locator("#chat-input")).to_have_value("")
