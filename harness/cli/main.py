"""The ``harness`` command: scenario tooling beside the Locust runs."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from harness.cli.accounts import accounts_app
from harness.cli.botapi import botapi_app
from harness.cli.errors import OneLineErrors
from harness.cli.health import health
from harness.cli.login import login
from harness.cli.regrade import regrade
from harness.cli.replay import generate, import_conversations
from harness.cli.report import report
from harness.cli.run import command as run_command
from harness.report.model import Report
from harness.scenario import Scenario, ScenarioError, load_scenarios

app = typer.Typer(
    cls=OneLineErrors,
    help="chatstorm: load-test conversational agents reached through Telegram.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(accounts_app, name="accounts")
app.command()(login)
app.add_typer(botapi_app, name="botapi")
app.command()(generate)
app.command("import")(import_conversations)
app.command()(regrade)
app.command()(report)
app.command()(health)
app.command(
    "run",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(run_command)
ScenarioPaths = typer.Argument(..., help="Scenario files or folders.")


@app.command()
def validate(
    paths: list[Path] = ScenarioPaths,
) -> None:
    """Check scenario files; print each problem as file:line: field.path: message."""
    try:
        scenarios = load_scenarios(paths)
    except ScenarioError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        if len(exc.problems) > 1:  # one problem is its own line, and no more
            typer.echo(f"{len(exc.problems)} problems found", err=True)
        raise typer.Exit(2) from None
    for scenario in scenarios:
        judged = ""
        if scenario.needs_llm_judge:
            judged = "  judged, needs the LLM judge (ANTHROPIC_API_KEY, or --no-judge)"
        elif scenario.judged:
            judged = "  judged offline"
        typer.echo(f"ok  {scenario.name}  [{scenario.pattern_text}]{judged}")


@app.command()
def schema(
    report: bool = typer.Option(False, "--report", help="The schema of report.json instead."),
) -> None:
    """Print the JSON Schema of a scenario file (for editors and CI linting), or with
    --report of report.json (for tools that read reports)."""
    document = (Report if report else Scenario).model_json_schema()
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
