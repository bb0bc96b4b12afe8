"""Locust users: one User class per scenario, weighted, each holding conversations back to back.

A user's task starts one whole conversation on the process's event loop and parks its
greenlet until the conversation ends; when Locust stops the user, the conversation is
cancelled and counted as interrupted. A user whose conversation found the agent's side
unreachable (Telegram, the emulator, Redis) backs off before its next one, longer for
each such conversation in a row.
"""

from __future__ import annotations

import re
from typing import ClassVar
from weakref import WeakKeyDictionary

from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopUser

from harness.locust.runtime import LocustRuntime
from harness.scenario import Scenario

RUNTIMES: WeakKeyDictionary[Environment, LocustRuntime] = WeakKeyDictionary()


class ConversationUser(User):
    """A simulated person who holds one conversation after another."""

    abstract = True
    wait_time = constant(0)
    scenario: ClassVar[Scenario]

    conversations_held = 0
    outages_in_a_row = 0

    @task
    def converse(self) -> None:
        runtime = RUNTIMES[self.environment]
        limit = runtime.conversations_per_user
        if limit is not None and self.conversations_held >= limit:
            raise StopUser()
        self.conversations_held += 1
        submission = runtime.start_conversation(self.scenario, self.outages_in_a_row)
        try:
            result = submission.wait()
        finally:
            submission.cancel()
        outage = result is not None and result.outage is not None
        self.outages_in_a_row = self.outages_in_a_row + 1 if outage else 0


def class_name(scenario_name: str, taken: set[str]) -> str:
    """A Python identifier for a scenario, as Locust shows it: ``Rapid Fire Burst`` ->
    ``RapidFireBurst``; unique among ``taken``."""
    words = re.findall(r"\w+", scenario_name)
    name = "".join(word[:1].upper() + word[1:] for word in words) or "Scenario"
    if not name.isidentifier():
        name = f"Scenario{name}"
    unique, suffix = name, 2
    while unique in taken:
        unique, suffix = f"{name}{suffix}", suffix + 1
    taken.add(unique)
    return unique


def user_classes(scenarios: list[Scenario]) -> dict[str, type[ConversationUser]]:
    """One ConversationUser subclass per scenario with a positive weight."""
    taken: set[str] = set()
    classes: dict[str, type[ConversationUser]] = {}
    for scenario in scenarios:
        if scenario.weight == 0:
            continue
        name = class_name(scenario.name, taken)
        classes[name] = type(
            name,
            (ConversationUser,),
            {
                "scenario": scenario,
                "weight": scenario.weight,
                "__doc__": scenario.description or scenario.name,
                "__module__": __name__,
            },
        )
    return classes
