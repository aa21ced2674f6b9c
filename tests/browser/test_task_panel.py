"""The task panel in headless Chromium: compact rows whose controls show on hover or focus, the editor opened in
place (title, description, due, recurrence, reminders), delete with Undo, the general undo, the Open/Completed
filters, the length limits shown rather than cut, and quick add's chips.

The server is the real `todo-agent serve` (the page's user lives in Europe/Berlin, the browser's zone)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, Request, expect

from tests.browser.conftest import Site, fresh_email, sign_up, task_row

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OpenPage = Any
BERLIN = ZoneInfo("Europe/Berlin")
NEXT_YEAR = date.today().year + 1  # a due far enough ahead to be neither today nor overdue


@dataclass
class Panel:
    """A signed-in page, its site, and the task changes (method, url, JSON body) the page sent."""

    page: Page
    site: Site
    email: str
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def record(self, request: Request) -> None:
        if "/api/v1/tasks" in request.url and request.method in ("POST", "PATCH", "DELETE"):
            body = request.post_data
            self.sent.append((request.method, request.url, json.loads(body) if body else None))

    def changes(self, method: str) -> list[Any]:
        return [body for m, url, body in self.sent if m == method and "/preview" not in url]

    async def create(self, **task: Any) -> dict[str, Any]:
        """A task created over the API (as another client would); the panel shows it live."""
        token = await asyncio.to_thread(self.site.login, self.email)
        with self.site.api(token) as http:
            response = http.post("/api/v1/tasks", json=task)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        await expect(task_row(self.page, task["title"])).to_have_count(1)
        return created

    async def stored(self, task_id: int) -> dict[str, Any]:
        """The task as the server has it now (the trash included)."""
        token = await asyncio.to_thread(self.site.login, self.email)
        with self.site.api(token) as http:
            response = http.get(f"/api/v1/tasks/{task_id}")
            if response.status_code == 404:
                trash = http.get("/api/v1/tasks", params={"status": "deleted"}).json()["data"]
                return next(t for t in trash if t["id"] == task_id)
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    async def eventually(self, task_id: int, check: Any) -> dict[str, Any]:
        """The stored task once `check(task)` holds (the page saves asynchronously); fails after 10 s."""
        for _ in range(100):
            task = await self.stored(task_id)
            if check(task):
                return task
            await asyncio.sleep(0.1)
        raise AssertionError(f"task {task_id} never reached the expected state: {task}")

    async def open(self, title: str) -> Locator:
        """Open a task's editor by clicking its row; answers the editor."""
        row = task_row(self.page, title)
        await row.locator(".task-open").click()
        editor = self.page.locator(f"#task-editor-{await row.get_attribute('data-id')}")  # whatever the title
        await expect(editor).to_be_visible()
        return editor


@pytest.fixture
async def panel(site: Site, open_page: OpenPage) -> Panel:
    page = await open_page(site)
    email = fresh_email()
    await sign_up(page, email)
    signed_in = Panel(page, site, email)
    page.on("request", signed_in.record)
    return signed_in


def toast(page: Page) -> Locator:
    return page.locator("#toasts .toast").last


async def test_the_title_is_edited_in_place_and_escape_cancels(panel: Panel) -> None:
    task = await panel.create(title="Buy milk")
    editor = await panel.open("Buy milk")
    title = editor.locator("input.task-title-input")
    await expect(title).to_be_focused()
    await title.fill("Buy oat milk")
    await title.press("Enter")
    await expect(task_row(panel.page, "Buy oat milk")).to_have_count(1)
    await panel.eventually(task["id"], lambda t: t["title"] == "Buy oat milk")
    await expect(toast(panel.page)).to_contain_text("Renamed to ‘Buy oat milk’")

    await title.fill("Something else entirely")
    await title.press("Escape")  # cancels the edit; the editor stays open
    await expect(title).to_have_value("Buy oat milk")
    await expect(editor).to_be_visible()
    await title.press("Escape")  # nothing left to cancel: closes, focus back on the row
    await expect(editor).to_have_count(0)
    await expect(task_row(panel.page, "Buy oat milk").locator(".task-open")).to_be_focused()
    assert [body["title"] for body in panel.changes("PATCH")] == ["Buy oat milk"]


async def test_the_description_takes_several_lines_and_saves_when_left(panel: Panel) -> None:
    task = await panel.create(title="Write the report")
    editor = await panel.open("Write the report")
    description = editor.locator("textarea.task-description")
    await description.fill("First the numbers.\nThen the summary.")
    await editor.locator("select.task-priority").focus()  # leaving the field saves it
    stored = await panel.eventually(task["id"], lambda t: t["description"] != "")
    assert stored["description"] == "First the numbers.\nThen the summary."
    await expect(task_row(panel.page, "Write the report").locator(".task-open")).to_have_attribute(
        "title", "First the numbers.\nThen the summary.")


