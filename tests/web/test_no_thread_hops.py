"""No request of the web host pays a thread-pool hop for plumbing: every REST endpoint and every dependency it
resolves is a coroutine function (or an object whose `__call__` is one).

FastAPI runs a plain `def` endpoint or dependency in Starlette's thread pool, one hand-off and wake-up per call.
Before this test, `get_state`, `get_uow` and `bearer_token` were plain functions: three hops on every
authenticated request, measured as about a fifth of an authenticated no-op's server CPU. Work that does block
(argon2 hashing) runs on its own pool explicitly, not through FastAPI's."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from runtime.bootstrap import Runtime
from tests.web.conftest import Host
from web.api import ROUTERS
from web.routes import health


def _is_async(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    method = getattr(type(call), "__call__", None)  # noqa: B004 - a class instance used as a dependency
    return not inspect.isfunction(call) and (inspect.iscoroutinefunction(method)
                                              or inspect.isasyncgenfunction(method))


def _api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """The app's own API routes (the page's) and those of every router it includes (the REST API, the probes)."""
    for router in (app.router, *ROUTERS, health.router):
        yield from (route for route in router.routes if isinstance(route, APIRoute))


def _calls(dependant: Dependant, path: str) -> Iterator[tuple[str, Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield f"{path} <- {getattr(sub.call, '__qualname__', type(sub.call).__name__)}", sub.call
        yield from _calls(sub, path)


def test_every_endpoint_and_dependency_of_the_web_host_is_async(host: Host, runtime: Runtime) -> None:
    app = host(None)
    routes = list(_api_routes(app))
    assert len(routes) > 40  # the whole REST API, not an empty app
    sync = [f"{r.path} {sorted(r.methods)}" for r in routes if not _is_async(r.endpoint)]
    sync += [where for r in routes for where, call in _calls(r.dependant, r.path) if not _is_async(call)]
    assert sync == [], "plain `def` endpoints or dependencies (each runs in the thread pool):\n" + "\n".join(sync)


def test_the_check_recognises_a_plain_function_as_a_thread_hop() -> None:
    def plain() -> int:
        return 1

    async def coroutine() -> int:
        return 1

    class Callable:
        async def __call__(self) -> int:
            return 1

    assert not _is_async(plain) and _is_async(coroutine) and _is_async(Callable())
