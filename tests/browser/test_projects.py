"""Projects and subtasks on the page, in headless Chromium against the real `todo-agent serve`: the project list
beside the tasks (counts, add, rename, archive, delete with Undo), a project's list with its subtasks under their
parents, the Move menu, completing a parent with open subtasks, and quick add's `#project`."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Locator, Page, Request, expect

from tests.browser.conftest import Site, fresh_email, sign_up, task_row

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OpenPage = Any


@dataclass
class Board:
    """A signed-in page, its site, its user's API token, and the task lists the page asked for."""

    page: Page
    site: Site
    token: str
    lists: list[dict[str, list[str]]] = field(default_factory=list)

    def record(self, request: Request) -> None:
        url = urlsplit(request.url)
        if request.method == "GET" and url.path == "/api/v1/tasks":
            self.lists.append(parse_qs(url.query))

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.site.api(self.token) as http:
            response = http.request(method, path, **kwargs)
        assert response.is_success, response.text
        return response.json()

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call as this user (as another client would make it)."""
        return await asyncio.to_thread(self.call, method, path, **kwargs)

    async def project(self, name: str, colour: str | None = None) -> dict[str, Any]:
        """A project created over the API (as another client would); the page hears of it on its live stream."""
        created: dict[str, Any] = await self.api("POST", "/api/v1/projects", json={"name": name, "colour": colour})
        return created

    async def add_project(self, name: str, colour: str) -> None:
        """A project created on the page, with its dialog."""
        await self.page.click("#project-add")
        await dialog(self.page).get_by_label("Name").fill(name)
        await dialog(self.page).get_by_label("Colour").select_option(label=colour)
        await dialog(self.page).get_by_role("button", name="Add project").click()
        await expect(self.nav(name)).to_have_attribute("aria-current", "true")

    async def task(self, title: str, **fields: Any) -> dict[str, Any]:
        created: dict[str, Any] = await self.api("POST", "/api/v1/tasks", json={"title": title, **fields})
        return created

    async def stored(self, task_id: int) -> dict[str, Any]:
        """The task as the server has it now (the trash included)."""
        found: dict[str, Any] = await self.api("GET", "/api/v1/tasks", params={
            "status": ["open", "completed", "deleted"], "limit": 100})
        return next(t for t in found["data"] if t["id"] == task_id)

    async def eventually(self, task_id: int, check: Any) -> dict[str, Any]:
        """The stored task once `check(task)` holds (the page saves asynchronously); fails after 10 s."""
        for _ in range(100):
            task = await self.stored(task_id)
            if check(task):
                return task
            await asyncio.sleep(0.1)
        raise AssertionError(f"task {task_id} never reached the expected state: {task}")

    def nav(self, name: str) -> Locator:
        """A project's button in the project list."""
        return self.page.locator("#projects button.project").filter(
            has=self.page.locator(".project-name", has_text=re.compile(f"^{re.escape(name)}$")))

    def row(self, task: dict[str, Any]) -> Locator:
        """A task's row, at any level (titles of subtasks would match their parents' rows too)."""
        return self.page.locator(f'#task-list li.task[data-id="{task["id"]}"]')

    async def pick(self, name: str) -> None:
        await self.nav(name).click()
        await expect(self.nav(name)).to_have_attribute("aria-current", "true")

    async def project_menu(self, name: str, item: str) -> None:
        """Run an item of a project's menu (its button shows on hover)."""
        await self.nav(name).hover()
        await self.page.get_by_role("button", name=f"Actions for {name}", exact=True).click()
        await self.page.get_by_role("menuitem", name=item, exact=True).click()

    async def move_menu(self, task: dict[str, Any], item: str) -> None:
        """Run an item of a task's Move menu (its button shows on hover)."""
        line = self.row(task).locator(":scope > .task-line")
        await line.hover()
        await line.get_by_role("button", name=f"Move {task['title']}", exact=True).click()
        await self.page.get_by_role("menuitem", name=item, exact=True).click()


