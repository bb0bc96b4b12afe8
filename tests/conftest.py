"""Suite-wide guards."""

import sys

import pytest


@pytest.fixture(autouse=True, scope="session")
def locust_stays_out_of_this_process():
    """Locust monkey-patches the whole process with gevent, which would change how every
    asyncio test here runs: Locust runs only in subprocesses."""
    yield
    assert "locust" not in sys.modules, "a test imported Locust into the pytest process"
