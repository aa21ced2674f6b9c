"""Quick add: one line such as "buy stamps tomorrow at 9am p1 #errands every week" read as a task.

Words are separated by spaces. Markers (case does not matter):
- `#name`: the task's project when you have a project of that name that is not archived (`#shopping` for
  "Shopping"; the first such marker only, so `#work #home` with both projects puts the task in Work and tags it
  `home`); otherwise a tag.
- `#tag`: a tag of letters, digits, `-`, `_` and `/` (`#errands`, `#work/q4`); repeatable. A project whose name
  has spaces or other characters cannot be named this way (pass `project` instead).
- Priority `p1`..`p4` (urgent, high, medium, low, as in Todoist) or `!urgent`, `!high`, `!medium`, `!low`; at most
  one per text. Anything else (`p5`, `!nope`) is title text.
- Recurrence: `every ...` up to the end of the text or the next marker or quote: the longest part of it (at most
  16 words) that is a rule (domain.recurrence: 'every monday at 9am', 'every other week'); the rest is read again.
  Or one of daily, weekly, monthly, yearly, weekdays, biweekly as the last word ("write weekly report" keeps it).
- Due: the longest run of words (at most 8, no marker or quote between them) at the end of the text that reads as
  a due (domain.dates: 'tomorrow at 9am', 'next friday', ISO dates), else such a run at its start. Words in the
  middle of the title are never read as a date ("call mom about monday's meeting", "move friday standup up").
- `"..."` (or `“...”`): quoted words are title text as they are, never markers or dates (the quotes are dropped).

What is left, trimmed, is the title; if nothing is left that is an error. A recurring task without a due gets its
first due from the rule when it is created, as every recurring task does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from domain.errors import InvalidInput
from domain.recurrence import validate_rule
from domain.timeutil import Due, parse_due, render_local
from domain.values import Priority, check_title, normalize_tag, normalize_tags

TEXT_MAX = 1000
SPAN_MAX = 8  # words in a due phrase: "on the 5th of december 2026 at 3pm" has 8
RULE_WORDS_MAX = 16  # words in a recurrence phrase: "every 2 weeks on mon, wed and fri at 9am" has 10
PRIORITIES = {"p1": Priority.URGENT, "p2": Priority.HIGH, "p3": Priority.MEDIUM, "p4": Priority.LOW} | {
    f"!{p.value}": p for p in (Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW)
}
PRESETS = frozenset({"daily", "weekly", "monthly", "yearly", "weekdays", "biweekly"})
EXAMPLE = "e.g. 'buy stamps tomorrow at 9am p1 #errands every week'"
_TOKEN = re.compile(r'["“](?P<quoted>[^"”]*)["”]|(?P<word>\S+)')  # straight or typographic quotes
_TAG = re.compile(r"#[\w\-/]+")

ChipKind = Literal["due", "priority", "tag", "project", "recurrence"]


@dataclass(frozen=True)
class Chip:
    """One thing read from the text: its kind, the source text it came from, and what it became."""

    kind: ChipKind
    text: str
    value: str
    start: int = 0


@dataclass(frozen=True)
class QuickAdd:
    title: str
    due: Due | None
    due_text: str | None  # the phrase as written, so that creating the task reads it against the same clock
    priority: Priority
    tags: list[str]
    rule: str | None
    chips: list[Chip]
    project: str | None = None  # the project's name as the user wrote it when creating it


@dataclass
class _Token:
    text: str
    start: int
    end: int
    quoted: bool
    used: bool = False


@dataclass
class _Reading:
    tokens: list[_Token]
    chips: list[Chip] = field(default_factory=list)

    def take(self, tokens: list[_Token], kind: ChipKind, value: str, text: str) -> None:
        for token in tokens:
            token.used = True
        self.chips.append(Chip(kind, text, value, tokens[0].start))


def parse_quick(text: str, tz: ZoneInfo, now: datetime, projects: Mapping[str, str] | None = None) -> QuickAdd:
    """Read a quick-add line (grammar in the module docstring); InvalidInput on field `text` says how to fix it.
    `projects` maps the case-folded names of the user's live, unarchived projects to their names."""
    if not text.strip():
        raise InvalidInput(f"quick-add text is empty: say what to do, {EXAMPLE}", field="text")
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"quick-add text is at most {TEXT_MAX} characters (got {len(text)})", field="text")
    reading = _Reading([_Token(m[m.lastgroup or "word"], m.start(), m.end(), m["quoted"] is not None)
                        for m in _TOKEN.finditer(text)])
    project = _project(reading, projects or {})
    tags = _tags(reading)
    priority = _priority(reading)
    rule = _every(reading, text)
    due: tuple[Due, str] | None = None
    while True:  # "standup 9am daily" and "standup daily 9am" both: peel the end until nothing more is read
        if rule is None and (rule := _preset(reading)) is not None:
            continue
        if due is None and (due := _due(_trailing(reading), reading, text, tz, now)) is not None:
            continue
        break
    due = due or _due(_leading(reading), reading, text, tz, now)
    title = " ".join(t.text for t in reading.tokens if not t.used and t.text).strip()
    if not title:
        raise InvalidInput(f"nothing is left for the title of {text!r}: add what to do, {EXAMPLE}", field="text")
    try:
        title = check_title(title)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="text") from None
    chips = sorted(reading.chips, key=lambda c: c.start)
    return QuickAdd(title, due[0] if due else None, due[1] if due else None, priority, tags, rule, chips, project)


