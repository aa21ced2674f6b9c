"""Conversations and their messages (SQLModel tables) and the store the agent keeps them in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import JSON, Column, Field, SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

Role = Literal["user", "assistant", "tool"]
# Message.status: a tool message is a placeholder (running / pending_approval) until its call settles.
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

    async def append(self, conversation_id: int, messages: Sequence[NewMessage], *, now: datetime) -> list[Message]:
        """Add messages after the last one and mark the conversation active now."""
        async with self._write() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                raise ConversationNotFound(conversation_id)
            last_seq = select(func.max(Message.seq)).where(Message.conversation_id == conversation_id)
            last = (await session.exec(last_seq)).one()
            rows = [_row(conversation_id, (last or 0) + i, m, now) for i, m in enumerate(messages, start=1)]
            session.add_all(rows)
            conversation.last_activity_at = now
            first_words = next((m.content for m in messages if m.role == "user" and m.content.strip()), "")
            if not conversation.title and first_words:
                conversation.title = _title(first_words)
        return rows

    async def settle(self, message_id: int, *, content: str, status: str, token_count: int) -> None:
        """Give a placeholder tool message its result."""
        async with self._write() as session:
            row = await session.get(Message, message_id)
            if row is not None:
                row.content, row.status, row.token_count = content, status, token_count

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
        start = (
            select(Message.seq)
            .where(Message.conversation_id == conversation_id, Message.role != "tool")
            .order_by(col(Message.seq).desc())
            .offset(limit - 1)
            .limit(1)
        )
        async with self._read() as session:
            first = (await session.exec(start)).first() or 0
            rows = select(Message).where(Message.conversation_id == conversation_id, Message.seq >= first)
            return list((await session.exec(rows.order_by(col(Message.seq)))).all())


async def _own(session: AsyncSession, user_id: int, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        raise ConversationNotFound(conversation_id)
    return conversation


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
        created_at=now,
    )


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
