"""Conversations and their messages (SQLModel tables) and the store the agent keeps them in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import JSON, Column, Field, SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

Role = Literal["user", "assistant", "tool"]
# Message.status: a tool message is a placeholder (running / pending_approval) until its call settles.
SUMMARY_MAX = 300
OK, ERROR, RUNNING, PENDING_APPROVAL, DECLINED = "ok", "error", "running", "pending_approval", "declined"
OPEN_STATUSES = (RUNNING, PENDING_APPROVAL)
TITLE_LENGTH = 80


class Conversation(SQLModel, table=True):
    """One session of chat with one user (a plain user id: the agent does not know the user table)."""

    __table_args__ = (sa.Index("ix_conversation_user_activity", "user_id", "last_activity_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int
    started_at: datetime
    last_activity_at: datetime
    title: str = Field(default="", max_length=200)


class Message(SQLModel, table=True):
    """A user, assistant or tool message; `seq` orders a conversation's messages."""

    __table_args__ = (sa.Index("ix_message_conversation_seq", "conversation_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", ondelete="CASCADE")
    seq: int
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_type=sa.Text)
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    tool_call_id: str | None = Field(default=None, max_length=100)
    status: str = Field(default=OK, max_length=20)
    summary: str = Field(default="", max_length=SUMMARY_MAX)  # for people: a tool result, or why a call waits
    token_count: int = 0
    created_at: datetime


@dataclass(frozen=True)
class NewMessage:
    """A message to append (the store gives it its id, seq and time)."""

    role: Role
    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    status: str = OK
    token_count: int = 0
    summary: str = ""  # for people: a tool result in one line, or why a call waits for approval


@dataclass(frozen=True)
class TurnStart:
    """A turn's conversation (`is_new` when just started), its window, and whether the user's message was appended
    (it is not while calls of the window are still open: they are settled first)."""

    conversation: Conversation
    is_new: bool
    rows: list[Message]
    appended: bool


class ConversationNotFound(LookupError):
    """No such conversation for this user (another user's conversation is not found either)."""


Sessions = async_sessionmaker[AsyncSession]


