"""Small files written whole: a reader (another process, a crash) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson


def write_json_atomically(path: Path, value: object, prefix: str = ".tmp-") -> None:
    """Write ``value`` as JSON to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    with os.fdopen(handle, "wb") as file:
        file.write(orjson.dumps(value))
    os.replace(temporary, path)
