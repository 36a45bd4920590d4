"""Settings and engines pointed at the stand-in server (tests/llm/standin.py)."""

from __future__ import annotations

from typing import Any

from supportflow.settings import Settings
from supportflow.understanding.engines import load_engine
from supportflow.understanding.llm import LlmEngine
from tests.llm.standin import StandIn

MODEL = "openai:test-model"


def settings_for(standin: StandIn, model: str = MODEL, **kw: Any) -> Settings:
    # No warm-up unless a test asks: it would add a request to every test's record.
    kw.setdefault("llm_warm_up", False)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        model=model,
        llm_base_url=f"{standin.url}/v1",
        anthropic_base_url=standin.url,
        **kw,
    )


def make_engine(standin: StandIn, **kw: Any) -> LlmEngine:
    settings = settings_for(standin, **kw)
    engine = load_engine(settings.model, settings)
    assert isinstance(engine, LlmEngine)
    return engine


def answer(**kw: Any) -> dict[str, Any]:
    """A complete, valid structured answer; ``kw`` overrides fields."""
    base: dict[str, Any] = {
        "intent": "track_order",
        "confidence": 0.92,
        "urgent": False,
        "wants_human": False,
        "prompt_injection": False,
        "order_ids": [],
        "emails": [],
        "zip_codes": [],
        "person_names": [],
        "amounts": [],
        "cancel_reason": None,
    }
    return base | kw
