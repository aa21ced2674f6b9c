"""List and search: filters, prefix full-text search alike on SQLite and PostgreSQL, stable sorts, opaque cursors."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, func, select

from domain.cursors import decode_cursor, encode_cursor
from domain.errors import InvalidCursor, InvalidInput
from domain.models import NO_DUE_KEY, Tag, Task, TaskTag
from domain.schemas import DueValue, ProjectRef, SortKey, SortOrder, TaskPage, TaskQuery
from domain.timeutil import day_bounds, local_midnight, parse_due
from domain.uow import Tx, UnitOfWork
from domain.usecases.common import Actor, Counts, subtask_counts, views
from domain.usecases.projects import find_project
from domain.usecases.text_search import text_filter
from domain.values import (
    COUNT_CAP,
    PAGE_DEFAULT,
    PAGE_MAX,
    SEARCH_TERMS_MAX,
    Priority,
    Status,
    StatusFilter,
    normalize_tag,
    words,
)

_FAR = NO_DUE_KEY  # due_key of tasks without a due: they sort last in both orders
_DEFAULT_ORDER = {"due": "asc", "priority": "desc", "created": "desc", "updated": "desc", "title": "asc"}


def task_query(
    *, status: list[StatusFilter] | None = None, priority: list[Priority] | None = None, tag: list[str] | None = None,
    tag_mode: Literal["any", "all"] = "any", due_before: str | None = None, due_after: str | None = None,
    overdue: bool | None = None, due_today: bool | None = None, has_due: bool | None = None, q: str | None = None,
    project: list[ProjectRef] | None = None, parent_id: int | None = None, top_level: bool | None = None,
    sort: SortKey = "due", order: SortOrder | None = None, limit: int = PAGE_DEFAULT, cursor: str | None = None,
) -> TaskQuery:
    """The TaskQuery of a list request as REST and MCP take it: a filter left out (None or an empty list) keeps
    TaskQuery's default, so "no status" lists open and completed tasks on every surface."""
    given: dict[str, Any] = {
        "status": status, "priority": priority, "tag": tag, "tag_mode": tag_mode, "due_before": due_before,
        "due_after": due_after, "overdue": overdue, "due_today": due_today, "has_due": has_due, "q": q,
        "project": project, "parent_id": parent_id, "top_level": top_level,
        "sort": sort, "order": order, "limit": limit, "cursor": cursor,
    }
    return TaskQuery(**{name: value for name, value in given.items() if value is not None and value != []})


async def list_tasks(uow: UnitOfWork, actor: Actor, query: TaskQuery | None = None) -> TaskPage:
    """A page of the actor's tasks matching the filters, with how many match (counted up to COUNT_CAP, so that a
    large result costs no more to count than a small one) and a cursor for the next page."""
    query = query or TaskQuery()
    if not 1 <= query.limit <= PAGE_MAX:
        raise InvalidInput(f"limit must be between 1 and {PAGE_MAX} (got {query.limit})", field="limit")
    order = query.order or _DEFAULT_ORDER[query.sort]
    terms = _search_terms(query.q)
    async with uow.read() as tx:
        where = _filters(tx, actor, query)
        if query.project:
            where.append(await _in_projects(tx, actor, query.project))
        if query.tag:
            where.append(await _tagged(tx, actor, [normalize_tag(t, "tag") for t in query.tag], query.tag_mode))
        text = await text_filter(tx, actor.id, terms) if terms else None
        key = _sort_key(query.sort, order)
        subtasks, open_subtasks = subtask_counts()
        stmt = select(Task, subtasks, open_subtasks).where(*where, *([text.page] if text else []))
        if query.cursor:
            stmt = stmt.where(_after(key, order, _decode(query, order)))
        direction = sa.asc if order == "asc" else sa.desc
        stmt = stmt.order_by(direction(key), direction(col(Task.id))).limit(query.limit + 1)
        found = (await tx.session.exec(stmt)).all()
        rows = [task for task, _, _ in found]
        counts = {task.id or 0: Counts(int(n or 0), int(o or 0)) for task, n, o in found}
        if query.cursor or len(rows) > query.limit:
            matching = select(sa.literal(1)).select_from(Task).where(*where)
            capped = (text.counting(matching) if text else matching).limit(COUNT_CAP + 1).subquery()
            total = int((await tx.session.exec(select(func.count()).select_from(capped))).one())
        else:
            total = len(rows)  # the whole result fits on this first page: no need to count it again
        page = rows[: query.limit]
        cursor = _encode(query, order, page[-1]) if len(rows) > query.limit else None
        return TaskPage(data=await views(tx, page, actor.tz, counts), count=min(total, COUNT_CAP),
                        count_exact=total <= COUNT_CAP, next_cursor=cursor)