async def test_delete_moves_the_task_to_the_trash_and_undo_in_the_toast_restores_it(panel: Panel) -> None:
    task = await panel.create(title="Old plan")
    row = task_row(panel.page, "Old plan")
    await row.hover()
    await row.locator("button.task-delete").click()
    await expect(row).to_have_count(0)
    await expect(toast(panel.page)).to_contain_text("Deleted ‘Old plan’")
    assert (await panel.stored(task["id"]))["deleted_at"] is not None
    assert panel.changes("DELETE") == [{"version": task["version"]}]

    await toast(panel.page).get_by_role("button", name="Undo deleting Old plan").click()
    await expect(row).to_have_count(1)
    await expect(toast(panel.page)).to_contain_text("Restored ‘Old plan’")
    restored = await panel.stored(task["id"])
    assert restored["deleted_at"] is None and restored["status"] == "open"


async def test_undo_reverts_the_last_change_with_ctrl_z_outside_text_fields(panel: Panel) -> None:
    task = await panel.create(title="Plan the trip")
    editor = await panel.open("Plan the trip")
    priority = editor.locator("select.task-priority")
    await priority.select_option("high")
    await expect(toast(panel.page)).to_contain_text("priority high")
    await priority.select_option("urgent")
    await expect(toast(panel.page)).to_contain_text("priority urgent")
    row = task_row(panel.page, "Plan the trip")
    await expect(row.locator(".task-priority-mark")).to_have_text("urgent")

    await editor.locator("input.task-tags").press("Control+z")  # in a text field: the browser's own undo only
    await row.locator("input.task-done").focus()
    await panel.page.keyboard.press("Control+z")
    await expect(toast(panel.page)).to_contain_text("Undone: update of ‘Plan the trip’")
    await expect(row.locator(".task-priority-mark")).to_have_text("high")
    await expect(priority).to_have_value("high")
    assert (await panel.stored(task["id"]))["priority"] == "high"  # one change undone, not two

    await panel.page.click("#tasks-undo")
    await expect(row.locator(".task-priority-mark")).to_be_hidden()
    assert (await panel.stored(task["id"]))["priority"] == "none"


async def test_a_recurrence_is_previewed_before_it_is_saved_and_can_be_cleared(panel: Panel) -> None:
    task = await panel.create(title="Team meeting")
    editor = await panel.open("Team meeting")
    rule = editor.locator("input.task-recurrence-input")
    preview = editor.locator(".task-recurrence-preview")
    await rule.fill("every blah")
    await expect(editor.locator(".task-recurrence-field .field-error")).to_contain_text("unrecognized phrase")
    await rule.press("Enter")  # refused by the preview: nothing saved
    await rule.fill("every monday at 9")
    later = r"Mon,? \d+ \w+( \d{4})? 09:00"  # a week or more ahead: no "Today"/"Tomorrow"
    await expect(preview).to_have_text(re.compile(rf"^Next: .+ 09:00 · {later} · {later}$"))
    await expect(editor.locator(".task-recurrence-field .field-error")).to_be_hidden()
    assert panel.changes("PATCH") == []
    await editor.locator("button.task-recurrence-set").click()

    stored = await panel.eventually(task["id"], lambda t: t["recurrence"] is not None)
    assert stored["recurrence"]["rule"] == "every monday at 9"
    due = datetime.fromisoformat(stored["due_at"]).astimezone(BERLIN)  # the first occurrence became the due
    assert (due.strftime("%a %H:%M")) == "Mon 09:00"
    row = task_row(panel.page, "Team meeting")
    await expect(row.locator(".task-recurrence")).to_have_text("↻ every monday at 9")
    await expect(row.locator(".task-due")).to_contain_text("09:00")

    await editor.locator("button.task-recurrence-clear").click()
    await panel.eventually(task["id"], lambda t: t["recurrence"] is None)
    await expect(row.locator(".task-recurrence")).to_be_hidden()
    assert [body.get("recurrence") for body in panel.changes("PATCH")] == [
        {"rule": "every monday at 9", "mode": "due", "until": None, "count": None}, None]


