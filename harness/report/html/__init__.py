"""``report.html``: the run as a page a person opens (charts, tables, conversations as
chats), self-contained and offline, built from the files of a run's folder."""

from harness.report.html.page import HTML_FILE, write_html_report
from harness.report.html.sources import ReportFolderError

__all__ = ["HTML_FILE", "ReportFolderError", "write_html_report"]
