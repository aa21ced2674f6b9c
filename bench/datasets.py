"""Datasets shared by the benchmarks: a vocabulary with a Zipf distribution, users with thousands of tasks
bulk-inserted with SQLAlchemy Core (their derived keys computed by the domain's own `set_text`/`set_due`, SQLite's
FTS triggers filling task_fts, then ANALYZE), search terms drawn from the data, and new tasks to create.

Each user has the Inbox and 8 projects; tasks fall into them Zipf-like (the Inbox and the first project hold about
two thirds), and about 15 % of the tasks are subtasks of an earlier task of the same project (at most 3 levels).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import random
import time
import types
from collections import Counter
from typing import Any

import sqlalchemy as sa

from bench.harness import Backend
from domain.models import Project, Tag, Task, TaskTag
from domain.schemas import TaskCreate
from domain.timeutil import Due, zone
from domain.usecases import Actor, create_user
from domain.usecases.common import set_due, set_text
from domain.values import SUBTASK_DEPTH_MAX, Priority, project_key

SEED = 20261126

# --------------------------------------------------------------------------------------------------- vocabulary

_STOP = "the to for and a of with on in at from my about before after".split()
_WORDS = """
call email buy pay book send check fix review update plan write read clean order schedule prepare finish
meeting report invoice doctor dentist groceries milk bread coffee car insurance tax return rent bill
project deadline presentation slides budget client contract proposal draft notes agenda team manager
birthday gift party dinner lunch flight hotel trip passport visa ticket train bus office home garden
kitchen laundry dishes vacuum bathroom window door paint repair plumber electrician bank account
password backup laptop phone printer server deploy release bug feature test code database migration
design document spec issue ticket sprint standup retro demo customer support refund shipping package
return pickup delivery appointment vet dog cat school homework teacher parents kids soccer practice
gym run yoga swim bike walk doctor pharmacy prescription vitamins medicine blood pressure insurance
renew license registration subscription cancel netflix spotify amazon ebay sell donate clothes shoes
jacket winter summer holiday christmas easter thanksgiving wedding anniversary mom dad sister brother
grandma friend neighbor colleague boss interview resume portfolio course lesson exam study research
article blog newsletter podcast video photo album print frame camera music guitar piano concert tickets
restaurant reservation recipe cook bake cake pizza salad soup vegetables fruit apples bananas eggs cheese
chicken fish rice pasta beans water filter batteries lightbulb toolbox screws hammer drill shelf desk
chair lamp sofa bed mattress curtains rug plants seeds fertilizer lawn mower hedge fence roof gutter
""".split()
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["qua", "sho", "tri", "ble", "cro", "xen"]
_TAGS = """
work home personal errands finance health family shopping urgent-ish someday waiting calls email
reading travel car house garden kids school fitness music projects admin taxes ideas weekend
office computer learning social
""".split()
# The projects of every user besides the Inbox, ranked for a Zipf draw after it (s = 1.4: Inbox ~48 %, Work ~18 %).
_PROJECTS = ["Work", "Home", "Errands", "Side project", "Health", "Finance", "Travel", "Garden"]
PROJECT_ZIPF = 1.4
SUBTASK_SHARE = 0.15
PARENT_WINDOW = 40  # a subtask's parent is one of the last tasks of its project that can still take one


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Stop words first, then real task words, then a long tail of made-up words: ranked for a Zipf draw."""
    seen: set[str] = set()
    out: list[str] = []
    for w in [*_STOP, *_WORDS]:
        if w not in seen:
            seen.add(w)
            out.append(w)
    while len(out) < size:
        w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def zipf_weights(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1 / (r**s) for r in range(1, n + 1)))


# --------------------------------------------------------------------------------------------------- datasets


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    key: str
    users: int
    per_user: int

    @property
    def label(self) -> str:
        total = self.users * self.per_user
        return f"{total:,} tasks of {self.users} user{'s' if self.users > 1 else ''}"


@dataclasses.dataclass
class Dataset:
    spec: DatasetSpec
    actors: list[Actor]
    live_ids: dict[int, list[int]]  # per owner: tasks not in the trash
    tags: dict[int, list[str]]  # per owner: tag names, most used first
    projects: dict[int, list[int]]  # per owner: project ids, the Inbox first, then by live tasks, most first
    df: dict[int, Counter[str]]  # per owner: in how many tasks each word occurs
    load_seconds: float
    rows: int
    load_before: float = 0.0


_TIMEZONES = ["Europe/Berlin", "America/New_York", "UTC", "Asia/Tokyo", "America/Los_Angeles"]


