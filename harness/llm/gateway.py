"""The one way personas reach Claude: cached, bounded in concurrency and cost, accounted.

Every LLM persona of a process shares one gateway on the process's event loop. A request
is first looked up in the response cache; a hit costs nothing and sends nothing, and so
does a request identical to one already in flight: it waits for that one's answer. A miss
waits for one of ``concurrency`` slots, then goes out through the official SDK, whose own
retry loop (``max_retries``) backs off exponentially with jitter on 408/409/429/5xx and
connection errors and honours ``retry-after``. A request that still fails, or one that
would start after the budget is spent, gets no answer: the persona plays that turn
scripted. Each of these is counted; the first of each kind is logged once.

The budget holds for the whole run: a process stops asking when it has spent it alone,
or when its master says the workers together have (``stop_for_run``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import anthropic
from anthropic import AsyncAnthropic
from anthropic._base_client import get_platform
from redis.exceptions import RedisError

from harness.llm.cache import ResponseCache, cache_key
from harness.llm.request import GatewaySettings, LlmRequest, LlmUnavailable
from harness.metrics.persona_usage import PersonaUsage
from harness.prices import TokenUsage, cost_nano_usd, usd

log = logging.getLogger("chatstorm")
# One INFO line per HTTP request would drown a load run's log; failures are ours to tell.
for _chatty in ("httpx2", "httpx", "anthropic"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)
RETRY_COUNT_HEADER = "x-stainless-retry-count"  # the SDK numbers each attempt's retries


@dataclass
class LlmAnswer:
    """The model's text, or None when the turn must fall back; ``usage`` says what it took."""

    text: str | None
    usage: PersonaUsage


