"""The Locust adapter: a thin layer that runs the asyncio core on one loop per process."""

from harness.locust.plugin import install

__all__ = ["install"]
