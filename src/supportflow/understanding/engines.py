"""Choose the understanding engine from configuration (SUPPORTFLOW_MODEL).

- ``local``: the offline model trained from the shipped data (the default);
- ``openai:<model>``: any OpenAI-compatible server at ``SUPPORTFLOW_LLM_BASE_URL``;
- ``anthropic:<model>``: the Anthropic Messages API at ``SUPPORTFLOW_ANTHROPIC_BASE_URL``.
"""

from __future__ import annotations

from supportflow.settings import Settings, get_settings
from supportflow.understanding.contract import Engine


class UnknownEngine(ValueError):
    pass


def load_engine(name: str, settings: Settings | None = None) -> Engine:
    """The engine called ``name``; LLM engines read URL, key and timeout from ``settings``
    (the process settings when not given)."""
    if name == "local":
        from supportflow.understanding.local import get_local_engine

        return get_local_engine()
    # Split on the first colon only: Ollama model names carry a tag ("llama3.1:8b").
    provider, _, model = name.partition(":")
    # Imported lazily so a local-only worker never loads the LLM modules (and vice versa).
    from supportflow.understanding.llm import PROVIDERS, LlmEngine, make_client

    if provider in PROVIDERS and model.strip():
        return LlmEngine(make_client(provider, model.strip(), settings or get_settings()))
    raise UnknownEngine(
        f"unknown understanding engine {name!r}: use local, openai:<model> or anthropic:<model>"
    )
