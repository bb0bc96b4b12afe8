"""A local server that speaks Anthropic's Messages API, for the real SDK to talk to.

``POST /v1/messages`` checks a request the way the API does (its API key, ``API_KEY``
unless told another, as x-api-key or bearer token: a wrong one is a 401
``authentication_error`` that does not repeat it; version headers; model, max_tokens,
alternating roles starting with ``user``, text blocks, system blocks, ``cache_control``
and its four-breakpoint limit, ``output_config``; no sampling parameters) and answers
with a realistic body: ``usage`` counts input and output tokens (about four characters a
token) and prompt-cache writes and reads (the cached prefix is written on first sight,
read afterwards). By default the model answers the burst the instruction asks for;
``reply`` replaces that, ``fail_next`` queues errors: ``429`` (with ``retry-after``),
``529`` (overloaded_error), ``500`` (api_error) or ``malformed`` (a 200 whose body is
not JSON).

Every accepted or refused request is kept in ``requests`` (body and headers).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "sk-ant-test-0123456789abcdef-SECRET"
KNOWN_TOP_LEVEL = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "output_config",
    "metadata",
    "stop_sequences",
    "stream",
    "thinking",
    "tools",
    "tool_choice",
    "cache_control",
}
SAMPLING = {"temperature", "top_p", "top_k"}
EFFORTS = {"low", "medium", "high", "xhigh", "max"}


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


@dataclass
class Seen:
    body: dict | None
    headers: dict[str, str]
    status: int = 200
    t: float = field(default_factory=time.monotonic)
    usage: dict | None = None
    """The usage the server reported in its answer."""

    @property
    def api_key(self) -> str | None:
        """The key the request presented, as x-api-key or as a bearer token."""
        bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
        return self.headers.get("x-api-key") or bearer or None


@dataclass
class MessagesApi:
    """The server's state: what it saw, what it will do next."""

    api_key: str = API_KEY
    retry_after: str = "0.2"
    delay_s: float = 0.0
    """How long the model takes to answer (requests in flight are counted meanwhile)."""
    reply: Callable[[dict], str] | None = None
    requests: list[Seen] = field(default_factory=list)
    failures: deque[str] = field(default_factory=deque)
    cached_prefixes: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0

    def fail_next(self, kind: str, times: int = 1) -> None:
        self.failures.extend([kind] * times)

    @property
    def answered(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.status == 200]

    def handle(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        seen = Seen(body, headers)
        with self.lock:
            self.requests.append(seen)
            failure = self.failures.popleft() if self.failures else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            self._check_headers(seen)
            if not isinstance(body, dict):
                raise ApiError(400, "invalid_request_error", "request body is not a JSON object")
            validate(body)
            if failure is not None:
                return self._failure(seen, failure)
            message = self._answer(body)
            seen.usage = message["usage"]
        except ApiError as exc:
            seen.status = exc.status
            error = {"type": "error", "error": {"type": exc.kind, "message": exc.message}}
            return exc.status, {}, json.dumps(error).encode()
        finally:
            with self.lock:
                self.in_flight -= 1
        return 200, {}, json.dumps(message).encode()

    def _check_headers(self, seen: Seen) -> None:
        if seen.api_key != self.api_key:
            raise ApiError(401, "authentication_error", "invalid x-api-key")
        if not seen.headers.get("anthropic-version"):
            raise ApiError(400, "invalid_request_error", "anthropic-version header is required")

    def _failure(self, seen: Seen, kind: str) -> tuple[int, dict[str, str], bytes]:
        if kind == "malformed":
            return 200, {}, b'{"id": "msg_broken", "content": [{"type": "te'
        status, error_type, message, extra = {
            "429": (429, "rate_limit_error", "Number of requests has exceeded your rate limit", {
                "retry-after": self.retry_after}),
            "529": (529, "overloaded_error", "Overloaded", {}),
            "500": (500, "api_error", "Internal server error", {}),
        }[kind]  # fmt: skip
        seen.status = status
        error = {"type": "error", "error": {"type": error_type, "message": message}}
        return status, extra, json.dumps(error).encode()

    def _answer(self, body: dict) -> dict:
        text = self.reply(body) if self.reply is not None else default_burst(body)
        prefix, prefix_tokens = cached_prefix(body)
        with self.lock:
            hit = prefix is not None and prefix in self.cached_prefixes
            if prefix is not None:
                self.cached_prefixes.add(prefix)
        total = tokens(json.dumps(body.get("system", "")) + json.dumps(body["messages"]))
        written = prefix_tokens if prefix is not None and not hit else 0
        read = prefix_tokens if hit else 0
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": total - written - read,
                "output_tokens": tokens(text),
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": read,
                "service_tier": "standard",
            },
        }


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