async def test_reminders_are_set_with_chips_and_a_custom_amount(panel: Panel) -> None:
    task = await panel.create(title="Call the dentist", due_at=f"{NEXT_YEAR}-03-02T10:00")
    editor = await panel.open("Call the dentist")
    hour = editor.get_by_role("button", name="1 hour")
    await hour.click()
    await expect(hour).to_have_attribute("aria-pressed", "true")
    await editor.get_by_role("button", name="At due time").click()
    await panel.eventually(task["id"], lambda t: t["reminders"] == [0, 60])

    await editor.locator("input.reminder-amount").fill("2")
    await editor.locator("select.reminder-unit").select_option("hours")
    await editor.locator("button.reminder-add").click()
    await expect(editor.locator(".chip.custom")).to_have_text(re.compile("2 hours"))
    await panel.eventually(task["id"], lambda t: t["reminders"] == [0, 60, 120])

    await editor.locator("input.reminder-amount").fill("40")
    await editor.locator("select.reminder-unit").select_option("days")
    await editor.locator("input.reminder-amount").press("Enter")
    await expect(editor.locator(".task-reminders-field .field-error")).to_contain_text("reminder offset")

    await editor.get_by_role("button", name="Remove the reminder 2 hours before due").click()
    await expect(editor.locator(".chip.custom")).to_have_count(0)
    await hour.click()
    stored = await panel.eventually(task["id"], lambda t: t["reminders"] == [0])
    assert stored["reminders"] == [0]


async def test_a_day_without_a_time_saves_as_an_all_day_due(panel: Panel) -> None:
    task = await panel.create(title="Water the plants")
    editor = await panel.open("Water the plants")
    await editor.locator("input.task-due-date").fill(f"{NEXT_YEAR}-12-24")
    await editor.locator("input.task-due-date").press("Enter")
    stored = await panel.eventually(task["id"], lambda t: t["due_date"] is not None)
    assert (stored["due_date"], stored["all_day"], stored["due_at"]) == (f"{NEXT_YEAR}-12-24", True, None)
    row = task_row(panel.page, "Water the plants")
    weekday = f"{date(NEXT_YEAR, 12, 24):%a}"
    await expect(row.locator(".task-due")).to_have_text(f"{weekday}, 24 Dec {NEXT_YEAR} · all day")
    await expect(editor.locator(".task-due-now")).to_contain_text("all day")

    await editor.locator("input.task-due-time").fill("18:30")
    await editor.locator("input.task-due-time").press("Enter")
    stored = await panel.eventually(task["id"], lambda t: t["due_at"] is not None)
    assert stored["due_at"] == f"{NEXT_YEAR}-12-24T18:30:00+01:00"  # the user's zone: Europe/Berlin
    await expect(row.locator(".task-due")).to_contain_text("18:30")
    await expect(row.locator(".task-due")).not_to_contain_text("all day")

    await editor.locator("button.task-due-clear").click()
    await panel.eventually(task["id"], lambda t: t["due_at"] is None and t["due_date"] is None)
    await expect(row.locator(".task-due")).to_be_hidden()
    await expect(editor.locator(".task-due-now")).to_have_text("No due date")


async def test_a_due_typed_as_a_phrase_is_read_by_the_server(panel: Panel) -> None:
    task = await panel.create(title="Pick up the parcel")
    editor = await panel.open("Pick up the parcel")
    await editor.locator("input.task-due-text").fill("tomorrow 9am")
    await editor.locator("input.task-due-text").press("Enter")
    stored = await panel.eventually(task["id"], lambda t: t["due_at"] is not None)
    due = datetime.fromisoformat(stored["due_at"]).astimezone(BERLIN)
    assert (due.date(), due.strftime("%H:%M")) == (datetime.now(BERLIN).date() + timedelta(days=1), "09:00")
    await expect(task_row(panel.page, "Pick up the parcel").locator(".task-due")).to_have_text("Tomorrow 09:00")
    await expect(editor.locator("input.task-due-text")).to_have_value("")


async def test_a_due_the_server_cannot_read_shows_why_and_keeps_the_old_one(panel: Panel) -> None:
    task = await panel.create(title="Renew the passport", due_at=f"{NEXT_YEAR}-05-04T09:00")
    row = task_row(panel.page, "Renew the passport")
    await expect(row.locator(".task-due")).to_contain_text("09:00")
    shown = await row.locator(".task-due").text_content()
    editor = await panel.open("Renew the passport")
    text = editor.locator("input.task-due-text")
    await text.fill("when pigs fly")
    await text.press("Enter")
    error = editor.locator(".task-due-field .field-error")
    await expect(error).to_contain_text("when pigs fly")
    await expect(text).to_have_attribute("aria-invalid", "true")
    await expect(text).to_have_value("when pigs fly")  # kept, to be corrected
    await expect(row.locator(".task-due")).to_have_text(shown or "")
    stored = await panel.stored(task["id"])
    assert stored["due_at"] == task["due_at"] and stored["version"] == task["version"]