def _words(reading: _Reading) -> list[_Token]:
    return [t for t in reading.tokens if not t.quoted and not t.used]


def _project(reading: _Reading, projects: Mapping[str, str]) -> str | None:
    """The first `#name` naming one of the projects, taken from the text; None when there is none."""
    for token in _words(reading):
        if _TAG.fullmatch(token.text) and (name := projects.get(token.text[1:].casefold())) is not None:
            reading.take([token], "project", name, token.text)
            return name
    return None


def _tags(reading: _Reading) -> list[str]:
    found = [t for t in _words(reading) if _TAG.fullmatch(t.text)]
    try:
        names = normalize_tags([t.text[1:] for t in found])
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message}, {EXAMPLE}", field="text") from None
    for token in found:
        reading.take([token], "tag", normalize_tag(token.text[1:]), token.text)
    return names


def _priority(reading: _Reading) -> Priority:
    found = [t for t in _words(reading) if t.text.lower() in PRIORITIES]
    if len(found) > 1:
        named = " and ".join(repr(t.text) for t in found)
        raise InvalidInput(f"{named} are two priorities: keep one, {EXAMPLE}", field="text")
    if not found:
        return Priority.NONE
    priority = PRIORITIES[found[0].text.lower()]
    reading.take(found, "priority", priority.value, found[0].text)
    return priority


def _every(reading: _Reading, text: str) -> str | None:
    """The first 'every ...' that is a rule: the longest run of words from it that validates."""
    tokens = reading.tokens
    for i, token in enumerate(tokens):
        if token.quoted or token.used or token.text.lower() != "every":
            continue
        run = [token]
        for nxt in tokens[i + 1:]:
            if nxt.quoted or nxt.used or len(run) == RULE_WORDS_MAX:
                break
            run.append(nxt)
        for size in range(len(run), 1, -1):
            phrase = text[run[0].start:run[size - 1].end]
            if _is_rule(phrase):
                reading.take(run[:size], "recurrence", " ".join(phrase.split()), phrase)
                return phrase
    return None


def _is_rule(phrase: str) -> bool:
    try:
        validate_rule(phrase)
    except InvalidInput:
        return False
    return True


def _preset(reading: _Reading) -> str | None:
    last = next((t for t in reversed(reading.tokens) if not t.used), None)
    if last is None or last.quoted or last.text.lower() not in PRESETS:
        return None
    reading.take([last], "recurrence", last.text.lower(), last.text)
    return last.text.lower()


def _trailing(reading: _Reading) -> list[list[_Token]]:
    """Runs of words ending at the last unread token, longest first."""
    run: list[_Token] = []
    for token in reversed(reading.tokens):
        if token.used and not run:
            continue
        if token.used or token.quoted or len(run) == SPAN_MAX:
            break
        run.insert(0, token)
    return [run[i:] for i in range(len(run))]


def _leading(reading: _Reading) -> list[list[_Token]]:
    """Runs of words starting at the first unread token, longest first."""
    run: list[_Token] = []
    for token in reading.tokens:
        if token.used and not run:
            continue
        if token.used or token.quoted or len(run) == SPAN_MAX:
            break
        run.append(token)
    return [run[:i] for i in range(len(run), 0, -1)]


def _due(spans: list[list[_Token]], reading: _Reading, text: str, tz: ZoneInfo,
         now: datetime) -> tuple[Due, str] | None:
    """The first span that reads as a due (spans come longest first), taken from the text."""
    for span in spans:
        phrase = text[span[0].start:span[-1].end]
        try:
            due = parse_due(phrase, tz, now)
        except InvalidInput:
            continue
        reading.take(span, "due", render_local(due, tz), phrase)
        return due, phrase
    return None
