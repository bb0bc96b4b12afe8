"""Suite-wide guards and fixtures."""

import asyncio
import functools
import inspect
import sys

import pytest

from tests.fakes.anthropic_server import API_KEY, MessagesServer
from tests.support.redis_support import delete_prefix, new_prefix, redis_or_fail

ASYNC_BOUND_MARGIN_S = 5.0
"""An async test's own bound ends it this much before pytest-timeout's alarm would."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Bound every async test inside its event loop. pytest-timeout's alarm raises in
    whatever the loop is running at that moment, a library's callback may swallow it, and
    the test then waits forever (a full run hung so on 2026-12-06, in a Telethon connect).
    A cancellation from ``asyncio.timeout`` reaches the test's own await instead."""
    for item in items:
        test = getattr(item, "obj", None)
        if inspect.iscoroutinefunction(test):
            item.obj = _bounded(test, _timeout_s(item) - ASYNC_BOUND_MARGIN_S)


def _timeout_s(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout"))


def _bounded(test, seconds: float):
    @functools.wraps(test)
    async def bounded(*args, **kwargs):
        bound = asyncio.timeout(seconds)
        try:
            async with bound:
                return await test(*args, **kwargs)
        except TimeoutError:
            if bound.expired():
                pytest.fail(f"the test ran past its {seconds:g} s bound")
            raise

    return bounded


@pytest.fixture(autouse=True, scope="session")
def locust_stays_out_of_this_process():
    """Locust monkey-patches the whole process with gevent, which would change how every
    asyncio test here runs: Locust runs only in subprocesses."""
    yield
    assert "locust" not in sys.modules, "a test imported Locust into the pytest process"


@pytest.fixture
async def redis_prefix():
    """A key prefix of this test's own in the suite's Redis (which must answer), deleted
    afterwards."""
    await (await redis_or_fail()).aclose()
    prefix = new_prefix()
    yield prefix
    await delete_prefix(prefix)


@pytest.fixture
def server(monkeypatch):
    """The local Messages API, with its key in the environment (Locust subprocesses
    inherit it) and no other Anthropic credential in the way."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with MessagesServer() as running:
        yield running