@pytest.fixture
async def board(site: Site, open_page: OpenPage) -> Board:
    page = await open_page(site)
    email = fresh_email("grace")
    await sign_up(page, email)
    signed_in = Board(page, site, await asyncio.to_thread(site.login, email))
    page.on("request", signed_in.record)
    return signed_in


def toast(page: Page) -> Locator:
    return page.locator("#toasts .toast").last


def dialog(page: Page) -> Locator:
    return page.get_by_role("dialog")


async def test_a_project_is_added_renamed_and_recoloured_and_its_count_follows_its_tasks(board: Board) -> None:
    page = board.page
    await expect(page.locator("#projects button.project .project-name")).to_have_text(["All tasks", "Inbox"])
    await board.add_project("Shopping", "Green")  # the new project is shown
    await expect(dialog(page)).to_have_count(0)
    await expect(toast(page)).to_contain_text("Added the project ‘Shopping’")
    projects = await board.api("GET", "/api/v1/projects")
    assert [(p["name"], p["colour"]) for p in projects] == [("Inbox", None), ("Shopping", "#22c55e")]

    await page.click("#project-add")  # names are unique in any case: the dialog says so and stays open
    await dialog(page).get_by_label("Name").fill("SHOPPING")
    await dialog(page).get_by_label("Name").press("Enter")
    await expect(dialog(page).get_by_role("alert")).to_contain_text("already have a project named 'SHOPPING'")
    await dialog(page).get_by_role("button", name="Cancel").click()
    await expect(dialog(page)).to_have_count(0)

    shopping = projects[1]
    await board.task("Milk", project=shopping["id"])  # added elsewhere: the count follows live
    await board.task("Bread", project="Shopping")
    await expect(board.nav("Shopping").locator(".project-count")).to_have_text("2")
    await task_row(page, "Milk").locator("input.task-done").check()
    await expect(board.nav("Shopping").locator(".project-count")).to_have_text("1")

    await board.project_menu("Shopping", "Rename…")
    await expect(dialog(page).get_by_label("Name")).to_be_focused()
    await dialog(page).get_by_label("Name").fill("Groceries")
    await dialog(page).get_by_label("Colour").select_option(label="No colour")
    await dialog(page).get_by_role("button", name="Save").click()
    await expect(board.nav("Groceries")).to_have_count(1)
    await expect(board.nav("Groceries").locator(".project-dot")).to_have_class(re.compile("plain"))
    await expect(toast(page)).to_contain_text("Renamed the project to ‘Groceries’")
    renamed = await board.api("GET", f"/api/v1/projects/{shopping['id']}")
    assert (renamed["name"], renamed["colour"], renamed["open_count"]) == ("Groceries", None, 1)

    await board.project_menu("Inbox", "Change colour…")  # the Inbox keeps its name; its colour may change
    await expect(dialog(page).get_by_label("Name")).to_be_disabled()
    await dialog(page).get_by_label("Colour").select_option(label="Blue")
    await dialog(page).get_by_role("button", name="Save").click()
    await expect(board.nav("Inbox").locator(".project-dot")).not_to_have_class(re.compile("plain"))
    assert (await board.api("GET", "/api/v1/projects"))[0]["colour"] == "#3b82f6"

    # Another client's project changes arrive on the live stream (project.changed), with no task event at all.
    errands = await board.project("Errands")
    await expect(board.nav("Errands")).to_have_count(1)
    await board.api("PATCH", f"/api/v1/projects/{errands['id']}", json={"name": "Chores"})
    await expect(board.nav("Chores")).to_have_count(1)
    await board.api("POST", f"/api/v1/projects/{errands['id']}/archive")
    await expect(board.nav("Chores")).to_have_count(0)


