"""The ``harness`` commands' bad input: one line naming the option and where to look,
exit code 2, as ``harness run`` and the locustfile answer it (Typer would print the
usage and a framed box: five lines or more).

Option values are checked by ``harness.options``' parse functions (``parser=``), the
same ones the run options use."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup

CHECK_PREFIX = "Value error, "
"""What Typer puts before a parse function's message."""


class OneLineErrors(TyperGroup):
    """The top-level group: a usage error becomes ``harness <command>: <what> (see ...)``."""

    def main(
        self, args: Sequence[str] | None = None, *extra: Any, standalone_mode: bool = True, **kw
    ) -> Any:
        if not standalone_mode:
            return super().main(args, *extra, standalone_mode=False, **kw)
        try:
            code = super().main(args, *extra, standalone_mode=False, **kw)
        except NoArgsIsHelpError as exc:  # the help, not an error: Typer's rich help
            sys.stderr.write(exc.format_message())  # is printed already, the plain is here
            sys.exit(exc.exit_code)
        except typer.TyperException as exc:
            context = getattr(exc, "ctx", None)
            command = context.command_path if context is not None else "harness"
            message = " ".join(exc.format_message().replace(CHECK_PREFIX, "").split())
            sys.stderr.write(f"{command}: {message} (see `{command} --help`)\n")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("Aborted!\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
