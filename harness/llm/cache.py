"""The LLM response cache: a repeated run asks nothing and pays nothing.

An answer is stored under a hash of everything that shaped it (model, prompt, output
schema, settings, seed), in Redis when the run has one (every worker shares it) and in a
folder otherwise. Entries never expire: a cache is a recording, delete it to start afresh.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import orjson
import redis.asyncio as redis

from harness.files import write_json_atomically


def cache_key(material: dict) -> str:
    """A stable key for a request: the SHA-256 of its canonical JSON."""
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache(Protocol):
    async def get(self, key: str) -> dict | None: ...

    async def put(self, key: str, value: dict) -> None: ...

    async def close(self) -> None: ...


class DiskCache:
    """One small JSON file per answer, written atomically (processes may share the folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    async def get(self, key: str) -> dict | None:
        try:
            return orjson.loads(self._path(key).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    async def put(self, key: str, value: dict) -> None:
        write_json_atomically(self._path(key), value)

    async def close(self) -> None:
        """Nothing is held open."""


class RedisCache:
    """Answers as JSON strings under ``{prefix}:llm:{key}``, shared by all workers."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}:llm:"

    async def get(self, key: str) -> dict | None:
        raw = await self._client.get(self._prefix + key)
        return None if raw is None else orjson.loads(raw)

    async def put(self, key: str, value: dict) -> None:
        await self._client.set(self._prefix + key, orjson.dumps(value).decode())

    async def close(self) -> None:
        await self._client.aclose()
