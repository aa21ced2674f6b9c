"""Value types and limits of the task model."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator

from domain.errors import InvalidInput

TITLE_MAX = 500
DESCRIPTION_MAX = 10_000
TAGS_PER_TASK_MAX = 20
TAG_LENGTH_MAX = 50
REMINDERS_MAX = 10
REMINDER_OFFSET_MAX = 60 * 24 * 28  # four weeks before due, in minutes
BULK_MAX = 50
PAGE_DEFAULT = 20
PAGE_MAX = 100
# A list counts its matches up to this many: counting all of a large result would cost more than the page itself.
COUNT_CAP = 1000
ID_MAX = 2**31 - 1  # ids are 32-bit integers on both databases
RULE_MAX = 200  # characters of a recurrence rule, the size of its column
SEARCH_TERMS_MAX = 12  # words in one search: each is a prefix scan of the index
DATE_MIN = date(1900, 1, 1)  # the dates a task, filter or rule may name; beyond them time zone arithmetic overflows
DATE_MAX = date(2200, 12, 31)
PROJECT_NAME_MAX = 100
PROJECTS_FILTER_MAX = 20  # projects one list may filter by
INBOX_NAME = "Inbox"
SUBTASK_DEPTH_MAX = 3  # a task, its subtask and the subtask's subtask


def no_nul(value: str) -> str:
    """The string unchanged, unless it holds a NUL character (PostgreSQL text cannot store one)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    return value


Text = Annotated[str, AfterValidator(no_nul)]  # every string that comes from outside: refuses NUL on both databases


def at_most(limit: int, noun: str, field: str) -> Callable[[Any], Any]:
    """A before-validator capping a list's length, raising InvalidInput before a single item is validated."""

    def check(value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > limit:
            raise InvalidInput(f"at most {limit} {noun} per call (got {len(value)})", field=field)
        return value

    return check


class Status(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class StatusFilter(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    DELETED = "deleted"


class Priority(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_ORDER.index(self)

    @classmethod
    def from_rank(cls, rank: int) -> Priority:
        return _PRIORITY_ORDER[rank]

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise InvalidInput(
                f"priority must be one of {', '.join(p.value for p in cls)} (got {value!r})", field="priority"
            ) from None


_PRIORITY_ORDER = list(Priority)

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Case-folded words of a text: what full-text search indexes and matches, alike on both databases."""
    # NFKC first and last: 'é' typed as e + U+0301 stays one letter (the mark alone would split the word), and
    # compatibility forms ('x²', 'ＦＵＬＬ', 'ﬁ') become plain characters that both databases tokenize alike.
    return _WORD.findall(unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()))


def check_title(title: str) -> str:
    """Trim a title and enforce 1..500 characters."""
    title = title.strip()
    if not title:
        raise InvalidInput("title must not be empty", field="title")
    if len(title) > TITLE_MAX:
        raise InvalidInput(f"title must be at most {TITLE_MAX} characters (got {len(title)})", field="title")
    return title


def check_description(description: str | None) -> str:
    """Enforce the description length (at most 10,000 characters)."""
    description = description or ""
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"description must be at most {DESCRIPTION_MAX} characters (got {len(description)})",
            field="description",
        )
    return description


def normalize_tag(tag: str, field: str = "tags") -> str:
    """Lower-case and trim a tag; refuse empty or longer than 50 characters."""
    name = " ".join(str(tag).split()).lower().lstrip("#")
    if not name:
        raise InvalidInput("a tag must not be empty", field=field)
    if len(name) > TAG_LENGTH_MAX:
        raise InvalidInput(
            f"tag {name[:20]!r}... is {len(name)} characters; tags are at most {TAG_LENGTH_MAX}", field=field
        )
    return name


def normalize_tags(tags: Iterable[str] | None, *, limit: int = TAGS_PER_TASK_MAX) -> list[str]:
    """Normalize and de-duplicate tags, keeping their order; fails at the first tag past `limit` distinct ones."""
    out: dict[str, None] = {}  # an ordered set: linear in the input, unlike `name not in list`
    for tag in tags or []:
        out[normalize_tag(tag)] = None
        if len(out) > limit:
            raise InvalidInput(f"a task has at most {limit} tags (got more than {limit})", field="tags")
    return list(out)


def normalize_reminders(offsets: list[int] | None) -> list[int]:
    """Reminder offsets in minutes before due: unique, sorted, 0..40320, at most 10."""
    for minutes in offsets or []:
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise InvalidInput("reminders are whole minutes before the due time, e.g. [0, 60]", field="reminders")
    out = sorted(set(offsets or []))
    for minutes in out:
        if not 0 <= minutes <= REMINDER_OFFSET_MAX:
            raise InvalidInput(
                f"a reminder offset must be between 0 and {REMINDER_OFFSET_MAX} minutes before due "
                f"(got {minutes})",
                field="reminders",
            )
    if len(out) > REMINDERS_MAX:
        raise InvalidInput(f"a task has at most {REMINDERS_MAX} reminders (got {len(out)})", field="reminders")
    return out


def check_project_name(name: str, field: str = "name") -> str:
    """Trim a project name (inner runs of spaces become one) and enforce 1..100 characters."""
    name = " ".join(str(name).split())
    if not name:
        raise InvalidInput("a project name must not be empty, e.g. 'Shopping'", field=field)
    if len(name) > PROJECT_NAME_MAX:
        raise InvalidInput(
            f"a project name is at most {PROJECT_NAME_MAX} characters (got {len(name)})", field=field
        )
    return name


def project_key(name: str) -> str:
    """The case-folded form of a project name: what makes two names the same."""
    return " ".join(name.split()).casefold()


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def check_colour(colour: str | None) -> str | None:
    """A colour as `#rrggbb`, stored lower-case; None (no colour) stays None."""
    if colour is None:
        return None
    value = str(colour).strip()
    if not _COLOUR.fullmatch(value):
        raise InvalidInput(f"colour must be '#rrggbb' in hex, e.g. '#3b82f6' (got {colour!r})", field="colour")
    return value.lower()


def valid_id(value: int) -> bool:
    """Whether a number can be an id at all (larger ones cannot exist, so they are simply not found)."""
    return 1 <= value <= ID_MAX


def check_ids(ids: list[int], field: str = "task_ids") -> list[int]:
    """A bulk request's ids: 1..50, de-duplicated in order."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise InvalidInput("give at least one task id", field=field)
    if len(unique) > BULK_MAX:
        raise InvalidInput(f"a bulk request takes at most {BULK_MAX} task ids (got {len(unique)})", field=field)
    return unique