class LlmGateway:
    def __init__(self, settings: GatewaySettings, cache: ResponseCache) -> None:
        self.settings = settings
        self.cache = cache
        self.spent_nano_usd = 0
        self._run_spent = False
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._clients: dict[str | None, AsyncAnthropic] = {}
        self._warned: set[str] = set()
        self._in_flight: dict[str, asyncio.Future[str | None]] = {}

    def client(self, base_url: str | None = None) -> AsyncAnthropic:
        """The SDK client for an endpoint (--llm-base-url, else the scenario's, else
        ANTHROPIC_BASE_URL); credentials come from the environment, as the SDK reads them."""
        endpoint = self.settings.base_url or base_url
        client = self._clients.get(endpoint)
        if client is None:
            fix = (
                "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN), or run these scenarios with "
                "engine: scripted or replay"
            )
            try:
                client = AsyncAnthropic(
                    base_url=endpoint,
                    max_retries=self.settings.max_retries,
                    timeout=self.settings.timeout_s,
                )
            except anthropic.CredentialsError as exc:
                raise LlmUnavailable(f"cannot load Anthropic credentials ({exc}); {fix}") from None
            if client.api_key is None and client.auth_token is None and client.credentials is None:
                raise LlmUnavailable(f"engine: llm needs an Anthropic API key: {fix}")
            # Left unset, the SDK looks its platform up in the loop's default executor on
            # the first request; under Locust (gevent-patched threading) that executor's
            # thread then blocks the process's exit. The lookup is cheap: done here.
            client._platform = get_platform()
            self._clients[endpoint] = client
        return client

    @property
    def budget_reached(self) -> bool:
        budget = self.settings.budget_usd
        return self._run_spent or (budget is not None and usd(self.spent_nano_usd) >= budget)

    def stop_for_run(self) -> None:
        """The run's workers together have spent the budget: no new requests here either."""
        self._run_spent = True

    async def ask(self, request: LlmRequest) -> LlmAnswer:
        key = cache_key(request.cache_material())
        cached = await self._cached(key)
        if cached is not None:
            return LlmAnswer(cached["text"], PersonaUsage(cache_hits=1))
        leader = self._in_flight.get(key)
        if leader is not None:
            shared = await asyncio.shield(leader)
            if shared is not None:
                return LlmAnswer(shared, PersonaUsage(cache_hits=1))
            return await self._ask_anew(request, key)  # the first asker got nothing
        future = self._in_flight[key] = asyncio.get_running_loop().create_future()
        text: str | None = None
        try:
            answer = await self._ask_anew(request, key)
            text = answer.text
            return answer
        finally:
            del self._in_flight[key]
            future.set_result(text)

    async def _ask_anew(self, request: LlmRequest, key: str) -> LlmAnswer:
        if self.budget_reached:
            return self._over_budget()
        async with self._slots:
            if self.budget_reached:  # spent while this call waited for a slot
                return self._over_budget()
            return await self._send(request, key)

    def _over_budget(self) -> LlmAnswer:
        """No request: the persona plays this turn scripted, counted as a budget fallback."""
        self._warn_budget()
        return LlmAnswer(None, PersonaUsage(fallback_budget=1))

    async def _send(self, request: LlmRequest, key: str) -> LlmAnswer:
        client = self.client(request.base_url)
        try:
            raw = await client.messages.with_raw_response.create(**request.create_arguments())
            message = await raw.parse()
        except (anthropic.APIError, ValueError) as exc:  # ValueError: a body that is not JSON
            self._warn_once(
                f"{request.fallback}:{type(exc).__name__}",
                f"chatstorm: an LLM request failed ({_describe(exc)}); {request.fallback}, "
                "and so for every request that fails (counted in the report)",
            )
            return LlmAnswer(None, PersonaUsage(fallback_failed=1, retries=_retries(exc)))
        text = "".join(block.text for block in message.content if block.type == "text")
        tokens = TokenUsage(
            input=message.usage.input_tokens,
            output=message.usage.output_tokens,
            cache_write=message.usage.cache_creation_input_tokens or 0,
            cache_read=message.usage.cache_read_input_tokens or 0,
        )
        cost = cost_nano_usd(tokens, request.price)
        self.spent_nano_usd += cost
        usage = PersonaUsage(requests=1, retries=raw.retries_taken)
        usage.add_tokens(tokens, cost)
        await self._store(key, {"text": text, "model": message.model})
        return LlmAnswer(text, usage)

    async def _cached(self, key: str) -> dict | None:
        """The cached answer; a cache that fails is a miss (the run goes on, paying)."""
        try:
            found = await self.cache.get(key)
        except (RedisError, OSError) as exc:
            self._warn_cache(exc)
            return None
        self._cache_works()
        return found

    async def _store(self, key: str, value: dict) -> None:
        try:
            await self.cache.put(key, value)
        except (RedisError, OSError) as exc:
            self._warn_cache(exc)
            return
        self._cache_works()

    def _cache_works(self) -> None:
        """After a failure, say once that the cache answers again (a restarted Redis)."""
        if "cache" in self._warned:
            self._warned.discard("cache")
            log.warning("chatstorm: the LLM response cache works again")

    def _warn_cache(self, exc: Exception) -> None:
        self._warn_once(
            "cache",
            f"chatstorm: the LLM response cache failed ({type(exc).__name__}: {exc}); "
            "answers are requested and paid for until it works again",
        )

    def _warn_budget(self) -> None:
        spent = f"${usd(self.spent_nano_usd):.4f} by this process"
        if self._run_spent:
            whose = f"the run's LLM budget is spent ({spent}, the rest by other workers)"
        else:
            whose = f"the LLM budget of ${self.settings.budget_usd:g} is spent ({spent})"
        self._warn_once(
            "budget",
            f"chatstorm: {whose}: no new LLM requests; LLM personas answer from the cache "
            "or play their turns scripted",
        )

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        await self.cache.close()


def _describe(exc: anthropic.APIError | ValueError) -> str:
    """One line: the error class, the HTTP status and the API's own message, no request."""
    if not isinstance(exc, anthropic.APIError):
        return f"malformed response body: {type(exc).__name__}"
    if isinstance(exc, anthropic.APIStatusError):
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        detail = error.get("message") if isinstance(error, dict) else None
        return f"{type(exc).__name__}, HTTP {exc.status_code}: {detail or exc.message}"
    return f"{type(exc).__name__}: {exc.message}"


def _retries(exc: anthropic.APIError | ValueError) -> int:
    """How many retries the SDK made before giving up (it numbers each attempt)."""
    request = getattr(exc, "request", None)
    if request is None:
        return 0
    try:
        return int(request.headers.get(RETRY_COUNT_HEADER, 0))
    except ValueError:
        return 0