async def search_tasks(
    uow: UnitOfWork, actor: Actor, text: str, *, limit: int = 20, cursor: str | None = None,
    status: list[StatusFilter] | None = None, project: list[ProjectRef] | None = None,
) -> TaskPage:
    """Tasks whose title or description contain every word of `text` as a prefix (case-insensitive), in any of
    the projects given."""
    if not words(text):
        raise InvalidInput("search text must contain at least one letter or digit, e.g. 'milk'", field="q")
    query = task_query(q=text, limit=limit, cursor=cursor, sort="updated", status=status, project=project)
    return await list_tasks(uow, actor, query)


async def _in_projects(tx: Tx, actor: Actor, refs: list[ProjectRef]) -> ColumnElement[bool]:
    """Tasks of any of the projects (ids or names); an unknown one is not found, as everywhere."""
    ids = list(dict.fromkeys([(await find_project(tx, actor, ref)).id or 0 for ref in refs]))
    return one_of(col(Task.project_id), ids)


def one_of(column: Any, values: list[Any]) -> ColumnElement[bool]:
    """`column = v` for one value, else `column IN (...)`: SQLAlchemy expands an IN list's parameters on every
    execution (8 % of a status+priority list's samples in the rest benchmark's py-spy profile, with one value
    each); an equality is compiled once and cached."""
    condition: ColumnElement[bool] = column == values[0] if len(values) == 1 else column.in_(values)
    return condition


def _filters(tx: Tx, actor: Actor, q: TaskQuery) -> list[ColumnElement[bool]]:
    tz = actor.tz
    out: list[ColumnElement[bool]] = [col(Task.owner_id) == actor.id, _status(q.status)]
    if q.priority:
        out.append(one_of(col(Task.priority), list(dict.fromkeys(Priority.parse(p).rank for p in q.priority))))
    if q.due_before is not None:
        out.append(col(Task.due_key) < _bound(q.due_before, tz, "due_before", after=False, now=tx.now))
    if q.due_after is not None:
        out.append(col(Task.due_key) >= _bound(q.due_after, tz, "due_after", after=True, now=tx.now))
    now = tx.now
    today = now.astimezone(tz).date()
    if q.overdue is not None:
        out.append(_overdue(now, today) if q.overdue else sa.not_(_overdue(now, today)))
    if q.due_today is not None:
        out.append(_due_on(today, tz) if q.due_today else sa.not_(_due_on(today, tz)))
    if q.has_due is not None:
        out.append(col(Task.due_key).is_not(None) if q.has_due else col(Task.due_key).is_(None))
    if q.parent_id is not None:
        out.append(col(Task.parent_id) == q.parent_id)
    if q.top_level is not None:
        out.append(col(Task.parent_id).is_(None) if q.top_level else col(Task.parent_id).is_not(None))
    return out


def _search_terms(text: str | None) -> list[str]:
    """The words of `q` a list searches for (none without `q`); InvalidInput past 500 characters or 12 words."""
    if text is None:
        return []
    if len(text) > 500:
        raise InvalidInput("search text is at most 500 characters", field="q")
    terms = words(text)
    if len(terms) > SEARCH_TERMS_MAX:
        raise InvalidInput(f"search takes at most {SEARCH_TERMS_MAX} words (got {len(terms)}); "
                           "use the most distinctive ones", field="q")
    return terms


def _status(statuses: list[StatusFilter]) -> ColumnElement[bool]:
    wanted = set(statuses) or {StatusFilter.OPEN, StatusFilter.COMPLETED}
    live = [s.value for s in wanted if s != StatusFilter.DELETED]
    parts: list[ColumnElement[bool]] = []
    if live:
        parts.append(sa.and_(col(Task.deleted_at).is_(None), one_of(col(Task.status), sorted(live))))
    if StatusFilter.DELETED in wanted:
        parts.append(col(Task.deleted_at).is_not(None))
    return sa.or_(*parts)


async def _tagged(tx: Tx, actor: Actor, names: list[str], mode: str) -> ColumnElement[bool]:
    """Tasks carrying any (or all) of the tags, as a correlated EXISTS on the tags' ids, looked up first: with the
    ids as literals PostgreSQL's planner knows from its statistics how common a tag is, and for a common one walks
    the due index with a probe per task (~0.3 ms over 10,000 tasks) instead of joining and sorting every tagged
    task (~6 ms), which it does when the ids come from a join it cannot estimate."""
    wanted = set(names)
    ids = list((await tx.session.exec(
        select(Tag.id).where(Tag.owner_id == actor.id, col(Tag.name).in_(sorted(wanted)))
    )).all())
    if not ids or (mode == "all" and len(ids) < len(wanted)):
        return sa.false()  # a tag nobody carries (or, for "all", one of them): nothing matches
    carrying = select(func.count()).select_from(TaskTag).where(
        col(TaskTag.task_id) == Task.id, one_of(col(TaskTag.tag_id), sorted(i for i in ids if i is not None))
    )
    if mode == "all":
        return carrying.scalar_subquery() == len(ids)
    return sa.exists(carrying.with_only_columns(sa.literal(1)))