async def test_picking_a_project_shows_its_top_level_tasks_and_survives_a_reload(board: Board) -> None:
    page = board.page
    work = await board.project("Work", "#3b82f6")
    report = await board.task("Write the report", project="Work")
    await board.task("Check the numbers", parent_id=report["id"])
    await board.task("Water the plants")  # the Inbox
    rows = page.locator("#task-list > li.task")
    await expect(rows).to_have_count(3)  # All tasks: every task, flat, as before
    await expect(board.row(report).locator(".task-project")).to_have_text("Work")  # named outside its project
    await expect(board.row(report).locator(".task-expand")).to_be_hidden()

    await board.pick("Work")
    await expect(rows).to_have_count(1)
    await expect(board.row(report).locator(".task-subtask-count")).to_have_text("☑ 0/1 subtasks done")
    await expect(board.row(report).locator(".task-project")).to_be_hidden()
    assert board.lists[-1]["project"] == [str(work["id"])] and board.lists[-1]["top_level"] == ["true"]

    await page.fill("#search", "check")  # a search in a project is flat: the subtask matches on its own
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator(".task-title")).to_have_text("Check the numbers")
    assert "top_level" not in board.lists[-1] and board.lists[-1]["project"] == [str(work["id"])]
    await page.fill("#search", "")

    await page.reload()  # the project shown lasts for the tab's session
    await expect(board.nav("Work")).to_have_attribute("aria-current", "true")
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator(".task-title")).to_have_text("Write the report")
    await board.pick("Inbox")
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator(".task-title")).to_have_text("Water the plants")
    await board.pick("All tasks")
    await expect(rows).to_have_count(3)


async def test_a_project_is_archived_and_deleted_with_its_tasks_going_where_asked_and_undo(board: Board) -> None:
    page = board.page
    trip = await board.project("Trip")
    tickets = await board.task("Book tickets", project="Trip")
    hotel = await board.task("Book the hotel", project="Trip")
    await board.pick("Trip")
    await expect(page.locator("#task-list > li.task")).to_have_count(2)

    await board.project_menu("Trip", "Archive")
    await expect(toast(page)).to_contain_text("Archived ‘Trip’")
    await expect(board.nav("Trip")).to_have_count(0)
    await expect(board.nav("All tasks")).to_have_attribute("aria-current", "true")
    assert (await board.api("GET", f"/api/v1/projects/{trip['id']}"))["archived"]
    toggle = page.locator("#projects-archived-toggle")  # archived projects show on request
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await page.get_by_role("button", name="Unarchive Trip").click()
    await expect(toast(page)).to_contain_text("‘Trip’ is back in your projects")
    await expect(page.locator("#archived-projects")).to_contain_text("No archived projects")
    assert not (await board.api("GET", f"/api/v1/projects/{trip['id']}"))["archived"]
    await board.pick("Trip")

    await board.project_menu("Trip", "Delete…")
    await expect(dialog(page)).to_contain_text("It holds 2 open tasks")
    await dialog(page).get_by_label("Move them to the trash").check()
    await dialog(page).get_by_role("button", name="Delete project").click()
    await expect(toast(page)).to_contain_text("Deleted ‘Trip’ and moved 2 tasks to the trash")
    await expect(board.nav("Trip")).to_have_count(0)
    await expect(board.nav("All tasks")).to_have_attribute("aria-current", "true")
    await expect(page.locator("#task-list > li.task")).to_have_count(0)
    assert (await board.stored(tickets["id"]))["deleted_at"] is not None

    await toast(page).get_by_role("button", name="Undo the last change").click()
    await expect(toast(page)).to_contain_text("Undone: deletion of ‘Trip’")
    await expect(board.nav("Trip")).to_have_count(1)
    await expect(page.locator("#task-list > li.task")).to_have_count(2)
    for task in (tickets, hotel):
        back = await board.stored(task["id"])
        assert (back["deleted_at"], back["project_id"]) == (None, trip["id"])

    await board.project_menu("Trip", "Delete…")  # the default: its tasks go to the Inbox
    await expect(dialog(page).get_by_label("Move them to the Inbox")).to_be_checked()
    await dialog(page).get_by_role("button", name="Delete project").click()
    await expect(toast(page)).to_contain_text("Deleted ‘Trip’ and moved 2 tasks to the Inbox")
    await expect(board.nav("Inbox").locator(".project-count")).to_have_text("2")
    inbox = (await board.api("GET", "/api/v1/projects"))[0]
    assert (await board.stored(hotel["id"]))["project_id"] == inbox["id"]


