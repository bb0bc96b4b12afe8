"""What LLM tokens cost: the price table, and cost in integer nano-dollars.

Costs are kept as whole nano-dollars (1e-9 USD) so that figures added up on workers and
merged on the master are exact, whatever the order. Prices are USD per million tokens,
as Anthropic publishes them; a scenario names its own (``persona.llm.price``) for a
model that is not in this table, or when the table is out of date.
"""

from __future__ import annotations

from dataclasses import dataclass

NANO_PER_USD = 1_000_000_000


@dataclass(frozen=True)
class Price:
    """USD per million tokens: plain input, output, prompt-cache writes and reads."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class TokenUsage:
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0


def _family(input_usd: float, output_usd: float) -> Price:
    """Anthropic's rule: 5-minute cache writes cost 1.25x input, cache reads 0.1x."""
    return Price(input_usd, output_usd, input_usd * 1.25, input_usd * 0.1)


PRICES: dict[str, Price] = {
    "claude-haiku-4-5": _family(1.0, 5.0),
    "claude-haiku-4-5-20251001": _family(1.0, 5.0),
    "claude-sonnet-4-5": _family(3.0, 15.0),
    "claude-sonnet-4-5-20250929": _family(3.0, 15.0),
    "claude-sonnet-4-6": _family(3.0, 15.0),
    "claude-opus-4-5": _family(5.0, 25.0),
    "claude-opus-4-5-20251101": _family(5.0, 25.0),
    "claude-opus-4-6": _family(5.0, 25.0),
}


def cost_nano_usd(usage: TokenUsage, price: Price) -> int:
    """What ``usage`` cost at ``price``, in nano-dollars."""
    per_token_nano = NANO_PER_USD / 1_000_000  # a price per million tokens, per token
    total = (
        usage.input * price.input
        + usage.output * price.output
        + usage.cache_write * price.cache_write
        + usage.cache_read * price.cache_read
    )
    return round(total * per_token_nano)


def usd(nano: int) -> float:
    return nano / NANO_PER_USD
