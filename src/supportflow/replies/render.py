"""Rendering a reply: a template's text from its name and the facts of the turn.

Templates are Jinja2 in a sandbox because merchants edit them: a template can format facts,
never reach Python objects. Facts come from tool results only, so a reply cannot state an
order status the store did not return.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.exceptions import TemplateRuntimeError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from supportflow.replies.sandbox import MAX_OUTPUT_CHARS, LimitedEnvironment, render_limited
from supportflow.replies.templates import CHANNEL_TEMPLATES, DEFAULT_TEMPLATES, reply_facts

# Limits on time, work and size (sandbox.py): a merchant's template runs in every turn.
_env = LimitedEnvironment(undefined=StrictUndefined, autoescape=False)
# The shipped templates are our code, and their length follows the store's data (an order
# of many items): no limits but on the reply's length.
_shipped_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class UnknownTemplate(KeyError):
    pass


class TemplateFailed(TemplateRuntimeError):
    """A merchant's template raised while rendering (say, 1/0). A TemplateError, so the
    caller answers with the default wording."""


@functools.lru_cache(maxsize=1024)
def compiled(source: str) -> Template:
    return _env.compile_limited(source)


@functools.lru_cache(maxsize=256)
def _shipped(source: str) -> Template:
    return _shipped_env.from_string(source)


def render(name: str, facts: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> str:
    facts = reply_facts(facts)
    override = (overrides or {}).get(name)
    if override:
        try:
            text = render_limited(compiled(override), facts)
        except TemplateError:
            raise
        except Exception as err:  # the merchant's code failed, not ours
            raise TemplateFailed(f"template failed: {type(err).__name__}") from err
    else:
        source = DEFAULT_TEMPLATES.get(name) or CHANNEL_TEMPLATES.get(name)
        if source is None:
            raise UnknownTemplate(name)
        text = _shipped(source).render(**facts)[:MAX_OUTPUT_CHARS]
    return " ".join(text.split())
