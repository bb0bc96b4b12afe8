"""``harness report DIR``: build a run's ``report.html`` again from its files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.report.html import HTML_FILE, ReportFolderError, write_html_report


def report(
    folder: Annotated[Path, typer.Argument(help="The run's --report-dir.")],
) -> None:
    """Build DIR/report.html again from DIR's report.json, transcripts.jsonl and
    conversations.jsonl (after a chatstorm upgrade, or for a report folder copied from
    elsewhere)."""
    try:
        path = write_html_report(folder)
    except ReportFolderError as exc:
        typer.echo(f"chatstorm: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"chatstorm: cannot write {folder / HTML_FILE}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"written {path} ({path.stat().st_size / 1e6:.1f} MB)")
