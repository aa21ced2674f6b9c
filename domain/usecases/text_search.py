"""Prefix full-text search, alike on SQLite and PostgreSQL: what a list adds to its page query and to its count
for `q`, every word a prefix of a word of the title or description.

PostgreSQL matches `to_tsvector('simple', search_text)` against `w:*` terms (its GIN index). SQLite has the FTS5
index task_fts (migration 0006), which answers a match as a doclist in rowid order, while a page is in due or
updated order. Taking every match and sorting it costs what the doclist holds: fine for a rare word, linear in the
user's tasks for a common one ("the" in half of 100,000 tasks: 65 ms). So SQLite picks by how common the words
are, counted cheaply first (FTS_COMMON matches at most):
- rare: the page takes the task ids of the doclist (`id IN (SELECT rowid FROM task_fts ...)`) and sorts them;
- common: the page walks its order's index and tests each row's search_text (`instr`), stopping at one page, as
  one match in FTS_COMMON / (the user's tasks) rows or more is one.
The count joins task_fts to task either way, so SQLite streams the doclist and stops at COUNT_CAP + 1 matches.
At 100,000 tasks of one user (bench datasets) "the" takes 9 ms instead of 65, "review" (6 % of tasks) 6 instead of
20; a rare word stays at 2-3 ms. What still grows with the data: a prefix's doclist is merged whole before it is
read (FTS5 builds it from every term the prefix expands to), so two common words cost ~10 ms at 100,000 tasks
against ~4 at 10,000; a wider prefix index (prefix='1 2 3 4') would serve short prefixes ready-made.
Both tests agree: search_text is the `words()` of the task joined by single spaces, and the terms are `words()`,
which FTS5's unicode61 tokenizer (without diacritics removal) keeps whole, so "a term is a prefix of a token" is
"' ' + term occurs in ' ' + search_text".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, func, select

from domain.models import Task
from domain.uow import Tx

# Matches (at least) that make the words common: the page walks its index instead of sorting them. Measured at
# 10,000 and 100,000 tasks of one user: below ~500 matches sorting them is cheaper, above it walking the index.
FTS_COMMON = 500

S = TypeVar("S", bound=Select[Any])

_FTS = sa.table("task_fts", sa.column("rowid", sa.Integer))
_FTS_MATCH = sa.literal_column("task_fts").op("MATCH")


@dataclass(frozen=True)
class TextFilter:
    """The page query's condition for the words, and how the count query finds the matches."""

    page: ColumnElement[bool]
    match: str | None = None  # SQLite: the FTS5 query the count joins; None: the count uses `page` too

    def counting(self, stmt: S) -> S:
        """`stmt` (a count's rows) narrowed to the matches."""
        if self.match is None:
            return stmt.where(self.page)
        return stmt.join(_FTS, _FTS.c.rowid == col(Task.id)).where(_FTS_MATCH(self.match))


async def text_filter(tx: Tx, owner_id: int, terms: list[str]) -> TextFilter:
    """The filter of tasks of `owner_id` whose words have every term as a prefix."""
    if tx.dialect == "postgresql":
        tsquery = " & ".join(f"{t}:*" for t in terms)
        vector = func.to_tsvector(sa.literal_column("'simple'::regconfig"), col(Task.search_text))
        return TextFilter(vector.op("@@")(func.to_tsquery(sa.literal_column("'simple'::regconfig"), tsquery)))
    match = fts_match(owner_id, terms)
    if await _matches_at_least(tx, match, FTS_COMMON):
        spaced = sa.literal(" ") + col(Task.search_text)
        return TextFilter(sa.and_(*(func.instr(spaced, f" {term}") > 0 for term in terms)), match)
    ids = sa.select(_FTS.c.rowid).where(_FTS_MATCH(match))
    return TextFilter(col(Task.id).in_(ids), match)


async def _matches_at_least(tx: Tx, match: str, n: int) -> bool:
    """Whether the FTS5 query has `n` matches or more (reads at most `n` rowids of its doclist)."""
    first = sa.select(_FTS.c.rowid).where(_FTS_MATCH(match)).limit(n).subquery()
    return int((await tx.session.exec(select(func.count()).select_from(first))).one()) >= n


def fts_match(owner_id: int, terms: list[str]) -> str:
    """The SQLite FTS5 query: the owner's token AND every term as a prefix of a search_text word.

    The owner column (migration 0006) holds the owner's id; AND seeks through the short doclist of one owner, so
    the cost follows the caller's tasks, not every tenant's. Terms are `words()`, so they never hold a quote.
    """
    prefixes = " AND ".join(f'"{t}"*' for t in terms)
    return f'owner_id : "{owner_id}" AND search_text : ({prefixes})'
