"""Merchants' reply templates cannot stall or flood a worker: work, time, values and output
are bounded; a template past a limit is refused on save, and one that gets past anyway (saved
before the limits, or broken only by real data) falls back to the default wording."""

from __future__ import annotations

import time

import pytest
from jinja2 import TemplateError

from supportflow.replies.overrides import InvalidTemplate, validate
from supportflow.replies.render import TemplateFailed, render
from supportflow.replies.sandbox import MAX_OUTPUT_CHARS, RenderLimitExceeded

FACTS = {
    "order_id": "#W2611340",
    "status_phrase": "processed and on its way",
    "items": ["Water Bottle (1000ml, red)", "Garden Hose (50ft)"],
    "tracking_ids": ["357962501027"],
}

# Each would run for minutes or build gigabytes in a plain sandbox.
HOSTILE = [
    pytest.param("{% for i in range(10**7) %}{{ order_id }}{% endfor %}", id="range-10^7"),
    pytest.param(
        "{% for i in range(999) %}{% for j in range(999) %}{% for k in range(999) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        id="nested-loops-no-output",
    ),
    pytest.param(
        "{% for a in order_id %}{% for b in order_id %}{% for c in order_id %}"
        "{% for d in order_id %}{% for e in order_id %}{% for f in order_id %}{% endfor %}"
        "{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
        id="nested-loops-over-facts",
    ),
    pytest.param("{{ order_id * 10**9 }}", id="string-times-huge"),
    pytest.param("{{ 2**10000000 }}", id="power"),
    pytest.param("{{ (10**300) * (10**300) * (10**300) * (10**300) * (10**300) }}", id="bigint"),
    pytest.param(
        "{% set a = order_id %}" + "{% set a = a ~ a %}" * 40 + "{{ a|length }}",
        id="doubling-concat",
    ),
    pytest.param(
        "{% set ns = namespace(s=order_id) %}{% for i in range(60) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        id="doubling-namespace",
    ),
    pytest.param(
        "{% set a %}{% for i in range(999) %}{{ order_id }}{% endfor %}{% endset %}"
        "{% set b %}{% for i in range(999) %}{{ a }}{% endfor %}{% endset %}{{ b|length }}",
        id="captured-blocks",
    ),
    pytest.param(
        "{{ order_id|replace('', order_id * 100)|replace('', order_id * 100) }}",
        id="replace-amplifies",
    ),
    pytest.param("{{ items|join(order_id * 2000) }}", id="join-separator"),
    pytest.param("{{ order_id.ljust(10**9) }}", id="str-method"),
    pytest.param("{{ order_id|center(10**9) }}", id="center-filter"),
    pytest.param("{{ lipsum(10**6) }}", id="lipsum"),
    pytest.param("{{ '%0999999999d' % 1 }}", id="percent-format"),
    pytest.param(
        "{% macro m(n) %}{{ m(n) }}{{ m(n) }}{% endmacro %}{{ m(1) }}", id="macro-recursion"
    ),
    pytest.param(
        "{% for i in range(999) %}{{ items|join(', ') }} {{ order_id }} {% endfor %}",
        id="huge-output",
    ),
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_templates_are_refused_on_save_quickly(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidTemplate) as err:
        validate("order_status", source)
    assert time.perf_counter() - started < 2.0
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_templates_that_got_saved_fall_back_at_render(source: str) -> None:
    """As the reply activity does: a TemplateError means the default wording."""
    started = time.perf_counter()
    with pytest.raises(TemplateError):
        render("order_status", FACTS, {"order_status": source})
    assert time.perf_counter() - started < 2.0
    default = render("order_status", FACTS)
    assert default.startswith("Order #W2611340 is processed")


def test_the_limit_messages_are_clear() -> None:
    with pytest.raises(InvalidTemplate, match="range\\(\\) is limited to 1000"):
        validate("order_status", "{% for i in range(10**7) %}x{% endfor %}")
    with pytest.raises(InvalidTemplate, match=r"takes too long|too much work"):
        validate(
            "order_status",
            "{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}",
        )
    with pytest.raises(InvalidTemplate, match=f"over {MAX_OUTPUT_CHARS} characters"):
        validate("order_status", "{% for i in range(999) %}{{ order_id }} {% endfor %}")
    with pytest.raises(InvalidTemplate, match="may not use"):
        validate("order_status", "{{ order_id.ljust(50) }}")
    with pytest.raises(InvalidTemplate, match="ZeroDivisionError"):
        validate("order_status", "{{ 1 / 0 }}")


def test_ordinary_templates_still_work() -> None:
    ok = [
        "Hey! {{ order_id }}: {{ status_phrase }}. Track it with {{ tracking_ids | join(' / ') }}.",
        "{{ order_id }} ({{ items|length }} item{{ 's' if items|length > 1 else '' }}): "
        "{% for i in items %}{{ loop.index }}. {{ i|upper }}{{ '' if loop.last else ', ' }}"
        "{% endfor %}",
        "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}"
        "{% endfor %}{{ order_id ~ ' / ' ~ ns.n }} {{ status_phrase.split()|first|title }}",
    ]
    for source in ok:
        validate("order_status", source)
    assert render("order_status", FACTS, {"order_status": ok[0]}) == (
        "Hey! #W2611340: processed and on its way. Track it with 357962501027."
    )
    assert render("order_status", FACTS, {"order_status": ok[1]}) == (
        "#W2611340 (2 items): 1. WATER BOTTLE (1000ML, RED), 2. GARDEN HOSE (50FT)"
    )
    assert render("order_status", FACTS, {"order_status": ok[2]}) == "#W2611340 / 3 Processed"


def test_a_shipped_reply_made_long_by_data_is_cut_not_lost() -> None:
    many = {**FACTS, "items": [f"Item number {i}" for i in range(2000)]}
    text = render("order_status", many)
    assert text.startswith("Order #W2611340 is processed") and len(text) <= MAX_OUTPUT_CHARS


def test_render_errors_are_template_errors() -> None:
    with pytest.raises(TemplateFailed):
        render("order_status", FACTS, {"order_status": "{{ 1 / 0 }}"})
    with pytest.raises(RenderLimitExceeded, match="range"):
        render("order_status", FACTS, {"order_status": "{% for i in range(5000) %}{% endfor %}"})
