import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.infra import (
    create_test_database,
    drop_test_database,
    postgres_admin_url,
    require_or_skip,
    sqlite_url,
)


def _admin_url() -> str:
    url = postgres_admin_url()
    if url is None:
        require_or_skip("no PostgreSQL: set TEST_DATABASE_URL or run scripts/provision-test-services")
    return url


def _database_exists(admin_url: str, name: str) -> bool:
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            return found.scalar() is not None
    finally:
        engine.dispose()


def test_a_missing_service_fails_the_test_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no broker"):
        require_or_skip("no broker")


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_a_missing_service_skips_the_test_outside_ci(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no broker"):
        require_or_skip("no broker")


def test_an_explicit_test_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql+psycopg://someone@db.invalid:6543/admin")
    assert postgres_admin_url() == "postgresql+psycopg://someone@db.invalid:6543/admin"


def test_no_server_on_the_probed_port_gives_no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setenv("TODO_AGENT_TEST_PG_PROBE", f"127.0.0.1:{closed_port}")
    assert postgres_admin_url() is None


def test_sqlite_url_uses_the_async_driver(tmp_path: Path) -> None:
    assert sqlite_url(tmp_path / "t.db") == f"sqlite+aiosqlite:///{tmp_path}/t.db"


@pytest.mark.postgres
def test_a_test_database_is_created_usable_and_dropped_even_while_connected() -> None:
    admin = _admin_url()
    url = create_test_database(admin)
    name = sa.make_url(url).database
    assert name is not None and name.startswith("todo_agent_test_")
    assert sa.make_url(url).drivername == "postgresql+psycopg"

    engine = sa.create_engine(url)
    try:
        conn = engine.connect()
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == name
        drop_test_database(admin, url)  # WITH (FORCE) ends the open connection
        assert not _database_exists(admin, name)
        with pytest.raises(sa.exc.OperationalError):
            conn.execute(sa.text("SELECT 1"))
        conn.invalidate()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_test_databases_get_different_names() -> None:
    admin = _admin_url()
    first, second = create_test_database(admin), create_test_database(admin)
    try:
        assert first != second
    finally:
        drop_test_database(admin, first)
        drop_test_database(admin, second)


def test_dropping_a_database_not_made_for_tests_is_refused() -> None:
    with pytest.raises(ValueError, match="refusing"):
        drop_test_database(
            "postgresql+psycopg://postgres@127.0.0.1:1/postgres",
            "postgresql+psycopg://postgres@127.0.0.1:1/postgres",
        )
