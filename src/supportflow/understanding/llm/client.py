"""Minimal sync clients for the two wire formats we speak: OpenAI chat completions (OpenAI, vLLM,
Ollama, llama.cpp's servers and other compatible servers) and Anthropic Messages.

Plain ``httpx`` rather than the vendor SDKs: both calls are one POST each, httpx is already a
dependency, and we need exact control over what the SDKs hide: no retries (a hidden retry loop
would multiply the time a turn waits), a deadline per call, the connection closed when we stop
waiting, error bodies kept (without private text, redact.py), and the structured-output mode
chosen per server. Sync because the activities run in a thread pool.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from supportflow.settings import Settings
from supportflow.understanding.llm.errors import (
    LlmBadOutput,
    LlmError,
    LlmRejected,
    LlmTimeout,
    LlmUnavailable,
)
from supportflow.understanding.llm.redact import safe_excerpt

log = logging.getLogger(__name__)

ANTHROPIC_VERSION = "2023-06-01"
# Anthropic requires max_tokens; an understanding object is a few hundred tokens at most.
STRUCTURED_MAX_TOKENS = 1024
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

StructuredMode = Literal["json_schema", "json_object", "tools"]
ModeSetting = Literal["auto", "json_schema", "json_object", "tools"]
# The order "auto" tries: the strictest guarantee first. json_schema constrains decoding to the
# schema (OpenAI strict mode, vLLM, Ollama, llama-server); llama-cpp-python refuses it (HTTP
# 500) but takes json_object with its "schema" extension, which it turns into a grammar;
# a forced tool call is the last resort (how well it is forced depends on the chat template).
AUTO_ORDER: tuple[StructuredMode, ...] = ("json_schema", "json_object", "tools")
# What an error body says when the server does not support a mode.
_UNSUPPORTED: dict[StructuredMode, re.Pattern[str]] = {
    "json_schema": re.compile(r"response_format|json_schema", re.IGNORECASE),
    "json_object": re.compile(r"response_format|json_object", re.IGNORECASE),
    "tools": re.compile(r"tool", re.IGNORECASE),
}
# How servers refuse a request field they do not take; an error body may not say which field
# (or may be empty), so on a mode that has never answered these count as a refusal too.
_REFUSALS = frozenset({400, 415, 422, 500, 501})
# Statuses that never mean "unsupported mode": auth, unknown model or route, rate limits.
_NOT_A_MODE_PROBLEM = frozenset({401, 403, 404, 408, 429})


@dataclass(frozen=True)
class ToolSpec:
    """One function the model must call; its arguments are the structured answer."""

    name: str
    description: str
    schema: dict[str, Any]


class ChatClient(Protocol):
    provider: str
    model: str

    def structured(
        self, system: str, user: str, spec: ToolSpec, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """The model's answer as a JSON object shaped by ``spec`` (not yet validated), within
        ``timeout`` seconds in all (the client's own timeout when None)."""
        ...

    def text(
        self, system: str, user: str, max_tokens: int, *, timeout: float | None = None
    ) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Budget:
    """The time one call may take in all, across a mode fallback and every HTTP phase."""

    limit: float
    deadline: float = field(default=0.0)

    @classmethod
    def start(cls, limit: float) -> Budget:
        return cls(limit, time.monotonic() + limit)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timed_out(self, provider: str, cause: str = "deadline") -> LlmTimeout:
        return LlmTimeout(f"{provider} did not answer within {self.limit:g}s ({cause})")

    def http_timeout(self, provider: str) -> httpx.Timeout:
        """httpx's timeouts are per phase (connect, write, each read); each gets what is left,
        and a server computing before it sends anything (the usual case) is cut at the
        deadline. Streams are checked against the deadline between events too."""
        left = self.remaining()
        if left <= 0:
            raise self.timed_out(provider)
        return httpx.Timeout(left)


def _parse_object(raw: str, what: str) -> dict[str, Any]:
    # Small local models often wrap JSON in a Markdown fence even when told not to; the fence
    # carries no meaning, so strip it rather than lose the answer.
    m = _FENCE.match(raw)
    if m:
        raw = m.group(1)
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise LlmBadOutput(f"{what} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise LlmBadOutput(f"{what} is JSON but not an object")
    return value


class _HttpClient:
    """Shared transport: one connection pool, deadlines, and HTTP error mapping."""

    provider = "?"

    def __init__(
        self,
        base_url: str,
        model: str,
        headers: dict[str, str],
        timeout_seconds: float,
        temperature: float | None,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.model = model
        self._temperature = temperature
        self._timeout = timeout_seconds
        # Never shown, even if an error body echoes the request's headers.
        self._secrets = [
            v for k, v in headers.items() if k.lower() in ("authorization", "x-api-key")
        ]
        # httpx never retries on its own (transport retries default to 0), which is what we want.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _budget(self, timeout: float | None) -> Budget:
        return Budget.start(self._timeout if timeout is None else timeout)

    def _payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        payload = {"model": self.model, **payload}
        if self._temperature is not None:
            # Some reasoning models reject any temperature; None leaves it out.
            payload["temperature"] = self._temperature
        return payload

    def _raise_for_status(self, status: int, body: str, private: list[str]) -> None:
        """Map an error status to our errors, keeping a safe excerpt of the body: it is the
        only clue to why a server refused (llama-cpp-python explains its 500s there)."""
        if status < 400:
            return
        detail = safe_excerpt(body, [*private, *self._secrets])
        message = f"{self.provider} answered HTTP {status}: {detail or '(empty body)'}"
        log.warning("%s", message)
        if status == 429 or status >= 500:
            raise LlmUnavailable(message, status=status, detail=detail)
        raise LlmRejected(message, status=status, detail=detail)

    def _post(self, path: str, payload: dict[str, Any], budget: Budget, private: list[str]) -> Any:
        """POST ``payload`` for this client's model and temperature; the answer's JSON.
        ``private``: texts of the request that must not appear in logs or errors."""
        try:
            resp = self._http.post(
                path, json=self._payload(payload), timeout=budget.http_timeout(self.provider)
            )
        except httpx.TimeoutException as err:
            # httpcore closes a connection whose answer it stopped reading, so the server
            # sees the client go away (tests/llm check that it does).
            raise budget.timed_out(self.provider, type(err).__name__) from None
        except httpx.TransportError as err:
            raise LlmUnavailable(f"{self.provider} unreachable: {type(err).__name__}") from None
        self._raise_for_status(resp.status_code, resp.text, private)
        try:
            return resp.json()
        except ValueError:
            raise LlmBadOutput(f"{self.provider} answered with a body that is not JSON") from None


# --- OpenAI chat completions -------------------------------------------------------------------


class _OaFunction(BaseModel):
    name: str
    arguments: str


class _OaToolCall(BaseModel):
    function: _OaFunction


class _OaMessage(BaseModel):
    content: str | None = None
    tool_calls: list[_OaToolCall] | None = None


class _OaChoice(BaseModel):
    message: _OaMessage
    finish_reason: str | None = None


class _OaResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    choices: list[_OaChoice]


@dataclass
class _StreamedChoice:
    """A streamed chat completion put back together: content and tool-call deltas."""

    content: str = ""
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None

    def add(self, event: Any) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("choices"), list):
            raise LlmBadOutput("openai stream event is not a chat completion chunk")
        for choice in event["choices"][:1]:
            delta = choice.get("delta") or {}
            self.content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = self.calls.setdefault(int(call.get("index", 0)), {"name": "", "args": ""})
                fn = call.get("function") or {}
                slot["name"] = fn.get("name") or slot["name"]
                slot["args"] += fn.get("arguments") or ""
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def response(self) -> dict[str, Any]:
        calls = [
            {"function": {"name": c["name"], "arguments": c["args"]}}
            for _, c in sorted(self.calls.items())
        ]
        message = {"content": self.content or None, "tool_calls": calls or None}
        return {"choices": [{"message": message, "finish_reason": self.finish_reason}]}


class OpenAiChat(_HttpClient):
    """POST {base_url}/chat/completions; base_url ends in /v1 as with the OpenAI SDK
    (e.g. http://127.0.0.1:11434/v1 for Ollama, http://127.0.0.1:8000/v1 for vLLM)."""

    provider = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None,
        timeout_seconds: float,
        mode: ModeSetting = "auto",
        temperature: float | None = 0.0,
        transport: httpx.BaseTransport | None = None,
        stream: bool = False,
    ) -> None:
        headers = {}
        if api_key is not None:
            # Local servers (Ollama, llama.cpp) need no key; the header is only sent when set.
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        super().__init__(base_url, model, headers, timeout_seconds, temperature, transport)
        self._auto = mode == "auto"
        # The mode in use; "auto" starts at the strictest and settles on what the server takes.
        self.mode: StructuredMode = AUTO_ORDER[0] if mode == "auto" else mode
        self._stream = stream
        self._mode_lock = threading.Lock()
        # Modes this server has answered in: a later error in one of them is not a refusal.
        self._proven: set[StructuredMode] = set()

    def _complete(self, payload: dict[str, Any], budget: Budget, private: list[str]) -> _OaChoice:
        if self._stream:
            body = self._post_streamed(payload, budget, private)
        else:
            body = self._post("chat/completions", payload, budget, private)
        try:
            resp = _OaResponse.model_validate(body)
        except ValidationError as err:
            raise LlmBadOutput(
                f"openai response is not a chat completion ({err.error_count()} errors)"
            ) from None
        if not resp.choices:
            raise LlmBadOutput("openai response has no choices")
        return resp.choices[0]

    def _post_streamed(
        self, payload: dict[str, Any], budget: Budget, private: list[str]
    ) -> dict[str, Any]:
        """The answer as server-sent events, checked against the deadline after each one.
        Leaving the ``with`` block early closes the connection, and a server that watches for
        that while streaming (llama-cpp-python, vLLM, llama-server, Ollama) stops generating."""
        out = _StreamedChoice()
        try:
            with self._http.stream(
                "POST",
                "chat/completions",
                json=self._payload({**payload, "stream": True}),
                timeout=budget.http_timeout(self.provider),
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._raise_for_status(resp.status_code, resp.text, private)
                for line in resp.iter_lines():
                    if budget.remaining() <= 0:
                        raise budget.timed_out(self.provider, "stream")
                    # Blank lines end events; ":" lines are keep-alive comments.
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except ValueError:
                        raise LlmBadOutput("openai stream event is not JSON") from None
                    if isinstance(event, dict) and "error" in event:
                        detail = safe_excerpt(json.dumps(event), [*private, *self._secrets])
                        log.warning("openai stream ended with an error: %s", detail)
                        raise LlmUnavailable(f"openai stream error: {detail}", detail=detail)
                    out.add(event)
        except httpx.TimeoutException as err:
            raise budget.timed_out(self.provider, type(err).__name__) from None
        except httpx.TransportError as err:
            raise LlmUnavailable(f"openai unreachable: {type(err).__name__}") from None
        return out.response()

    def _structured_payload(
        self, mode: StructuredMode, messages: list[dict[str, str]], spec: ToolSpec
    ) -> dict[str, Any]:
        if mode == "tools":
            return {
                "messages": messages,
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": spec.name,
                            "description": spec.description,
                            "parameters": spec.schema,
                        },
                    }
                ],
                # Forcing the one function makes the answer always arrive as arguments.
                "tool_choice": {"type": "function", "function": {"name": spec.name}},
            }
        if mode == "json_object":
            # "schema" is llama-cpp-python's (and llama-server's) extension of JSON mode: they
            # compile it into a grammar. The prompt describes the fields for servers without it.
            return {
                "messages": messages,
                "response_format": {"type": "json_object", "schema": spec.schema},
            }
        return {
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": spec.name, "schema": spec.schema, "strict": True},
            },
        }

    def _move_on(self, mode: StructuredMode, err: LlmError) -> bool:
        """In "auto": when the server refused ``mode`` (an error that names it, or a typical
        refusal status before the mode ever answered), switch this client to the next mode for
        this and every later call, and say so. False when that does not apply."""
        if not self._auto or mode in self._proven or err.status is None:
            return False
        if err.status in _NOT_A_MODE_PROBLEM:
            return False
        if err.status not in _REFUSALS and not _UNSUPPORTED[mode].search(err.detail):
            return False
        at = AUTO_ORDER.index(mode)
        with self._mode_lock:
            if at + 1 >= len(AUTO_ORDER):
                # Nothing was taken: not a mode problem after all (or not one we can solve).
                # Start over at the next call rather than stay on the weakest mode.
                self.mode = AUTO_ORDER[0]
                return False
            if self.mode == mode:
                self.mode = AUTO_ORDER[at + 1]
                log.warning(
                    "openai server %s does not take %s structured output (HTTP %s); using %s "
                    "from now on (set SUPPORTFLOW_LLM_STRUCTURED_OUTPUT to skip this check)",
                    self.model,
                    mode,
                    err.status,
                    self.mode,
                )
        return True

    def structured(
        self, system: str, user: str, spec: ToolSpec, *, timeout: float | None = None
    ) -> dict[str, Any]:
        budget = self._budget(timeout)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        while True:
            mode = self.mode
            try:
                choice = self._complete(
                    self._structured_payload(mode, messages, spec), budget, [user]
                )
            except (LlmRejected, LlmUnavailable) as err:
                if self._move_on(mode, err):
                    continue
                raise
            # It answered; whether the answer is usable is the model's part, not the mode's.
            self._proven.add(mode)
            break
        for call in choice.message.tool_calls or []:
            if call.function.name == spec.name:
                return _parse_object(call.function.arguments, "tool call arguments")
        if choice.message.tool_calls:
            names = [c.function.name for c in choice.message.tool_calls]
            raise LlmBadOutput(f"model called {names}, not {spec.name}")
        # JSON modes answer in the content; servers that ignore tool_choice often do too.
        if choice.message.content:
            return _parse_object(choice.message.content, "message content")
        raise LlmBadOutput(f"empty answer (finish_reason={choice.finish_reason})")

    def text(self, system: str, user: str, max_tokens: int, *, timeout: float | None = None) -> str:
        choice = self._complete(
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "max_tokens": max_tokens,
            },
            self._budget(timeout),
            [user],
        )
        if not choice.message.content:
            raise LlmBadOutput(f"empty answer (finish_reason={choice.finish_reason})")
        return choice.message.content


