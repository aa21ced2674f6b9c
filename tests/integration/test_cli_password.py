"""`todo-agent user password EMAIL`: sets a new password and signs the user out of every login session."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.usecases import actor_for, authenticate, authenticate_session, start_session
from tests.infra import PASSWORD
from tests.integration.conftest import Cli, accepted, assert_one_line_error, unit_of_work

pytestmark = pytest.mark.slow

NEW_PASSWORD = "a brand new passphrase\n"


async def _start_session(url: str, email: str) -> str:
    async with unit_of_work(url) as uow:
        actor = await actor_for(uow, email=email)
        return (await start_session(uow, actor.id, max_age=timedelta(hours=1))).session_id


async def _session_live(url: str, email: str, session_id: str) -> bool:
    async with unit_of_work(url) as uow:
        return await accepted(authenticate_session(uow, (await actor_for(uow, email=email)).id, session_id))


async def _logs_in(url: str, email: str, password: str) -> bool:
    async with unit_of_work(url) as uow:
        return await accepted(authenticate(uow, email, password))


async def test_user_password_sets_the_password_and_ends_every_session(cli: Cli) -> None:
    """The new password works, the old one does not, and the user's sessions have ended."""
    assert cli("user", "create", "ada@example.com", "--password-stdin", stdin=PASSWORD).returncode == 0
    session_id = await _start_session(cli.url, "ada@example.com")
    changed = cli("user", "password", "ada@example.com", "--password-stdin", stdin=NEW_PASSWORD)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("changed the password of ada@example.com; ended 1 login session ")
    assert not await _session_live(cli.url, "ada@example.com", session_id)
    assert await _logs_in(cli.url, "ada@example.com", NEW_PASSWORD.strip())
    assert not await _logs_in(cli.url, "ada@example.com", PASSWORD.strip())


def test_user_password_of_an_unknown_user_or_a_short_password_is_one_line(sqlite_cli: Cli) -> None:
    """Mistakes are one clear line and exit code 1."""
    assert_one_line_error(sqlite_cli("user", "password", "nobody@example.com", "--password-stdin",
                                     stdin=NEW_PASSWORD), "nobody@example.com")
    assert sqlite_cli("user", "create", "bob@example.com", "--password-stdin", stdin=PASSWORD).returncode == 0
    assert_one_line_error(sqlite_cli("user", "password", "bob@example.com", "--password-stdin", stdin="short\n"),
                          "8 characters")