async def test_completed_tasks_leave_the_default_view_and_the_completed_filter_shows_them(panel: Panel) -> None:
    done = await panel.create(title="Book flights")
    await panel.create(title="Pack the bags")
    page = panel.page
    await expect(page.locator("#filter-status")).to_have_value("open")
    await task_row(page, "Book flights").locator("input.task-done").check()
    await expect(task_row(page, "Book flights")).to_have_count(0)  # faded out of "Open"
    await expect(toast(page)).to_contain_text("Completed ‘Book flights’")
    await toast(page).get_by_role("button", name="Undo the last change").click()
    await expect(task_row(page, "Book flights")).to_have_count(1)
    assert (await panel.stored(done["id"]))["status"] == "open"

    await task_row(page, "Book flights").locator("input.task-done").check()
    await expect(task_row(page, "Book flights")).to_have_count(0)
    assert (await panel.stored(done["id"]))["status"] == "completed"

    await page.select_option("#filter-status", "completed")
    await expect(page.locator("#task-list li.task")).to_have_count(1)
    await expect(task_row(page, "Book flights")).to_have_class(re.compile("completed"))
    await page.select_option("#filter-status", "all")
    await expect(page.locator("#task-list li.task")).to_have_count(2)
    await page.select_option("#filter-status", "open")
    await expect(page.locator("#task-list li.task")).to_have_count(1)


async def test_row_controls_stay_hidden_until_hover_or_keyboard_focus(panel: Panel) -> None:
    await panel.create(title="Feed the cat")
    row = task_row(panel.page, "Feed the cat")
    edit, delete = row.locator("button.task-edit"), row.locator("button.task-delete")
    await panel.page.mouse.move(0, 0)
    await expect(edit).to_be_hidden()
    await expect(delete).to_be_hidden()
    await row.hover()
    await expect(edit).to_be_visible()
    await expect(delete).to_be_visible()
    await panel.page.mouse.move(0, 0)
    await expect(delete).to_be_hidden()
    await row.locator("input.task-done").focus()
    await expect(delete).to_be_visible()
    await panel.page.keyboard.press("Tab")  # the title
    await panel.page.keyboard.press("Tab")
    await expect(edit).to_be_focused()
    await panel.page.keyboard.press("Enter")
    await expect(row.locator(".task-editor")).to_be_visible()
    await expect(row.locator(".task-open")).to_have_attribute("aria-expanded", "true")
    await panel.page.keyboard.press("Escape")
    await expect(row.locator(".task-editor")).to_have_count(0)
    await expect(row.locator(".task-open")).to_have_attribute("aria-expanded", "false")
    await row.locator(".task-line").click(position={"x": 3, "y": 3})  # a tap anywhere on the row opens it
    await expect(row.locator(".task-editor")).to_be_visible()


async def test_the_title_and_description_limits_are_shown_and_nothing_over_them_is_sent(panel: Panel) -> None:
    task = await panel.create(title="Short")
    editor = await panel.open("Short")
    title = editor.locator("input.task-title-input")
    await title.select_text()
    await panel.page.keyboard.insert_text("x" * 501)  # as a paste: nothing cuts it
    await expect(title).to_have_value("x" * 501)
    await expect(editor.locator(".editor-field .counter").first).to_have_text("501 / 500")
    await expect(editor.locator(".field-error").first).to_contain_text("limit is 500")
    await title.press("Enter")
    await panel.page.keyboard.press("Backspace")
    await expect(editor.locator(".field-error").first).to_be_hidden()
    await title.press("Enter")
    await panel.eventually(task["id"], lambda t: t["title"] == "x" * 500)
    assert [len(body["title"]) for body in panel.changes("PATCH")] == [500]  # the 501 were never sent

    description = editor.locator("textarea.task-description")
    await description.focus()
    await panel.page.keyboard.insert_text("y" * 10_001)
    await expect(editor.locator(".field-error").nth(1)).to_contain_text("limit is 10,000")
    await editor.locator("select.task-priority").focus()  # leaving it does not save it either
    await description.focus()
    await panel.page.keyboard.press("Control+End")
    await panel.page.keyboard.press("Backspace")
    await editor.locator("select.task-priority").focus()
    await panel.eventually(task["id"], lambda t: len(t["description"]) == 10_000)
    assert [len(body["description"]) for body in panel.changes("PATCH") if "description" in body] == [10_000]


