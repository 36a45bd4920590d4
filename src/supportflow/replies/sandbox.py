"""Jinja's sandbox, with limits on the work a merchant's template may do.

The sandbox keeps a template away from Python objects, but not from a loop that runs for
hours (`{% for i in range(99999) %}{% for j in range(99999) %}`), a value of gigabytes
(`'x' * 10**10`, `9**9**9`, a string doubled forty times) or a reply of megabytes. Those
would stall or kill the worker that renders the reply (and the API process that tries the
template on save). Here every piece of work passes a check:

- each loop iteration, function or macro call, and output chunk spends one step of a
  per-render budget and checks a deadline;
- every string or list a template builds (`~`, `+`, `*`, `join`, `replace`, captured
  blocks, macro output, any filter's result) is held under `MAX_VALUE_CHARS`, integers
  under `MAX_INT_BITS`; where an operation could build far more than its inputs, the size
  is checked before it is built;
- filters, globals and methods of built-in values are an allow-list of ones that cannot
  amplify (no `center`, `indent`, `format`, `lipsum`, `str.ljust` ...);
- the rendered text is cut off at `max_chars`.

Breaking a limit raises `RenderLimitExceeded`, a Jinja `TemplateError`, so a caller that
falls back to the default wording on a template error does so here too.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.runtime import Context
from jinja2.runtime import markup_join as _markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace

# A reply is a chat message: this is far above any real one.
MAX_OUTPUT_CHARS = 4000
# Any value a template builds on the way.
MAX_VALUE_CHARS = 20_000
MAX_INT_BITS = 4096
MAX_RANGE = 1000
# Loop iterations, calls and output chunks per render.
MAX_STEPS = 100_000
TIME_LIMIT_SECONDS = 0.25

# Filters that build no more than a small multiple of their input (checked after) or that
# are bounded before they build (join, replace).
_SAFE_FILTERS = frozenset(
    {
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape",
        "first", "float", "groupby", "int", "items", "join", "last", "length", "list",
        "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round",
        "safe", "select", "selectattr", "sort", "string", "striptags", "sum", "title",
        "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
# Methods of built-in values a template may call; none builds more than its input.
_SAFE_METHODS = frozenset(
    {
        "capitalize", "casefold", "count", "endswith", "get", "index", "isalnum",
        "isalpha", "isdigit", "islower", "isspace", "istitle", "isupper", "items", "keys",
        "lower", "lstrip", "rstrip", "split", "startswith", "strip", "title", "upper",
        "values",
    }
)  # fmt: skip
_BUILTIN_VALUES = (str, bytes, list, tuple, dict, set, frozenset, int, float, bool)


class RenderLimitExceeded(TemplateRuntimeError):
    """A template went past a limit on time, work, or the size of what it builds."""


@dataclass(frozen=True)
class Limits:
    max_chars: int = MAX_OUTPUT_CHARS
    time_limit: float = TIME_LIMIT_SECONDS
    max_steps: int = MAX_STEPS
    # Past max_chars: stop and return what was rendered (the shipped templates, whose
    # length follows the store's data), or raise (a merchant's, which then falls back).
    truncate: bool = False


@dataclass
class _Budget:
    deadline: float
    steps: int


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _step() -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.steps -= 1
    if budget.steps < 0:
        raise RenderLimitExceeded("template does too much work")
    if time.monotonic() > budget.deadline:
        raise RenderLimitExceeded("template takes too long to render")


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def _check(value: Any) -> Any:
    if _size(value) > MAX_VALUE_CHARS:
        raise RenderLimitExceeded(f"template builds a value over {MAX_VALUE_CHARS} long")
    if isinstance(value, int):
        _refuse_bits(value.bit_length())
    return value


def _refuse_over(size: int) -> None:
    if size > MAX_VALUE_CHARS:
        raise RenderLimitExceeded(f"template builds a value over {MAX_VALUE_CHARS} long")


def _refuse_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise RenderLimitExceeded("template builds a number too large")


def _iterate(values: Iterable[Any]) -> Iterator[Any]:
    """Every {% for %} loops through this: one step per iteration."""
    for value in values:
        _step()
        yield value


def _range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise RenderLimitExceeded(f"range() is limited to {MAX_RANGE} numbers")
    return values


def _concat(parts: Iterable[Any]) -> str:
    out: list[str] = []
    total = 0
    for part in parts:
        _step()
        total += len(part)
        _refuse_over(total)
        out.append(part)
    return "".join(out)


def _str_join(values: Iterable[Any]) -> str:
    """The `~` operator."""
    return _concat(str(v) for v in values)


def _markup_join_bounded(values: Iterable[Any]) -> str:
    parts = list(values)
    _refuse_over(sum(len(str(p)) for p in parts))
    result: str = _markup_join(parts)
    return result


def _join(
    eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    _refuse_over(sum(len(str(i)) for i in items) + len(d) * max(len(items) - 1, 0))
    result: str = DEFAULT_FILTERS["join"](eval_ctx, items, d, attribute)
    return result


_join.jinja_pass_arg = DEFAULT_FILTERS["join"].jinja_pass_arg  # type: ignore[attr-defined]


def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    text = str(s)
    hits = text.count(str(old)) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    _refuse_over(len(text) + hits * max(len(str(new)) - len(str(old)), 0))
    result: str = DEFAULT_FILTERS["replace"](eval_ctx, s, old, new, count)
    return result


_replace.jinja_pass_arg = DEFAULT_FILTERS["replace"].jinja_pass_arg  # type: ignore[attr-defined]


def _checked(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)  # keeps jinja_pass_arg, so Jinja passes the context as before
    def checked(*args: Any, **kwargs: Any) -> Any:
        _step()
        return _check(f(*args, **kwargs))

    return checked


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    # Operators that can build large values go through call_binop (this also stops Jinja
    # from folding `9**9**9` into a constant while compiling).
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    # Joins captured blocks ({% set %}...{% endset %}) and macro output.
    concat = staticmethod(_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        filters = {n: f for n, f in DEFAULT_FILTERS.items() if n in _SAFE_FILTERS}
        filters.update(join=_join, replace=_replace)
        self.filters = {n: _checked(f) for n, f in filters.items()}
        self.globals = {
            "range": _range,
            "dict": dict,
            "cycler": Cycler,
            "joiner": Joiner,
            "namespace": Namespace,
            "_sf_iterate": _iterate,
        }

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "%" and isinstance(left, str | bytes):
            raise SecurityError("string formatting with % is not allowed in templates")
        if operator == "**" and ints and right > 0:
            _refuse_bits(max(left.bit_length(), 1) * right)
        if operator == "*" and ints:
            _refuse_bits(left.bit_length() + right.bit_length())
        elif operator == "*":
            for a, b in ((left, right), (right, left)):
                if isinstance(b, int) and _size(a):
                    _refuse_over(_size(a) * b)
        if operator == "+":
            _refuse_over(_size(left) + _size(right))
        return _check(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _step()
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, _BUILTIN_VALUES) and getattr(obj, "__name__", "") not in (
            _SAFE_METHODS
        ):
            raise SecurityError(f"templates may not call {getattr(obj, '__name__', 'that')}()")
        return _check(super().call(context, obj, *args, **kwargs))

    def compile_limited(self, source: str) -> Template:
        """Compile a template whose loops and joins are counted and bounded."""
        tree = self.parse(source)
        for loop in tree.find_all(nodes.For):
            call = nodes.Call(nodes.Name("_sf_iterate", "load"), [loop.iter], [], None, None)
            loop.iter = call.set_lineno(loop.lineno)
        template = self.from_string(tree)
        # The compiled module joins `~` operands with these, imported from jinja2.runtime;
        # all of a template's functions share the module's globals.
        module: dict[str, Any] = template.root_render_func.__globals__
        module.update(str_join=_str_join, markup_join=_markup_join_bounded)
        return template


def render_limited(
    template: Template, facts: Mapping[str, Any], limits: Limits | None = None
) -> str:
    """Render under the limits; raises RenderLimitExceeded when one is broken."""
    limits = limits or Limits()
    token = _budget.set(_Budget(time.monotonic() + limits.time_limit, limits.max_steps))
    try:
        out: list[str] = []
        total = 0
        for chunk in template.generate(**facts):
            _step()
            total += len(chunk)
            if total > limits.max_chars:
                if limits.truncate:
                    out.append(chunk[: len(chunk) - (total - limits.max_chars)])
                    break
                raise RenderLimitExceeded(f"reply is over {limits.max_chars} characters")
            out.append(chunk)
        return "".join(out)
    finally:
        _budget.reset(token)