class ConversationStore:
    """Reads and writes conversations through session makers the host injects (`reader` defaults to `writer`)."""

    def __init__(self, writer: Sessions, *, reader: Sessions | None = None) -> None:
        self.writer = writer
        self.reader = reader or writer

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self.writer() as session, session.begin():
            yield session
            await session.flush()
            session.expunge_all()  # rows stay readable after commit whatever the session maker's expiry setting

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self.reader() as session, session.begin():
            yield session
            session.expunge_all()

    async def get(self, user_id: int, conversation_id: int) -> Conversation:
        """The user's own conversation, else ConversationNotFound."""
        async with self._read() as session:
            return await _own(session, user_id, conversation_id)

    async def current_or_new(
        self, user_id: int, conversation_id: int | None, *, now: datetime, timeout: timedelta
    ) -> tuple[Conversation, bool]:
        """The conversation to continue, or a new one when none is given or it has been idle past `timeout`."""
        if conversation_id is not None:
            current = await self.get(user_id, conversation_id)
            if now - current.last_activity_at <= timeout:
                return current, False
        fresh = Conversation(user_id=user_id, started_at=now, last_activity_at=now)
        async with self._write() as session:
            session.add(fresh)
        return fresh, True

    async def append(
        self, conversation_id: int, messages: Sequence[NewMessage], *, now: datetime, after_seq: int | None = None
    ) -> list[Message]:
        """Add messages after the last one and mark the conversation active now (titled by its first words).

        `after_seq` is the last seq the caller has seen: numbering from it saves reading the last one, and if another
        writer got there first, the messages go after the real last one instead.
        """
        if after_seq is not None:
            try:
                return await self._append(conversation_id, messages, now, after_seq)
            except IntegrityError:
                pass
        return await self._append(conversation_id, messages, now, None)

    async def _append(
        self, conversation_id: int, messages: Sequence[NewMessage], now: datetime, after_seq: int | None
    ) -> list[Message]:
        first_words = next((m.content for m in messages if m.role == "user" and m.content.strip()), "")
        titled = {"title": sa.case((col(Conversation.title) == "", _title(first_words)), else_=Conversation.title)}
        touch = (
            sa.update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(last_activity_at=now, **(titled if first_words else {}))
        )
        last_seq = select(func.max(Message.seq)).where(Message.conversation_id == conversation_id)
        async with self._write() as session:
            # The update locks the conversation (PostgreSQL) before the last seq is read, so appends that read it
            # never collide; one numbered from a stale `after_seq` fails on the unique (conversation, seq) instead.
            if (await session.exec(touch)).rowcount == 0:
                raise ConversationNotFound(conversation_id)
            last = after_seq if after_seq is not None else (await session.exec(last_seq)).one() or 0
            rows = _rows(conversation_id, last, messages, now)
            session.add_all(rows)
        return rows

    async def begin_turn(
        self, user_id: int, conversation_id: int | None, message: NewMessage, *, now: datetime, timeout: timedelta,
        limit: int = 20,
    ) -> TurnStart:
        """In one transaction: the conversation to continue (or a new one, as `current_or_new` decides), its window
        (as `window` reads it), and `message` appended, unless a call of the window is still open."""
        async with self._write() as session:
            # Locked (PostgreSQL) until commit: a concurrent turn of the conversation waits, so seqs never collide.
            current = None if conversation_id is None else await _own(session, user_id, conversation_id, lock=True)
            if current is None or now - current.last_activity_at > timeout:
                current = Conversation(user_id=user_id, started_at=now, last_activity_at=now)
                session.add(current)
                await session.flush()
                is_new, rows = True, []
            else:
                is_new, rows = False, await _window(session, current.id or 0, limit)
            if any(row.role == "tool" and row.status in OPEN_STATUSES for row in rows):
                return TurnStart(current, is_new, rows, False)
            # The window runs to the last message, so its last seq is the conversation's (none: an empty one).
            added = _rows(current.id or 0, rows[-1].seq if rows else 0, [message], now)
            session.add_all(added)
            current.last_activity_at = now
            if not current.title and message.content.strip():
                current.title = _title(message.content)
            return TurnStart(current, is_new, rows + added, True)

    async def settle(
        self, message_id: int, *, content: str, status: str, token_count: int, summary: str = "",
        expect: str | None = None,
    ) -> bool:
        """Give a placeholder tool message its result (and its one-line summary); with `expect`, only while its
        status is still that one. True when the row changed."""
        change = (
            sa.update(Message)
            .where(col(Message.id) == message_id, *([col(Message.status) == expect] if expect else []))
            .values(content=content, status=status, token_count=token_count, summary=summary[:SUMMARY_MAX])
        )
        async with self._write() as session:
            return bool((await session.exec(change)).rowcount == 1)

    async def claim(self, message_id: int) -> bool:
        """Move a call that waits for approval to running, atomically: True for exactly one of concurrent claims."""
        change = (
            sa.update(Message)
            .where(col(Message.id) == message_id, col(Message.status) == PENDING_APPROVAL)
            .values(status=RUNNING)
        )
        async with self._write() as session:
            return bool((await session.exec(change)).rowcount == 1)

    async def conversations(self, user_id: int, *, limit: int = 50) -> list[Conversation]:
        """The user's conversations, most recently active first."""
        query = (
            select(Conversation)
            .where(Conversation.user_id == user_id)
            .order_by(col(Conversation.last_activity_at).desc(), col(Conversation.id).desc())
            .limit(limit)
        )
        async with self._read() as session:
            return list((await session.exec(query)).all())

    async def messages(
        self, user_id: int, conversation_id: int, *, after_seq: int = 0, limit: int = 200
    ) -> list[Message]:
        """A page of the user's own conversation in order (ConversationNotFound for anyone else's)."""
        query = (
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
            .order_by(col(Message.seq))
            .limit(limit)
        )
        async with self._read() as session:
            await _own(session, user_id, conversation_id)
            return list((await session.exec(query)).all())

    async def window(self, conversation_id: int, limit: int = 20) -> list[Message]:
        """The last `limit` user/assistant messages and every message after the first of them, in order.

        Two indexed reads on (conversation_id, seq): the seq where the window starts, then the rows from there,
        so the cost depends on the window, not on how long the conversation is.
        """
        async with self._read() as session:
            return await _window(session, conversation_id, limit)


def _window_start(conversation_id: int, limit: int) -> SelectOfScalar[int]:
    """The seq of the `limit`-th last user or assistant message (an indexed walk back from the end)."""
    return (
        select(Message.seq)
        .where(Message.conversation_id == conversation_id, Message.role != "tool")
        .order_by(col(Message.seq).desc())
        .offset(limit - 1)
        .limit(1)
    )


async def _window(session: AsyncSession, conversation_id: int, limit: int) -> list[Message]:
    # Two statements, so that the planner sees the start as a value (one with a subquery could misjudge its range).
    first = (await session.exec(_window_start(conversation_id, limit))).first() or 0
    rows = select(Message).where(Message.conversation_id == conversation_id, Message.seq >= first)
    return list((await session.exec(rows.order_by(col(Message.seq)))).all())


async def _own(session: AsyncSession, user_id: int, conversation_id: int, *, lock: bool = False) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, with_for_update=lock)
    if conversation is None or conversation.user_id != user_id:
        raise ConversationNotFound(conversation_id)
    return conversation


def _rows(conversation_id: int, last_seq: int, messages: Sequence[NewMessage], now: datetime) -> list[Message]:
    return [_row(conversation_id, last_seq + i, m, now) for i, m in enumerate(messages, start=1)]


def _row(conversation_id: int, seq: int, message: NewMessage, now: datetime) -> Message:
    return Message(
        conversation_id=conversation_id,
        seq=seq,
        role=message.role,
        content=message.content,
        tool_calls=message.tool_calls,
        tool_call_id=message.tool_call_id,
        status=message.status,
        token_count=message.token_count,
        summary=message.summary[:SUMMARY_MAX],
        created_at=now,
    )


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