# --- Anthropic Messages ------------------------------------------------------------------------


class _AnBlock(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None
    name: str | None = None
    input: Any = None


class _AnResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: list[_AnBlock]
    stop_reason: str | None = None


class AnthropicChat(_HttpClient):
    """POST {base_url}/v1/messages; base_url as with the Anthropic SDK (https://api.anthropic.com)."""

    provider = "anthropic"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None,
        timeout_seconds: float,
        temperature: float | None = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key is not None:
            headers["x-api-key"] = api_key.get_secret_value()
        super().__init__(base_url, model, headers, timeout_seconds, temperature, transport)

    def _messages(self, payload: dict[str, Any], budget: Budget, user: str) -> _AnResponse:
        body = self._post("v1/messages", payload, budget, [user])
        try:
            return _AnResponse.model_validate(body)
        except ValidationError as err:
            raise LlmBadOutput(
                f"anthropic response is not a message ({err.error_count()} errors)"
            ) from None

    def structured(
        self, system: str, user: str, spec: ToolSpec, *, timeout: float | None = None
    ) -> dict[str, Any]:
        resp = self._messages(
            {
                "max_tokens": STRUCTURED_MAX_TOKENS,
                "system": system,
                "messages": [{"role": "user", "content": user}],
                "tools": [
                    {
                        "name": spec.name,
                        "description": spec.description,
                        "input_schema": spec.schema,
                    }
                ],
                "tool_choice": {"type": "tool", "name": spec.name},
            },
            self._budget(timeout),
            user,
        )
        for block in resp.content:
            if block.type == "tool_use" and block.name == spec.name:
                if not isinstance(block.input, dict):
                    raise LlmBadOutput("tool_use input is not an object")
                return block.input
        raise LlmBadOutput(f"no {spec.name} tool_use block (stop_reason={resp.stop_reason})")

    def text(self, system: str, user: str, max_tokens: int, *, timeout: float | None = None) -> str:
        resp = self._messages(
            {
                "max_tokens": max_tokens,
                "system": system,
                "messages": [{"role": "user", "content": user}],
            },
            self._budget(timeout),
            user,
        )
        out = "".join(b.text or "" for b in resp.content if b.type == "text")
        if not out.strip():
            raise LlmBadOutput(f"empty answer (stop_reason={resp.stop_reason})")
        return out


# --- configuration -----------------------------------------------------------------------------

PROVIDERS = ("openai", "anthropic")


def make_client(
    provider: str, model: str, settings: Settings, transport: httpx.BaseTransport | None = None
) -> ChatClient:
    """A client for ``provider`` ("openai" | "anthropic") and ``model`` from the settings."""
    temperature = settings.llm_temperature if settings.llm_temperature >= 0 else None
    if provider == "openai":
        return OpenAiChat(
            settings.llm_base_url,
            model,
            settings.llm_api_key,
            settings.llm_timeout_seconds,
            mode=settings.llm_structured_output,
            temperature=temperature,
            transport=transport,
            stream=settings.llm_stream,
        )
    if provider == "anthropic":
        return AnthropicChat(
            settings.anthropic_base_url,
            model,
            settings.anthropic_api_key,
            settings.llm_timeout_seconds,
            temperature=temperature,
            transport=transport,
        )
    raise ValueError(f"unknown LLM provider {provider!r}: use one of {PROVIDERS}")
