"""Command-line options declared once, for every front end that runs conversations.

Locust's parser (``harness.locust.options``) and ``harness run`` render the same
declarations (``add_group``, onto a configargparse parser, which reads environment
variables too), so an option's name, default, environment variable and help text exist
in one place. A value's ``parse`` raises ValueError with a message that says what was
wrong.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    flag: str
    """``--time-scale``; its value is found under ``time_scale``."""
    help: str
    default: object = None
    parse: Callable[[str], object] | None = None
    env: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    switch: bool = False
    """Present or absent: takes no value."""
    repeat: bool = False
    """May be given more than once: its value is the list of them."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class OptionGroup:
    title: str
    description: str
    options: tuple[Option, ...]


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not value > 0:
        raise ValueError(f"must be greater than 0, got {text}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"must be at least {minimum}, got {text}")
    return value


def http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def add_group(parser: argparse.ArgumentParser, group: OptionGroup) -> None:
    """One argument group on a configargparse parser (as Locust's is)."""
    arguments = parser.add_argument_group(group.title, group.description)
    for option in group.options:
        settings: dict[str, object] = {"default": option.default, "help": option.help}
        if option.switch:
            settings["action"] = "store_true"
        else:
            if option.repeat:
                settings["action"] = "append"
            if option.parse is not None:
                settings["type"] = _argparse_type(option.parse)
            if option.choices is not None:
                settings["choices"] = option.choices
            if option.metavar is not None:
                settings["metavar"] = option.metavar
        if option.env is not None:
            settings["env_var"] = option.env
        arguments.add_argument(option.flag, **settings)


def _argparse_type(parse: Callable[[str], object]) -> Callable[[str], object]:
    """``parse`` with its ValueError's message as argparse's error."""

    def typed(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    typed.__name__ = parse.__name__
    return typed
