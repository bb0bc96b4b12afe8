"""Suite-wide guards and fixtures."""

import sys

import pytest

from tests.fakes.anthropic_server import API_KEY, MessagesServer
from tests.support.redis_support import delete_prefix, new_prefix, redis_or_fail


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