async def test_the_add_box_shows_the_title_limit_and_sends_nothing_over_it(panel: Panel) -> None:
    page = panel.page
    await page.focus("#new-task-title")
    await page.keyboard.insert_text("z" * 501)
    await expect(page.locator("#new-task-title")).to_have_value("z" * 501)
    await expect(page.locator("#new-task-count")).to_have_text("501 / 500")
    await expect(page.locator("#new-task-error")).to_contain_text("limit is 500")
    await page.press("#new-task-title", "Enter")
    await page.press("#new-task-title", "Backspace")
    await page.press("#new-task-title", "Enter")
    await expect(task_row(page, "z" * 500)).to_have_count(1)
    assert [len(body["text"]) for body in panel.changes("POST")] == [500], panel.sent  # the 501 were never sent


QUICK = "buy stamps tomorrow at 9am p1 #errands every week"


async def test_quick_add_shows_what_it_read_as_chips_and_creates_that_task(panel: Panel) -> None:
    page = panel.page
    await page.fill("#new-task-title", QUICK)
    chips = page.locator("#quick-chips li.quick-chip")
    await expect(chips).to_have_text(["Due Tomorrow 09:00×", "Priority urgent×", "#errands×",
                                      "↻ every week · from Tomorrow 09:00×"])
    assert [await chip.get_attribute("data-kind") for chip in await chips.all()] == [
        "due", "priority", "tag", "recurrence"]
    await page.press("#new-task-title", "Enter")

    row = task_row(page, "buy stamps")
    await expect(row).to_have_count(1)
    await expect(row.locator(".task-due")).to_have_text("Tomorrow 09:00")
    await expect(row.locator(".task-priority-mark")).to_have_text("urgent")
    await expect(row.locator(".task-tag")).to_have_text("#errands")
    await expect(row.locator(".task-recurrence")).to_have_text("↻ every week")
    await expect(page.locator("#new-task-title")).to_have_value("")
    await expect(chips).to_have_count(0)
    await expect(toast(page)).to_contain_text("Added ‘buy stamps’ · due Tomorrow 09:00")
    assert panel.changes("POST") == [{"text": QUICK}]
    created = await panel.stored(int(await row.get_attribute("data-id") or 0))
    due = datetime.fromisoformat(created["due_at"]).astimezone(BERLIN)
    assert (due.date(), due.strftime("%H:%M")) == (datetime.now(BERLIN).date() + timedelta(days=1), "09:00")
    assert (created["title"], created["priority"], created["tags"]) == ("buy stamps", "urgent", ["errands"])
    assert created["recurrence"]["rule"] == "every week"


async def test_quick_add_says_why_it_refuses_a_text_and_keeps_it(panel: Panel) -> None:
    page = panel.page
    await page.fill("#new-task-title", "p1 #errands")
    await page.press("#new-task-title", "Enter")
    await expect(page.locator("#new-task-error")).to_contain_text("nothing is left for the title")
    await expect(page.locator("#new-task-title")).to_have_value("p1 #errands")
    assert await page.locator("#task-list li.task").count() == 0


async def test_removing_a_chip_keeps_its_words_in_the_title(panel: Panel) -> None:
    page = panel.page
    await page.fill("#new-task-title", QUICK)
    chips = page.locator("#quick-chips li.quick-chip")
    await expect(chips).to_have_count(4)
    await page.get_by_role("button", name="Keep “tomorrow at 9am” in the title").click()
    await expect(page.locator("#new-task-title")).to_have_value('buy stamps "tomorrow at 9am" p1 #errands every week')
    await expect(page.locator("#new-task-title")).to_be_focused()
    await expect(chips).to_have_count(3)
    await expect(chips.first).to_have_attribute("data-kind", "priority")
    await page.click("#new-task-button")
    row = task_row(page, "buy stamps tomorrow at 9am")
    await expect(row).to_have_count(1)
    created = await panel.stored(int(await row.get_attribute("data-id") or 0))
    assert created["title"] == "buy stamps tomorrow at 9am"
    assert (created["priority"], created["tags"]) == ("urgent", ["errands"])
    assert created["due_at"] is None and created["all_day"]  # the rule gave it its first day, nothing read a time


async def test_every_control_of_a_row_and_its_editor_has_a_name(panel: Panel) -> None:
    await panel.create(title="Water the plants", due_at=f"{NEXT_YEAR}-06-01", reminders=[0, 90])
    await panel.open("Water the plants")
    tree = await task_row(panel.page, "Water the plants").aria_snapshot()
    controls = [line.strip() for line in tree.splitlines()
                if re.match(r"\s*- '?(textbox|button|combobox|checkbox|spinbutton|group)\b", line)]
    assert len(controls) > 20, tree
    unnamed = [line for line in controls if not re.match(r"- '?\w+ \"[^\"]+\"", line)]
    assert unnamed == [], tree