async def test_subtasks_expand_and_collapse_under_their_parent_by_keyboard(board: Board) -> None:
    page = board.page
    await board.project("Home")
    move = await board.task("Move house", project="Home")
    pack = await board.task("Pack", parent_id=move["id"])
    books = await board.task("Pack the books", parent_id=pack["id"])
    movers = await board.task("Call the movers", parent_id=move["id"])
    await board.api("POST", f"/api/v1/tasks/{movers['id']}/complete")
    await board.pick("Home")
    parent = board.row(move)
    disclosure = parent.locator(":scope > .task-line .task-expand")
    await expect(parent.locator(":scope > .task-line .task-subtask-count")).to_contain_text("1/2")
    await expect(disclosure).to_have_attribute("aria-expanded", "false")
    await expect(board.row(pack)).to_have_count(0)

    await disclosure.focus()
    await page.keyboard.press("Enter")
    await expect(disclosure).to_have_attribute("aria-expanded", "true")
    await expect(parent.locator(":scope > .subtasks > li.task")).to_have_count(2)  # open and completed ones
    await expect(board.row(movers)).to_have_class(re.compile("completed"))
    asked = [q for q in board.lists if q.get("parent_id") == [str(move["id"])]]
    assert asked and asked[0]["status"] == ["open", "completed"], board.lists
    inner = board.row(pack).locator(":scope > .task-line .task-expand")
    await inner.focus()
    await page.keyboard.press("Space")
    await expect(board.row(books)).to_be_visible()  # the third level
    await expect(board.row(books)).to_have_attribute("data-depth", "3")

    await board.row(books).locator("input.task-done").check()  # a subtask completed stays under its parent
    await expect(board.row(books)).to_have_class(re.compile("completed"))
    await expect(board.row(pack).locator(":scope > .task-line .task-subtask-count")).to_contain_text("1/1")
    await board.eventually(books["id"], lambda t: t["status"] == "completed")

    await disclosure.focus()
    await page.keyboard.press("Enter")
    await expect(disclosure).to_have_attribute("aria-expanded", "false")
    await expect(board.row(pack)).to_have_count(0)


async def test_the_move_menu_moves_a_task_by_keyboard_and_shows_why_a_move_is_refused(board: Board) -> None:
    page = board.page
    await board.project("Errands")
    work = await board.project("Work")
    stamps = await board.task("Buy stamps", project="Errands")
    post = await board.task("Post office", project="Errands")
    await board.pick("Errands")

    await board.row(stamps).locator("input.task-done").focus()  # the row's controls show on focus
    move = board.row(stamps).get_by_role("button", name="Move Buy stamps")
    await move.focus()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("menuitem", name="Move to Inbox")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("menu")).to_have_count(0)
    await expect(move).to_be_focused()

    await page.keyboard.press("Enter")  # opens the menu; the first item is focused
    await page.keyboard.press("End")
    await expect(page.get_by_role("menuitem", name="Make subtask of…")).to_be_focused()
    await page.keyboard.press("Enter")
    picker = dialog(page).get_by_label("A task in Errands")
    await expect(picker).to_be_focused()
    await expect(picker.locator("option")).to_have_text(["Post office"])  # not itself
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # Make subtask
    await expect(toast(page)).to_contain_text("‘Buy stamps’ is now a subtask of ‘Post office’")
    await board.eventually(stamps["id"], lambda t: t["parent_id"] == post["id"])
    await expect(board.row(post).locator(":scope > .subtasks > li.task")).to_have_count(1)  # shown where it went

    await board.move_menu(stamps, "Make top-level")
    await board.eventually(stamps["id"], lambda t: t["parent_id"] is None)
    await expect(page.locator("#task-list > li.task")).to_have_count(2)

    await board.move_menu(stamps, "Move to Work")
    await expect(toast(page)).to_contain_text("Moved ‘Buy stamps’ to Work")
    await expect(board.row(stamps)).to_have_count(0)
    assert (await board.stored(stamps["id"]))["project_id"] == work["id"]
    await expect(board.nav("Work").locator(".project-count")).to_have_text("1")

    # A move the server refuses says why: the parent picked went under the task meanwhile (a cycle).
    monday = await board.task("Plan monday", project="Errands")
    await board.move_menu(post, "Make subtask of…")
    await expect(dialog(page).get_by_label("A task in Errands").locator("option")).to_have_text(["Plan monday"])
    await board.api("POST", f"/api/v1/tasks/{monday['id']}/move", json={"parent_id": post["id"]})
    await dialog(page).get_by_role("button", name="Make subtask").click()
    error = page.locator("#toasts .toast.error")
    await expect(error).to_contain_text("cannot go under task")
    await expect(error).to_contain_text("a cycle")
    assert (await board.stored(post["id"]))["parent_id"] is None


