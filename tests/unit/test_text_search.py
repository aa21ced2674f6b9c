"""Full-text search on SQLite takes one of two plans by how common the words are (domain.usecases.text_search):
the FTS5 doclist sorted (rare words) or the page's index walked with an `instr` test per row (common words).
Both must find the same tasks, in the same order, with the same counts and cursors; these tests force each plan
on one corpus and compare them, and check against hand-written answers so that both cannot be wrong alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from domain.schemas import TaskCreate, TaskQuery
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, delete_task, list_tasks, text_search

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL has one plan (GIN)

CORPUS = [
    ("Review the report", ""),
    ("Preview the slides", "for the review meeting"),
    ("Reviewing budget", ""),
    ("Café visit", ""),
    ("cafe run", "the usual"),
    ("Straße fegen", ""),
    ("Plan the order", ""),
    ("plan trip", "order tickets"),
    ("ticket_42", ""),
    ("x² homework", ""),
    ("ΣΊΣΥΦΟΣ", "stone"),
]
QUERIES = ["rev", "review", "pre", "caf", "café", "strasse", "straße", "plan ord", "ord plan", "42", "ticket",
           "x2", "σίσυφος", "the", "t", "zzz", "the rev"]
SORTS = ["due", "updated", "title", "created"]


@pytest.fixture
async def corpus(uow: UnitOfWork, actor: Actor, other: Actor) -> dict[str, int]:
    """The actor's tasks by title, plus a deleted one and another user's, both matching "review"."""
    ids = {}
    for n, (title, description) in enumerate(CORPUS):
        due = f"2031-0{1 + n % 9}-1{n % 10}T09:00:00+00:00" if n % 3 else None
        ids[title] = (await create_task(uow, actor, TaskCreate(title=title, description=description, due_at=due))).id
    gone = await create_task(uow, actor, TaskCreate(title="review the trash"))
    await delete_task(uow, actor, gone.id)
    await create_task(uow, other, TaskCreate(title="Review someone else's report"))
    return ids


def plan(monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    """Force a plan: "common" whenever a word matches at all, "rare" always."""
    monkeypatch.setattr(text_search, "FTS_COMMON", 1 if which == "common" else 10**9)


async def walk(uow: UnitOfWork, actor: Actor, q: str, sort: str, limit: int) -> tuple[list[int], list[int]]:
    """Every page of a search: the ids in order, and the count each page gave."""
    ids: list[int] = []
    counts: list[int] = []
    cursor = None
    while True:
        page = await list_tasks(uow, actor, TaskQuery(q=q, sort=sort, limit=limit, cursor=cursor))
        ids += [t.id for t in page.data]
        counts.append(page.count)
        if page.next_cursor is None:
            return ids, counts
        cursor = page.next_cursor


async def test_both_plans_find_the_same_tasks_in_the_same_order_with_the_same_counts(
    uow: UnitOfWork, actor: Actor, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: dict[str, dict[Any, Any]] = {"rare": {}, "common": {}}
    for which in answers:
        plan(monkeypatch, which)
        for q in QUERIES:
            for sort in SORTS:
                for limit in (2, 20):
                    answers[which][q, sort, limit] = await walk(uow, actor, q, sort, limit)
    assert answers["common"] == answers["rare"]


@pytest.mark.parametrize("which", ["rare", "common"])
async def test_each_plan_matches_word_prefixes_only(
    uow: UnitOfWork, actor: Actor, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    plan(monkeypatch, which)

    async def titles(q: str) -> set[str]:
        ids, _ = await walk(uow, actor, q, "due", 20)
        return {title for title, i in corpus.items() if i in ids}

    assert await titles("rev") == {"Review the report", "Preview the slides", "Reviewing budget"}  # "review" in a
    assert await titles("pre") == {"Preview the slides"}  # description; "preview" is not a word starting "rev"
    assert await titles("caf") == {"Café visit", "cafe run"}
    assert await titles("café") == {"Café visit"}  # diacritics are kept
    assert await titles("strasse") == await titles("straße") == {"Straße fegen"}  # case folding
    assert await titles("ord plan") == {"Plan the order", "plan trip"}  # every word, in any order
    assert await titles("42") == {"ticket_42"}  # "_" separates words
    assert await titles("ticket") == {"ticket_42", "plan trip"}
    assert await titles("x2") == {"x² homework"}
    assert await titles("σίσυφος") == {"ΣΊΣΥΦΟΣ"}
    assert await titles("zzz") == set()


@pytest.fixture
def page_statements(uow: UnitOfWork) -> Iterator[list[str]]:
    """The SQL of every page query (the one selecting the task's columns) run while the test runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # noqa: ANN001
        if statement.startswith("SELECT task.id, task.owner_id"):
            seen.append(statement)

    event.listen(uow.db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(uow.db.engine.sync_engine, "before_cursor_execute", record)


async def test_common_words_walk_the_index_and_rare_ones_take_the_doclist(
    uow: UnitOfWork, actor: Actor, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch,
    page_statements: list[str],
) -> None:
    """With FTS_COMMON = 3: "the" (in five tasks) is common, "caf" (two) is rare."""
    monkeypatch.setattr(text_search, "FTS_COMMON", 3)
    await list_tasks(uow, actor, TaskQuery(q="the"))
    await list_tasks(uow, actor, TaskQuery(q="caf"))
    common, rare = page_statements
    assert "instr(" in common and "task_fts" not in common
    assert "task_fts MATCH" in rare and "instr(" not in rare
