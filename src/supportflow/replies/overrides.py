"""Tenants' own reply wording: validated when saved, applied when a reply is composed.

A tenant template may use only the variables its default template uses, because those are
the facts the procedure supplies; anything else would fail at the customer's turn. That is
checked once, when the merchant saves it, so a bad template is a 422 for the merchant,
never a broken reply for a customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import ReplyTemplate
from supportflow.replies.render import compiled
from supportflow.replies.sandbox import LimitedEnvironment, RenderLimitExceeded, render_limited
from supportflow.replies.templates import CHANNEL_TEMPLATES, DEFAULT_TEMPLATES, base_template

MAX_TEMPLATE_CHARS = 2000


class UnknownTemplateName(KeyError):
    pass


class InvalidTemplate(ValueError):
    pass


@dataclass(frozen=True)
class TemplateView:
    name: str
    default: str
    override: str | None


_parser = LimitedEnvironment()
# Names a template may use besides its facts: the sandbox's few globals (range, dict...).
_GLOBALS = frozenset(n for n in _parser.globals if not n.startswith("_"))


# What each fact is in the trial render: text about as long as real facts, so a template
# whose work grows with its facts is caught on save too.
_SAMPLE = "sample text of a fact"


def variables(source: str) -> set[str]:
    return set(meta.find_undeclared_variables(_parser.parse(source))) - _GLOBALS


def _known(name: str) -> bool:
    """A shipped template, or one's wording for a channel (`order_status.sms`)."""
    return base_template(name) in DEFAULT_TEMPLATES


def _default_of(name: str) -> str:
    return CHANNEL_TEMPLATES.get(name) or DEFAULT_TEMPLATES[base_template(name)]


def validate(name: str, source: str) -> None:
    if not _known(name):
        raise UnknownTemplateName(name)
    if not source.strip():
        raise InvalidTemplate("template is empty")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise InvalidTemplate(f"template is over {MAX_TEMPLATE_CHARS} characters")
    try:
        used = variables(source)
    except TemplateSyntaxError as err:
        raise InvalidTemplate(f"template syntax error on line {err.lineno}: {err.message}") from err
    allowed = variables(DEFAULT_TEMPLATES[base_template(name)])
    unknown = used - allowed
    if unknown:
        raise InvalidTemplate(
            f"unknown variable(s) {', '.join(sorted(unknown))}; this reply can use: "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    # A trial render catches what parsing cannot: the sandbox refusing attribute access
    # (an escape attempt), a filter that does not exist, or a template that breaks the
    # limits on time, work and size (sandbox.py), which every customer's turn would meet.
    try:
        render_limited(compiled(source), dict.fromkeys(used, _SAMPLE))
    except SecurityError as err:
        raise InvalidTemplate(
            f"template uses something templates may not use ({err.message})"
        ) from err
    except RenderLimitExceeded as err:
        raise InvalidTemplate(f"template goes past a limit: {err.message}") from err
    except TemplateError as err:
        raise InvalidTemplate(f"template does not render: {err.message}") from err
    except Exception as err:  # 1/0, int('x'), deep recursion: the template's fault
        raise InvalidTemplate(f"template does not render: {type(err).__name__}") from err


class TemplateStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def overrides(self, tenant_id: str) -> dict[str, str]:
        with self._sessions() as s:
            rows = s.execute(
                select(ReplyTemplate.name, ReplyTemplate.source).where(
                    ReplyTemplate.tenant_id == tenant_id
                )
            )
            return {name: source for name, source in rows}

    def list(self, tenant_id: str) -> list[TemplateView]:
        """Every shipped template and channel wording, and the tenant's own channel
        wordings, each with the tenant's override if any."""
        mine = self.overrides(tenant_id)
        names = sorted({*DEFAULT_TEMPLATES, *CHANNEL_TEMPLATES, *(n for n in mine if _known(n))})
        return [TemplateView(n, _default_of(n), mine.get(n)) for n in names]

    def put(self, tenant_id: str, name: str, source: str) -> None:
        validate(name, source)
        with self._sessions.begin() as s:
            row = s.get(ReplyTemplate, (tenant_id, name))
            if row is None:
                s.add(ReplyTemplate(tenant_id=tenant_id, name=name, source=source))
            else:
                row.source = source

    def delete(self, tenant_id: str, name: str) -> bool:
        if not _known(name):
            raise UnknownTemplateName(name)
        with self._sessions.begin() as s:
            done = s.execute(
                delete(ReplyTemplate).where(
                    ReplyTemplate.tenant_id == tenant_id, ReplyTemplate.name == name
                )
            )
            return bool(getattr(done, "rowcount", 0))
