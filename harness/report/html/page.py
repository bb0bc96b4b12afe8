"""``report.html``: one self-contained file, built from a run's folder.

Everything it needs is inside it: Plotly.js (from the plotly package on PyPI, read as a
file, never imported), the styles, the page's script and the data as JSON. A Content
Security Policy forbids every fetch, so the page provably opens offline and sends
nothing anywhere. Texts from the run (messages, scenario names) are put in the page by
the script as text, never as markup.
"""

from __future__ import annotations

import html
import importlib.util
import re
from functools import cache
from pathlib import Path

import orjson

from harness.files import write_bytes_atomically
from harness.report.html.charts import build_charts
from harness.report.html.chats import chat_view
from harness.report.html.sources import read_run_folder
from harness.report.html.tables import header_html, tables_html

HTML_FILE = "report.html"
_MARKER = re.compile(r"@@[A-Z_]+@@")
ASSETS = Path(__file__).parent / "assets"
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


def write_html_report(folder: Path, transcripts: Path | None = None) -> Path:
    """Build ``report.html`` from the files in ``folder`` (``transcripts``: theirs, when
    elsewhere); returns its path. Raises ReportFolderError when the folder holds no
    report, OSError when it cannot be written."""
    run = read_run_folder(folder, transcripts)
    charts, left_out = build_charts(run.report, run.pauses)
    data = {
        "charts": [chart.to_dict() for chart in charts],
        "chats": chat_view(run),
    }
    page = _page(
        title=_title(folder),
        header=header_html(run.report),
        tables=tables_html(run.report),
        left_out="".join(
            f"<li><b>{html.escape(item.title)}</b>: {html.escape(item.why)}</li>"
            for item in left_out
        ),
        data=data,
    )
    path = folder / HTML_FILE
    write_bytes_atomically(path, page.encode(), ".report-html-")
    return path


def _title(folder: Path) -> str:
    return html.escape(folder.resolve().name)


def _page(title: str, header: str, tables: str, left_out: str, data: dict) -> str:
    template = (ASSETS / "page.html").read_text(encoding="utf-8")
    parts = {
        "@@CSP@@": CSP,
        "@@TITLE@@": title,
        "@@STYLE@@": (ASSETS / "report.css").read_text(encoding="utf-8"),
        "@@HEADER@@": header,
        "@@TABLES@@": tables,
        "@@LEFT_OUT@@": left_out or "<li>none: every chart had something to show</li>",
        "@@DATA@@": _script_json(data),
        "@@PLOTLY@@": _plotly_js(),
        "@@SCRIPT@@": (ASSETS / "report.js").read_text(encoding="utf-8"),
    }
    # One pass over the template: what goes in is never searched for markers again.
    return _MARKER.sub(lambda match: parts[match.group(0)], template)


def _script_json(data: dict) -> str:
    """JSON safe inside a <script> element: no ``<`` at all (a message saying
    ``</script>`` would end it, one saying ``<!--`` would start a comment); ``<`` only
    occurs in strings, where ``\\u003c`` means the same."""
    return orjson.dumps(data).decode().replace("<", "\\u003c")


@cache
def _plotly_js() -> str:
    """plotly.min.js as the plotly package ships it, without importing the package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise OSError("the plotly package is missing: pip install 'plotly>=6'")
    bundle = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return bundle.read_text(encoding="utf-8").replace("</script", "<\\/script")
