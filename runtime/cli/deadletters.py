"""`todo-agent deadletters list|replay`: the messages a consumer could never handle, and handling them again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from runtime.cli.support import fail, with_database

if TYPE_CHECKING:
    from domain.uow import UnitOfWork
    from services.deadletters import DeadLetterView, Replayed

deadletters_app = typer.Typer(help="Dead letters: messages a service could not handle.", no_args_is_help=True)


@deadletters_app.command("list")
def list_(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option(help="Only this consumer group (reminder, audit, ...).")] = None,
    replayed: Annotated[bool, typer.Option("--replayed", help="Include those replayed already.")] = False,
) -> None:
    """Show the dead letters waiting (oldest first): id, group, event, when, attempts and the error."""
    from services.deadletters import list_dead_letters

    rows = with_database(ctx, lambda uow: list_dead_letters(uow, include_replayed=replayed, group=group))
    typer.echo("\n".join(_line(r) for r in rows) if rows else "no dead letters")


def _line(row: DeadLetterView) -> str:
    state = f"replayed {row.replayed_at:%Y-%m-%d %H:%M}" if row.replayed_at else "waiting"
    return (f"{row.id:>5}  {row.consumer_group:<14} {row.event_type or row.topic:<40} {row.event_id}  "
            f"{row.created_at:%Y-%m-%d %H:%M}  x{row.attempts}  {state}  {row.error}")


@deadletters_app.command("replay")
def replay(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Dead letter ids (see `deadletters list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every dead letter waiting.")] = False,
) -> None:
    """Deliver dead letters to their consumer group again; those handled are marked replayed."""
    if not ids and not all_:
        raise fail("name the dead letters to replay (ids from `todo-agent deadletters list`), or pass --all")
    results = with_database(ctx, lambda uow: _replay(uow, list(ids or []), all_))
    for result in results:
        typer.echo(f"{result.id:>5}  {result.event_id}  {result.outcome}")
    if not results:
        typer.echo("no dead letters to replay")
    if any(r.outcome != "SUCCESS" for r in results):
        raise typer.Exit(1)


async def _replay(uow: UnitOfWork, ids: list[int], everything: bool) -> list[Replayed]:
    from runtime.bootstrap import consumer_groups
    from services.deadletters import list_dead_letters
    from services.deadletters import replay as replay_letters

    if everything:
        ids = [row.id for row in await list_dead_letters(uow, limit=10_000)]
    return await replay_letters(uow, ids, consumer_groups(uow))
