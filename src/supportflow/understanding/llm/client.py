"""Minimal sync clients for the two wire formats we speak: OpenAI chat completions (OpenAI, vLLM,
Ollama, llama.cpp server and other compatible servers) and Anthropic Messages.

Plain ``httpx`` rather than the vendor SDKs: both calls are one POST each, httpx is already a
dependency, and we need exact control over two things the SDKs hide: no retries (Temporal owns
retries and timeouts, a hidden retry loop would multiply the activity's time), and errors mapped
to our retryable / non-retryable classes. Sync because the activities run in a thread pool.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from supportflow.settings import Settings
from supportflow.understanding.llm.errors import (
    LlmBadOutput,
    LlmRejected,
    LlmTimeout,
    LlmUnavailable,
)

log = logging.getLogger(__name__)

ANTHROPIC_VERSION = "2023-06-01"
# Anthropic requires max_tokens; an understanding object is a few hundred tokens at most.
STRUCTURED_MAX_TOKENS = 1024
# Error bodies go into exception messages for diagnosis; cap them so a huge HTML error page
# does not flood the workflow history.
_ERROR_BODY_CHARS = 300
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

StructuredMode = Literal["tools", "json_schema"]


@dataclass(frozen=True)
class ToolSpec:
    """One function the model must call; its arguments are the structured answer."""

    name: str
    description: str
    schema: dict[str, Any]


class ChatClient(Protocol):
    provider: str
    model: str

    def structured(self, system: str, user: str, spec: ToolSpec) -> dict[str, Any]:
        """The model's answer as a JSON object shaped by ``spec`` (not yet validated)."""
        ...

    def text(self, system: str, user: str, max_tokens: int) -> str: ...

    def close(self) -> None: ...


def _parse_object(raw: str, what: str) -> dict[str, Any]:
    # Small local models often wrap JSON in a Markdown fence even when told not to; the fence
    # carries no meaning, so strip it rather than burn a retry.
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
    """Shared transport: one connection pool, timeouts, and HTTP error mapping."""

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
        # httpx never retries on its own (transport retries default to 0), which is what we want.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` for this client's model and temperature; the answer's JSON object."""
        payload = {"model": self.model, **payload}
        if self._temperature is not None:
            # Some reasoning models reject any temperature; None leaves it out.
            payload["temperature"] = self._temperature
        try:
            resp = self._http.post(path, json=payload)
        except httpx.TimeoutException as err:
            raise LlmTimeout(
                f"{self.provider} did not answer within {self._timeout:g}s ({type(err).__name__})"
            ) from None
        except httpx.TransportError as err:
            raise LlmUnavailable(f"{self.provider} unreachable: {type(err).__name__}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise LlmUnavailable(f"{self.provider} answered HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise LlmRejected(
                f"{self.provider} refused the request with HTTP {resp.status_code}: "
                f"{resp.text[:_ERROR_BODY_CHARS]}"
            )
        try:
            body = resp.json()
        except ValueError:
            raise LlmBadOutput(f"{self.provider} answered with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise LlmBadOutput(f"{self.provider} answered with JSON that is not an object")
        return body


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
        mode: StructuredMode = "tools",
        temperature: float | None = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {}
        if api_key is not None:
            # Local servers (Ollama, llama.cpp) need no key; the header is only sent when set.
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        super().__init__(base_url, model, headers, timeout_seconds, temperature, transport)
        self.mode: StructuredMode = mode

    def _complete(self, payload: dict[str, Any]) -> _OaChoice:
        body = self._post("chat/completions", payload)
        try:
            resp = _OaResponse.model_validate(body)
        except ValidationError as err:
            raise LlmBadOutput(
                f"openai response is not a chat completion ({err.error_count()} errors)"
            ) from None
        if not resp.choices:
            raise LlmBadOutput("openai response has no choices")
        return resp.choices[0]

    def structured(self, system: str, user: str, spec: ToolSpec) -> dict[str, Any]:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        if self.mode == "tools":
            payload: dict[str, Any] = {
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
        else:
            payload = {
                "messages": messages,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": spec.name, "schema": spec.schema, "strict": True},
                },
            }
        choice = self._complete(payload)
        for call in choice.message.tool_calls or []:
            if call.function.name == spec.name:
                return _parse_object(call.function.arguments, "tool call arguments")
        if choice.message.tool_calls:
            names = [c.function.name for c in choice.message.tool_calls]
            raise LlmBadOutput(f"model called {names}, not {spec.name}")
        # Servers that ignore tool_choice still often answer with the JSON as plain content.
        if choice.message.content:
            return _parse_object(choice.message.content, "message content")
        raise LlmBadOutput(f"empty answer (finish_reason={choice.finish_reason})")

    def text(self, system: str, user: str, max_tokens: int) -> str:
        choice = self._complete(
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                "max_tokens": max_tokens,
            }
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

    def _messages(self, payload: dict[str, Any]) -> _AnResponse:
        body = self._post("v1/messages", payload)
        try:
            return _AnResponse.model_validate(body)
        except ValidationError as err:
            raise LlmBadOutput(
                f"anthropic response is not a message ({err.error_count()} errors)"
            ) from None

    def structured(self, system: str, user: str, spec: ToolSpec) -> dict[str, Any]:
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
            }
        )
        for block in resp.content:
            if block.type == "tool_use" and block.name == spec.name:
                if not isinstance(block.input, dict):
                    raise LlmBadOutput("tool_use input is not an object")
                return block.input
        raise LlmBadOutput(f"no {spec.name} tool_use block (stop_reason={resp.stop_reason})")

    def text(self, system: str, user: str, max_tokens: int) -> str:
        resp = self._messages(
            {
                "max_tokens": max_tokens,
                "system": system,
                "messages": [{"role": "user", "content": user}],
            }
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
        mode: StructuredMode = (
            "json_schema" if settings.llm_structured_output == "json_schema" else "tools"
        )
        return OpenAiChat(
            settings.llm_base_url,
            model,
            settings.llm_api_key,
            settings.llm_timeout_seconds,
            mode=mode,
            temperature=temperature,
            transport=transport,
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
