"""What a call to Claude is, and how the gateway is set, without the SDK.

Importing the anthropic SDK takes about two seconds; only runs that have LLM personas
import it (``harness.llm.gateway``). Options, scenarios and personas need just these.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.prices import Price

DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_RETRIES = 4
DEFAULT_TIMEOUT_S = 60.0


class LlmUnavailable(ValueError):
    """The LLM cannot be used at all (no credentials); the message says how to fix it."""


@dataclass(frozen=True)
class LlmRequest:
    """One call to the Messages API, with what the cache key and the accounting need."""

    model: str
    max_tokens: int
    system: list[dict]
    messages: list[dict]
    schema: dict
    price: Price
    effort: str | None = None
    base_url: str | None = None
    seed: str = "0"
    """Part of the cache key only: another seed is another recording."""
    fallback: str = "that turn is played by the scripted persona"
    """What happens when the request fails, for the log (not part of the cache key)."""

    def cache_material(self) -> dict:
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "effort": self.effort,
            "system": self.system,
            "messages": self.messages,
            "schema": self.schema,
            "seed": self.seed,
        }

    def create_arguments(self) -> dict:
        output_config: dict = {"format": {"type": "json_schema", "schema": self.schema}}
        if self.effort is not None:
            output_config["effort"] = self.effort
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": self.system,
            "messages": self.messages,
            "output_config": output_config,
        }


@dataclass(frozen=True)
class GatewaySettings:
    budget_usd: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_s: float = DEFAULT_TIMEOUT_S
    base_url: str | None = None
    """Overrides every scenario's endpoint (--llm-base-url)."""
