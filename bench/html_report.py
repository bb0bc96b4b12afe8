"""report.html for a run of 100,000 conversations: its size, the time to build it, the
builder's memory, and the time headless Chromium takes to open it with every chart drawn.

The figures and scenarios come from a real ``harness run`` of the quick suite; its
transcripts and verdicts are then grown to 100,000 conversations of four turns (two
messages a side per turn, about 70 characters each: 1.6 million transcript lines), one
in ten failed. Results go to the "report.html" section of bench/RESULTS.md.
"""

from __future__ import annotations

import io
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from playwright.sync_api import sync_playwright
from rich.console import Console

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from results import replace_section  # noqa: E402

from harness.cli.run import run  # noqa: E402
from harness.report.html import write_html_report  # noqa: E402

SECTION = "## report.html"
CONVERSATIONS = 100_000
TURNS = 4
CHROMIUM = os.environ.get("CHATSTORM_CHROMIUM", "/usr/bin/chromium")
TEXT = "Hello, I have a question about my card, it was charged twice this week"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "report"
        run(
            ["--suite", "quick", "--time-scale", "0.02", "--report-dir", str(folder)],
            Console(file=io.StringIO()),
        )
        lines = _grow(folder)
        (folder / "report.html").unlink()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu = time.perf_counter(), time.process_time()
        page = write_html_report(folder)
        build_s, build_cpu = time.perf_counter() - started, time.process_time() - cpu
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size_mb = page.stat().st_size / 1e6
        open_s, chat_s = _open(page)
        transcripts_mb = (folder / "transcripts.jsonl").stat().st_size / 1e6
        shutil.rmtree(folder)
    _record(
        lines, transcripts_mb, size_mb, build_s, build_cpu, rss_after - rss_before, open_s, chat_s
    )


def _grow(folder: Path) -> int:
    """The run's files grown to CONVERSATIONS conversations; the transcript lines written."""
    verdicts = [orjson.loads(line) for line in (folder / "conversations.jsonl").open("rb")]
    rng = random.Random(0)
    written = 0
    with (
        (folder / "transcripts.jsonl").open("wb") as said,
        (folder / "conversations.jsonl").open("wb") as judged,
    ):
        for serial in range(CONVERSATIONS):
            template = verdicts[serial % len(verdicts)]
            conversation = f"{template['scenario']}#{serial}"
            t = serial * 0.036  # 100,000 conversations over an hour
            for turn in range(TURNS):
                for role in ("client", "client", "agent", "agent"):
                    t += rng.uniform(0.5, 3.0)
                    line = {
                        "conversation_id": conversation,
                        "scenario": template["scenario"],
                        "persona": template["persona"],
                        "turn": turn,
                        "role": role,
                        "text": TEXT,
                        "time": "2026-12-04T10:00:00.000+00:00",
                        "t_s": round(t, 3),
                    }
                    said.write(orjson.dumps(line) + b"\n")
                    written += 1
            failed = rng.random() < 0.1
            judged.write(
                orjson.dumps({**template, "conversation_id": conversation, "success": not failed})
                + b"\n"
            )
    return written


def _open(page: Path) -> tuple[float, float]:
    """Seconds until every chart is drawn, and until a conversation opened shows."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.perf_counter()
        tab.goto(page.as_uri(), wait_until="load")
        tab.wait_for_function(
            "[...document.querySelectorAll('.chart')].every(c => c.dataset.drawn === 'true')",
            timeout=60_000,
        )
        opened = time.perf_counter() - started
        started = time.perf_counter()
        tab.locator("#chat-list li").first.click()
        tab.wait_for_selector("#chat-view .bubble")
        chat = time.perf_counter() - started
        browser.close()
    return opened, chat


def _record(
    lines: int,
    transcripts_mb: float,
    size_mb: float,
    build_s: float,
    build_cpu: float,
    rss_kib: int,
    open_s: float,
    chat_s: float,
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""{SECTION}

Measured {now} on {os.cpu_count()} cores, Python {sys.version.split()[0]}. Command:
`python bench/html_report.py` (part of `make bench`).

A run of {CONVERSATIONS:,} conversations: the quick suite's real report.json, its
transcripts and verdicts grown to {CONVERSATIONS:,} conversations of {TURNS} turns
({lines:,} transcript lines, {transcripts_mb:,.0f} MB), one in ten failed.

- **report.html: {size_mb:.1f} MB** (the 10 MB bound holds; Plotly.js is 4.8 MB of it);
- built in **{build_s:.1f} s** ({build_cpu:.1f} s of CPU: two passes over the transcripts),
  the builder's peak memory **{rss_kib / 1024:,.0f} MB** above the run's;
- headless Chromium opens it with every chart drawn in **{open_s:.1f} s**, and shows a
  conversation {chat_s * 1000:,.0f} ms after the click.
"""
    replace_section(SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