def cached_prefix(body: dict) -> tuple[str | None, int]:
    """The prompt up to the last cache_control mark (system blocks only, as the persona
    marks them), its hash and its size in tokens."""
    system = body.get("system")
    if not isinstance(system, list):
        return None, 0
    marked = [i for i, block in enumerate(system) if "cache_control" in block]
    if not marked:
        return None, 0
    prefix = json.dumps([body["model"], system[: marked[-1] + 1]], sort_keys=True)
    return hashlib.sha256(prefix.encode()).hexdigest(), tokens(prefix)


def validate(body: dict) -> None:
    """The checks the real API makes on the fields a persona sends."""

    def bad(message: str) -> ApiError:
        return ApiError(400, "invalid_request_error", message)

    for name in body:
        if name in SAMPLING:
            raise bad(f"{name}: sampling parameters are not supported for this model")
        if name not in KNOWN_TOP_LEVEL:
            raise bad(f"{name}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad("model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise bad("max_tokens: must be a positive integer")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("messages: at least one message is required")
    breakpoints = 0
    for index, message in enumerate(messages):
        expected = "user" if index % 2 == 0 else "assistant"
        if message.get("role") != expected:
            raise bad(
                f"messages.{index}.role: roles must alternate between user and assistant, "
                "starting with user"
            )
        content = message.get("content")
        if isinstance(content, str):
            blocks = [{"type": "text", "text": content}]
        elif isinstance(content, list) and content:
            blocks = content
        else:
            raise bad(f"messages.{index}.content: must be a string or a non-empty list")
        breakpoints += check_blocks(blocks, f"messages.{index}.content", bad)
    if messages[-1]["role"] != "user":
        raise bad("messages: the last message must be from the user (no prefill here)")
    system = body.get("system")
    if isinstance(system, list):
        breakpoints += check_blocks(system, "system", bad)
    elif system is not None and not isinstance(system, str):
        raise bad("system: must be a string or a list of text blocks")
    if breakpoints > 4:
        raise bad("A maximum of 4 blocks with cache_control may be provided")
    output = body.get("output_config")
    if output is not None:
        effort = output.get("effort")
        if effort is not None and effort not in EFFORTS:
            raise bad(f"output_config.effort: must be one of {sorted(EFFORTS)}")
        format_ = output.get("format")
        if format_ is not None and (
            format_.get("type") != "json_schema" or not isinstance(format_.get("schema"), dict)
        ):
            raise bad("output_config.format: expected {type: json_schema, schema: {...}}")


def check_blocks(blocks: list, where: str, bad: Callable[[str], ApiError]) -> int:
    marks = 0
    for index, block in enumerate(blocks):
        if block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise bad(f"{where}.{index}: expected a text block")
        if not block["text"].strip():
            raise bad(f"{where}.{index}.text: text content blocks must be non-empty")
        if "cache_control" in block:
            if block["cache_control"].get("type") != "ephemeral":
                raise bad(f"{where}.{index}.cache_control.type: must be 'ephemeral'")
            marks += 1
    return marks


def instruction_of(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[-1]["text"]


def requested_count(body: dict) -> int:
    """How many messages the persona's instruction asks for (its upper bound)."""
    instruction = instruction_of(body)
    ranged = re.search(r"as (\d+) to (\d+) short", instruction)
    if ranged:
        return int(ranged.group(2))
    exact = re.search(r"exactly (\d+) short", instruction)
    return int(exact.group(1)) if exact else 1


def default_burst(body: dict) -> str:
    turn = sum(message["role"] == "assistant" for message in body["messages"])
    count = requested_count(body)
    messages = [f"turn {turn} message {k + 1} of {count}" for k in range(count)]
    return json.dumps({"messages": messages, "end_conversation": False})


class MessagesServer:
    """The API on 127.0.0.1 (or ``host``), in a thread; ``url`` is the SDK's base_url."""

    def __init__(self, host: str = "127.0.0.1", api_key: str = API_KEY) -> None:
        self.api = MessagesApi(api_key=api_key)
        api = self.api

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if self.path.split("?")[0] != "/v1/messages":
                    status, extra, payload = 404, {}, b'{"type":"error","error":{}}'
                else:
                    headers = {key.lower(): value for key, value in self.headers.items()}
                    status, extra, payload = api.handle(headers, raw)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:16]}")
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                """Quiet: the test output is for the tests."""

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> MessagesServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
