"""The LLM understanding engine (OpenAI-compatible or Anthropic) behind the ``Engine`` interface."""

from supportflow.understanding.llm.client import (
    PROVIDERS,
    AnthropicChat,
    ChatClient,
    OpenAiChat,
    ToolSpec,
    make_client,
)
from supportflow.understanding.llm.engine import LlmEngine, LlmReading
from supportflow.understanding.llm.errors import (
    LlmBadOutput,
    LlmError,
    LlmRejected,
    LlmTimeout,
    LlmUnavailable,
)
from supportflow.understanding.llm.labels import known_intents

__all__ = [
    "PROVIDERS",
    "AnthropicChat",
    "ChatClient",
    "LlmBadOutput",
    "LlmEngine",
    "LlmError",
    "LlmReading",
    "LlmRejected",
    "LlmTimeout",
    "LlmUnavailable",
    "OpenAiChat",
    "ToolSpec",
    "known_intents",
    "make_client",
]