def _bound(value: DueValue, tz: ZoneInfo, field: str, *, after: bool, now: datetime) -> int:
    """A due filter bound as a due_key: a date means the whole local day (after it / before it)."""
    try:
        due = parse_due(value, tz, now)
    except InvalidInput as exc:
        raise type(exc)(exc.message.replace("due date", field), field=field) from None
    if due.day is not None:
        day = due.day + timedelta(days=1) if after else due.day
        return int(local_midnight(day, tz).timestamp())
    assert due.at is not None
    return int(due.at.timestamp()) + (1 if after else 0)


def _overdue(now: datetime, today: date) -> ColumnElement[bool]:
    """Open, and past its moment, or past the end of its all-day date in the user's timezone.

    An all-day task's due_key is its local midnight, so `due_key < now` holds for both kinds; the all-day date
    check then drops tasks due today. The bound is on the due sort key (`coalesce(due_key, far)`, which is below
    `now` only when due_key is), so ix_task_live_due serves the range in due order: SQLite then reads the first
    page's rows and stops, where a bound on due_key alone sent it to ix_task_live_status_due and a sort of every
    overdue task (17 ms at 100,000 tasks of one user against 5 ms).
    """
    return sa.and_(
        col(Task.status) == Status.OPEN.value,
        _sort_key("due", "asc") < int(now.timestamp()),
        sa.or_(col(Task.all_day).is_(False), col(Task.due_date) < today),
    )


def _due_on(day: date, tz: ZoneInfo) -> ColumnElement[bool]:
    start, end = day_bounds(day, tz)
    # Never NULL (a task without a due is not due today), so that NOT(...) keeps tasks without a due.
    # An all-day task due that day has its due_key at the day's start, so one due_key range serves both kinds.
    return sa.and_(
        col(Task.due_key).is_not(None),
        col(Task.due_key) >= int(start.timestamp()),
        col(Task.due_key) < int(end.timestamp()),
        sa.or_(col(Task.all_day).is_(False), col(Task.due_date) == day),
    )


def _sort_key(sort: str, order: str) -> ColumnElement[Any]:
    if sort == "due":
        # A literal, not a parameter, so the expression matches the ix_task_live_due index on both databases;
        # BIGINT because the cursor's bound for tasks without a due is beyond PostgreSQL's INTEGER.
        far = sa.literal_column(str(_FAR if order == "asc" else -_FAR), sa.BigInteger)
        return func.coalesce(col(Task.due_key), far, type_=sa.BigInteger)
    columns: dict[str, Any] = {
        "priority": col(Task.priority),
        "created": col(Task.created_at),
        "updated": col(Task.updated_at),
        "title": col(Task.title_key),
    }
    key: ColumnElement[Any] = columns[sort]
    return key


def _after(key: ColumnElement[Any], order: str, position: tuple[Any, int]) -> ColumnElement[bool]:
    value, task_id = position
    if order == "asc":
        return sa.or_(key > value, sa.and_(key == value, col(Task.id) > task_id))
    return sa.or_(key < value, sa.and_(key == value, col(Task.id) < task_id))


def _fingerprint(query: TaskQuery, order: str) -> str:
    body = query.model_dump(mode="json", exclude={"cursor", "limit", "order"})
    body["order"] = order
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _key_value(query: TaskQuery, order: str, task: Task) -> Any:
    if query.sort == "due":
        return task.due_key if task.due_key is not None else (_FAR if order == "asc" else -_FAR)
    if query.sort in ("created", "updated"):
        stamp = task.created_at if query.sort == "created" else task.updated_at
        return stamp.isoformat()
    return task.priority if query.sort == "priority" else task.title_key


def _encode(query: TaskQuery, order: str, last: Task) -> str:
    return encode_cursor({"f": _fingerprint(query, order), "k": _key_value(query, order, last), "i": last.id})


def _decode(query: TaskQuery, order: str) -> tuple[Any, int]:
    message = "cursor is not valid for this query: pass back next_cursor unchanged, with the same filters and sort"
    bad = InvalidCursor(message, field="cursor")
    body = decode_cursor(query.cursor or "", message)
    try:
        key, task_id = body["k"], int(body["i"])
        if body["f"] != _fingerprint(query, order):
            raise bad
        if query.sort in ("created", "updated"):
            key = datetime.fromisoformat(key)
        elif query.sort in ("due", "priority") and not isinstance(key, int):
            raise bad
        elif query.sort == "title" and not isinstance(key, str):
            raise bad
        return key, task_id
    except (ValueError, KeyError, TypeError):
        raise bad from None
