"""How many turns may run at once in this process: one per conversation and a few per user, so that one account
cannot start model calls without end (each turn costs model calls and a task)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

CONVERSATION_BUSY = "a reply is still being written in this conversation; wait for it or stop it"
USER_BUSY = "{count} replies are still being written for you; wait for one to finish or stop it"


class TurnsBusy(Exception):
    """No slot for another turn now; `message` says why, written for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class TurnSlot:
    """One running turn's place; `release` gives it back (once, however often it is called)."""

    slots: TurnSlots
    user_id: int
    conversation_id: int | None
    released: bool = False

    def release(self) -> None:
        """Free the slot (the turn's stream ended or was cancelled)."""
        if not self.released:
            self.released = True
            self.slots.give_back(self)


@dataclass
class TurnSlots:
    """The running turns of this process, per user and per conversation (not shared between processes)."""

    per_user: int = 3
    # How long `wait_for` waits for a slot: a stopped turn frees its slot a moment after the client closed it, and
    # a message sent right after Stop should not be refused for that.
    grace_seconds: float = 2.0
    _users: Counter[int] = field(default_factory=Counter)
    _conversations: set[int] = field(default_factory=set)
    _freed: asyncio.Event = field(default_factory=asyncio.Event)  # set (and replaced) whenever a slot comes back

    async def wait_for(self, user_id: int, conversation_id: int | None) -> TurnSlot:
        """A slot, waiting up to `grace_seconds` for one to be given back; else TurnsBusy."""
        try:
            async with asyncio.timeout(self.grace_seconds):
                while True:
                    try:
                        return self.take(user_id, conversation_id)
                    except TurnsBusy:
                        await self._freed.wait()
        except TimeoutError:
            return self.take(user_id, conversation_id)  # one last try; raises TurnsBusy saying why

    def take(self, user_id: int, conversation_id: int | None) -> TurnSlot:
        """A slot for a turn of `user_id` in `conversation_id` (None: a new one) now, else TurnsBusy."""
        if conversation_id is not None and conversation_id in self._conversations:
            raise TurnsBusy(CONVERSATION_BUSY)
        if self._users[user_id] >= self.per_user:
            raise TurnsBusy(USER_BUSY.format(count=self._users[user_id]))
        self._users[user_id] += 1
        if conversation_id is not None:
            self._conversations.add(conversation_id)
        return TurnSlot(self, user_id, conversation_id)

    def give_back(self, slot: TurnSlot) -> None:
        """Called by TurnSlot.release."""
        self._users[slot.user_id] -= 1
        if self._users[slot.user_id] <= 0:
            del self._users[slot.user_id]
        if slot.conversation_id is not None:
            self._conversations.discard(slot.conversation_id)
        freed, self._freed = self._freed, asyncio.Event()
        freed.set()  # wakes every turn waiting in `wait_for`; later ones wait on the new event

    def running(self, user_id: int) -> int:
        """How many turns of the user run now."""
        return self._users[user_id]
