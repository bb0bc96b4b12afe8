"""``harness accounts`` against a real Redis: add, import, list, remove; secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.redis_support import REDIS_URL

REPO = Path(__file__).resolve().parents[2]
SECRET = "1BVtsOKABu" + "Q" * 60 + "=="


def harness(prefix: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "accounts", *args, "--prefix", prefix],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
        env={**os.environ, "REDIS_URL": REDIS_URL, "COLUMNS": "150"},
    )


def test_add_import_list_remove_without_ever_showing_a_session(redis_prefix, tmp_path):
    added = harness(
        redis_prefix, "add", "--phone", "+7 900 123 4567", "--label", "olga", stdin=SECRET + "\n"
    )
    assert added.returncode == 0, added.stderr
    account_id = added.stdout.split()[1]
    assert added.stdout.strip() == f"added {account_id} …4567"
    sessions = tmp_path / "sessions.txt"
    sessions.write_text(f"# exported\n\n{SECRET[:-2]}A==\n  {SECRET[:-2]}B==\nnot a session\n")
    imported = harness(redis_prefix, "import", str(sessions))
    assert imported.returncode == 2  # one bad line, reported with its number
    assert "imported 2 account(s)" in imported.stdout
    assert f"{sessions}:5: not a session string" in imported.stderr
    listed = harness(redis_prefix, "list")
    assert listed.returncode == 0, listed.stderr
    assert "3 account(s)" in listed.stdout and "olga" in listed.stdout and "…4567" in listed.stdout
    for output in (added, imported, listed):
        assert SECRET[:20] not in output.stdout + output.stderr
    removed = harness(redis_prefix, "remove", account_id)
    assert removed.returncode == 0 and "2 account(s)" in harness(redis_prefix, "list").stdout
    missing = harness(redis_prefix, "remove", account_id)
    assert missing.returncode == 2 and "no account" in missing.stderr


def test_a_dead_redis_is_one_clear_line():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "accounts",
            "list",
            "--redis-url",
            "redis://127.0.0.1:1/0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("harness: cannot reach Redis at redis://127.0.0.1:1/0")
    assert "Traceback" not in result.stderr