async def load_dataset(backend: Backend, spec: DatasetSpec, rng: random.Random) -> Dataset:
    """Create the users with the use case, then bulk-insert their tasks, tags and task tags, then ANALYZE."""
    t0 = time.perf_counter()
    actors = []
    for u in range(spec.users):
        tzname = _TIMEZONES[u % len(_TIMEZONES)]
        user = await create_user(backend.uow, f"bench-{u}-{rng.getrandbits(32):x}@example.com", timezone=tzname)
        actors.append(Actor(id=user.id, timezone=user.timezone))

    vocab = vocabulary(4000, rng)
    vocab_w = zipf_weights(len(vocab), 1.05)
    tag_w = zipf_weights(len(_TAGS), 1.0)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    tag_rows: list[dict[str, Any]] = []
    tag_ids: dict[tuple[int, str], int] = {}
    for actor in actors:
        for name in _TAGS:
            tag_ids[(actor.id, name)] = len(tag_rows) + 1
            tag_rows.append({"id": len(tag_rows) + 1, "owner_id": actor.id, "name": name})

    project_rows, projects = await _projects(backend, actors, now)
    project_w = zipf_weights(len(_PROJECTS) + 1, PROJECT_ZIPF)
    # per (owner, project): recent tasks that may take a subtask, as (id, depth, completed)
    parents: dict[tuple[int, int], list[tuple[int, int, bool]]] = {}
    project_use: dict[int, Counter[int]] = {a.id: Counter() for a in actors}

    total = spec.users * spec.per_user
    owners = [a for a in actors for _ in range(spec.per_user)]
    rng.shuffle(owners)  # users' tasks interleave on disk, as they would in real use
    span = dt.timedelta(days=180)
    task_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    live: dict[int, list[int]] = {a.id: [] for a in actors}
    df: dict[int, Counter[str]] = {a.id: Counter() for a in actors}
    tag_use: dict[int, Counter[str]] = {a.id: Counter() for a in actors}
    for i, actor in enumerate(owners):
        task_id = i + 1
        tz = zone(actor.timezone)
        title_words = rng.choices(vocab, cum_weights=vocab_w, k=rng.randint(2, 8))
        title = " ".join(title_words).capitalize()
        description = ""
        if rng.random() < 0.45:
            description = " ".join(rng.choices(vocab, cum_weights=vocab_w, k=rng.randint(4, 30))) + "."
        row = types.SimpleNamespace()  # set_text / set_due only set attributes: reuse them as they are
        set_text(row, title, description)  # type: ignore[arg-type]
        due: Due | None = None
        if rng.random() < 0.70:
            moment = now + dt.timedelta(minutes=15 * rng.randint(-60 * 96, 60 * 96))
            due = Due(day=moment.astimezone(tz).date()) if rng.random() < 0.25 else Due(at=moment)
        set_due(row, due, tz)  # type: ignore[arg-type]
        created = now - span + span * (i / total) + dt.timedelta(seconds=rng.randint(0, 600))
        created = min(created, now)
        updated = min(now, created + dt.timedelta(minutes=rng.choice((0, 0, 5, 90, 3000, 20000))))
        status, completed_at, deleted_at = "open", None, None
        if rng.random() < 0.30:
            status = "completed"
            completed_at = min(now, updated + dt.timedelta(minutes=rng.randint(1, 5000)))
            updated = completed_at
        if rng.random() < 0.02:
            deleted_at = min(now, updated + dt.timedelta(minutes=rng.randint(1, 5000)))
            updated = deleted_at
        recurring = rng.random() < 0.03 and due is not None
        project_id = rng.choices(projects[actor.id], cum_weights=project_w)[0]
        parent_id, depth = None, 1
        candidates = parents.setdefault((actor.id, project_id), [])
        if candidates and rng.random() < SUBTASK_SHARE:
            parent_id, parent_depth, parent_done = rng.choice(candidates)
            depth = parent_depth + 1
            if parent_done and status == "open":  # an open subtask under a completed parent is unusual
                status, completed_at, updated = "completed", updated, updated
        if deleted_at is None and depth < SUBTASK_DEPTH_MAX:
            candidates.append((task_id, depth, status == "completed"))
            del candidates[:-PARENT_WINDOW]
        task_rows.append({
            **vars(row),
            "id": task_id, "owner_id": actor.id, "status": status, "project_id": project_id, "parent_id": parent_id,
            "priority": rng.choices(range(5), weights=(45, 20, 18, 11, 6))[0],
            "reminders": rng.choice(([], [], [], [15], [60, 1440])) if due else [],
            "recurrence_rule": "weekly" if recurring else None,
            "recurrence_mode": "due" if recurring else None,
            "series_id": task_id if recurring else None,
            "created_at": created, "updated_at": updated, "completed_at": completed_at, "deleted_at": deleted_at,
            "version": 1 + (updated > created) + (status == "completed") + (deleted_at is not None),
        })
        names = set(rng.choices(_TAGS, cum_weights=tag_w, k=rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]))
        for name in names:
            link_rows.append({"task_id": task_id, "tag_id": tag_ids[(actor.id, name)]})
        if deleted_at is None:
            live[actor.id].append(task_id)
            df[actor.id].update(set(row.search_text.split()))
            tag_use[actor.id].update(names)
            project_use[actor.id][project_id] += 1

    async with backend.db.engine.begin() as conn:
        await conn.execute(sa.insert(Project.__table__), project_rows)  # type: ignore[attr-defined]
        await conn.execute(sa.insert(Tag.__table__), tag_rows)  # type: ignore[attr-defined]
        for chunk in chunks(task_rows, 5000):
            await conn.execute(sa.insert(Task.__table__), chunk)  # type: ignore[attr-defined]
        for chunk in chunks(link_rows, 20000):
            await conn.execute(sa.insert(TaskTag.__table__), chunk)  # type: ignore[attr-defined]
        if not backend.db.sqlite:
            for name in ("task", "tag", "project"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
    await analyze(backend)
    tags = {a: [name for name, _ in counts.most_common()] for a, counts in tag_use.items()}
    ranked = {a: [ids[0], *sorted(ids[1:], key=lambda p: -project_use[a][p])] for a, ids in projects.items()}
    return Dataset(spec, actors, live, tags, ranked, df, time.perf_counter() - t0, total)


async def _projects(backend: Backend, actors: list[Actor], now: dt.datetime
                    ) -> tuple[list[dict[str, Any]], dict[int, list[int]]]:
    """The rows of every user's 8 projects (ids after the existing ones) and, per user, the Inbox (made by
    create_user) and those ids in _PROJECTS order."""
    async with backend.db.engine.connect() as conn:
        table = Project.__table__  # type: ignore[attr-defined]
        found = await conn.execute(sa.select(table.c.owner_id, table.c.id).where(table.c.is_inbox))
        inboxes: dict[int, int] = dict(found.tuples().all())
        start = int((await conn.execute(sa.select(sa.func.max(table.c.id)))).scalar() or 0)
    rows: list[dict[str, Any]] = []
    ids: dict[int, list[int]] = {}
    for actor in actors:
        ids[actor.id] = [inboxes[actor.id]]
        for name in _PROJECTS:
            start += 1
            rows.append({"id": start, "owner_id": actor.id, "name": name, "name_key": project_key(name),
                         "is_inbox": False, "created_at": now, "updated_at": now, "version": 1})
            ids[actor.id].append(start)
    return rows, ids


async def analyze(backend: Backend) -> None:
    """Refresh the planner's statistics after a bulk load (ANALYZE; VACUUM ANALYZE on PostgreSQL)."""
    async with backend.db.engine.connect() as conn:
        if backend.db.sqlite:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
        else:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql("VACUUM ANALYZE")


def chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


# --------------------------------------------------------------------------------------------------- picks


def pick_words(df: Counter[str]) -> dict[str, str]:
    """Search terms chosen from the data: a common content word, a rare one, and mid-frequency pairs."""
    ranked = [w for w, _ in df.most_common() if w not in _STOP and len(w) >= 3 and not w.isdigit()]
    rare = next((w for w, c in reversed(df.most_common()) if 4 <= c <= 12 and len(w) >= 5), ranked[-1])
    mid = ranked[8:40]
    return {
        "common": ranked[0], "rare": rare, "stop": _STOP[0],
        "one": mid[0], "two": f"{mid[1]} {mid[5]}",
        "prefix2": f"{mid[2][:4]} {mid[6][:3]}",
    }


def new_task(rng: random.Random, tags: list[str], today: dt.date) -> TaskCreate:
    vocab = _WORDS
    due: str | None = None
    if rng.random() < 0.7:
        day = today + dt.timedelta(days=rng.randint(-5, 30))
        due = day.isoformat() if rng.random() < 0.3 else f"{day.isoformat()}T{rng.randint(7, 20):02d}:00"
    return TaskCreate(
        title=" ".join(rng.choices(vocab, k=rng.randint(2, 7))).capitalize(),
        description=" ".join(rng.choices(vocab, k=rng.randint(0, 20))),
        priority=rng.choice(list(Priority)),
        tags=rng.sample(tags[:15], k=rng.choice((0, 1, 1, 2, 3))),
        due_at=due,
    )
