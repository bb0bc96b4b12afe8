"""What personas spent making their messages: LLM requests, tokens, cost and fallbacks.

All integers (cost in nano-dollars), so workers' figures merge on the master exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from harness.prices import TokenUsage, usd


@dataclass(slots=True)
class PersonaUsage:
    requests: int = 0
    """LLM requests answered (after the SDK's retries, if any)."""
    retries: int = 0
    cache_hits: int = 0
    """Answers served from the response cache: no request, no cost."""
    fallback_failed: int = 0
    """Turns played by the scripted engine because the request still failed after retries."""
    fallback_budget: int = 0
    """Turns played by the scripted engine because --llm-budget-usd was reached."""
    fallback_bad_output: int = 0
    """Answers that were not a valid burst, sent as one message (split when long)."""
    capped: int = 0
    """Answers with more messages than the burst allows, cut to the limit."""
    replayed_bursts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_nano_usd: int = 0

    def add_tokens(self, tokens: TokenUsage, cost_nano_usd: int) -> None:
        self.input_tokens += tokens.input
        self.output_tokens += tokens.output
        self.cache_write_tokens += tokens.cache_write
        self.cache_read_tokens += tokens.cache_read
        self.cost_nano_usd += cost_nano_usd

    def merge(self, other: PersonaUsage) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))

    def to_state(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> PersonaUsage:
        return cls(**state)

    def to_report(self) -> dict:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "fallback_failed": self.fallback_failed,
            "fallback_budget": self.fallback_budget,
            "fallback_bad_output": self.fallback_bad_output,
            "capped": self.capped,
            "replayed_bursts": self.replayed_bursts,
            "tokens": {
                "input": self.input_tokens,
                "output": self.output_tokens,
                "cache_write": self.cache_write_tokens,
                "cache_read": self.cache_read_tokens,
            },
            "cost_usd": round(usd(self.cost_nano_usd), 9),
        }