async def test_completing_a_parent_with_open_subtasks_asks_first(board: Board) -> None:
    page = board.page
    await board.project("Party")
    party = await board.task("Throw a party", project="Party")
    children = [await board.task(title, parent_id=party["id"]) for title in ("Invite friends", "Buy snacks")]
    await board.pick("Party")
    done = board.row(party).locator(":scope > .task-line input.task-done")
    # The list has caught up with both subtasks: a reload still on its way would redraw the row (and its
    # checkbox) under the click.
    await expect(board.row(party).locator(":scope > .task-line .task-subtask-count")).to_contain_text("0/2")

    await done.check()
    await expect(dialog(page).get_by_role("heading")).to_have_text("Complete the 2 open subtasks too?")
    await dialog(page).get_by_role("button", name="Leave it open").click()
    await expect(dialog(page)).to_have_count(0)
    await expect(done).not_to_be_checked()
    await expect(done).to_be_focused()
    assert (await board.stored(party["id"]))["status"] == "open"

    await done.check()
    await dialog(page).get_by_role("button", name="Complete all").click()
    await expect(toast(page)).to_contain_text("Completed ‘Throw a party’")
    await expect(board.row(party)).to_have_count(0)  # left the open tasks
    for task in (party, *children):
        assert (await board.stored(task["id"]))["status"] == "completed"


async def test_quick_add_files_a_task_into_the_project_its_hash_name_names(board: Board) -> None:
    page = board.page
    await expect(page.locator("#quick-hint")).to_contain_text("#name of one of your projects")
    await board.add_project("Shopping", "Green")
    await board.pick("All tasks")
    shopping = (await board.api("GET", "/api/v1/projects"))[1]
    await page.fill("#new-task-title", "bread #shopping #food")
    chips = page.locator("#quick-chips li.quick-chip")
    await expect(chips).to_have_text(["Project Shopping×", "#food×"])
    assert [await chip.get_attribute("data-kind") for chip in await chips.all()] == ["project", "tag"]
    await expect(chips.first.locator(".project-dot")).not_to_have_class(re.compile("plain"))  # its colour
    await page.press("#new-task-title", "Enter")
    await expect(toast(page)).to_contain_text("Added ‘bread’ to Shopping")
    row = task_row(page, "bread")
    await expect(row.locator(".task-project")).to_have_text("Shopping")
    created = await board.stored(int(await row.get_attribute("data-id") or 0))
    assert (created["project_id"], created["tags"]) == (shopping["id"], ["food"])

    await page.fill("#new-task-title", "paint #garden")  # no such project: a tag
    await expect(chips).to_have_text(["#garden×"])
    await expect(chips.first).to_have_attribute("data-kind", "tag")
    await board.pick("Shopping")  # without a #project, a task typed while a project is shown goes there
    await page.press("#new-task-title", "Enter")
    await expect(toast(page)).to_contain_text("Added ‘paint’")
    await expect(toast(page)).not_to_contain_text(" to ")
    painted = await board.stored(int(await task_row(page, "paint").get_attribute("data-id") or 0))
    assert (painted["project_id"], painted["tags"]) == (shopping["id"], ["garden"])
