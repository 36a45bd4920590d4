"""Choose the understanding engine from configuration (SUPPORTFLOW_MODEL).

- ``local``: the offline model trained from the shipped data (the default);
- ``openai:<model>``: any OpenAI-compatible server at ``SUPPORTFLOW_LLM_BASE_URL``;
- ``anthropic:<model>``: the Anthropic Messages API at ``SUPPORTFLOW_ANTHROPIC_BASE_URL``.

An LLM engine always has the local engine beside it: it gates the model's reading and is the
answer when the model fails or is slow (understanding/llm/engine.py).
"""

from __future__ import annotations

from supportflow.settings import Settings, get_settings
from supportflow.understanding.contract import Engine


class UnknownEngine(ValueError):
    pass


def load_engine(
    name: str,
    settings: Settings | None = None,
    *,
    budget_seconds: float | None = None,
    warm_up: bool | None = None,
) -> Engine:
    """The engine called ``name``; LLM engines read URL, key, timeouts and modes from
    ``settings`` (the process settings when not given).

    ``budget_seconds``: how long an LLM engine waits for the model per message (default: the
    turn budget, ``llm_turn_budget_seconds``). ``warm_up``: send the warm-up request in the
    background now (default: ``llm_warm_up``)."""
    from supportflow.understanding.local import get_local_engine

    if name == "local":
        return get_local_engine()
    # Split on the first colon only: Ollama model names carry a tag ("llama3.1:8b").
    provider, _, model = name.partition(":")
    # Imported lazily so a local-only worker never loads the LLM modules.
    from supportflow.understanding.llm import PROVIDERS, LlmEngine, make_client

    if provider not in PROVIDERS or not model.strip():
        raise UnknownEngine(
            f"unknown understanding engine {name!r}: use local, openai:<model> or anthropic:<model>"
        )
    settings = settings or get_settings()
    engine = LlmEngine(
        make_client(provider, model.strip(), settings),
        get_local_engine(),
        settings.llm_turn_budget_seconds if budget_seconds is None else budget_seconds,
    )
    if settings.llm_warm_up if warm_up is None else warm_up:
        engine.start_warm_up()
    return engine
