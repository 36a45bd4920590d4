"""`supportflow eval understanding` on the natural set: the metric definitions, and the command."""

from __future__ import annotations

import io
import json

from rich.console import Console
from typer.testing import CliRunner

from supportflow.understanding.catalogue import Catalogue
from supportflow.understanding.cli import EvalSplit, run_eval, understanding_app
from supportflow.understanding.contract import Context, Entities, Understanding
from supportflow.understanding.corpus import OUT_OF_SCOPE, Example
from supportflow.understanding.evaluate_natural import acts_on_wrong_intent, evaluate_natural
from supportflow.understanding.local import LocalEngine
from supportflow.understanding.natural_set import NaturalExample, load_natural_set
from supportflow.understanding.splits import Splits


class ScriptedEngine:
    """An Engine whose reading of each text is fixed by the test, so every figure of the report
    can be worked out by hand. (The real engine is measured by the command test below.)"""

    def __init__(self, script: dict[str, Understanding]) -> None:
        self.script = script

    def understand(
        self, message: str, context: Context, catalogue: Catalogue | None = None
    ) -> Understanding:
        return self.script[message]


def _ex(
    text: str,
    *intents: str,
    clinc: str | None = None,
    ids: tuple[str, ...] = (),
    register: tuple[str, ...] = (),
) -> NaturalExample:
    return NaturalExample(
        id=text,
        text=text,
        intent=intents[0],
        intents=intents,
        order_ids=ids,
        emails=(),
        address=False,
        register=register,
        clinc_intent=clinc,
    )


def _u(intent: str, *, clarify: bool = False, ids: tuple[str, ...] = ()) -> Understanding:
    return Understanding(
        intent=intent,
        confidence=0.4 if clarify else 0.9,
        needs_clarification=clarify,
        entities=Entities(order_ids=list(ids)),
        engine="scripted",
    )


def _splits() -> Splits:
    # "weather" trained on, "flip_coin" only in the test split: held out.
    return Splits(
        train=[Example("w", OUT_OF_SCOPE, "clinc:weather", "clinc_oos")],
        calib=[Example("o", OUT_OF_SCOPE, "clinc:oos_train", "clinc_oos")],
        test=[
            Example("f", OUT_OF_SCOPE, "clinc:flip_coin", "clinc_oos"),
            Example("v", OUT_OF_SCOPE, "clinc:oos_val", "clinc_oos"),
        ],
    )


def test_eval_natural_figures_follow_their_definitions() -> None:
    gold = [
        _ex("where is it", "track_order", ids=("#1001",), register=("short",)),  # right
        _ex("cancel and refund", "cancel_order", "get_refund"),  # secondary intent: no wrong act
        _ex("25 days and nothing", "track_order", register=("situation",)),  # -> OOS
        _ex("wrong size came", "exchange_items"),  # wrong, but asks first: not an action
        _ex("has it shipped", "track_order", register=("situation",)),  # wrong, confident: act
        _ex("size 11?", "product_question"),  # a label the engine has no class for
        _ex("flip a coin", OUT_OF_SCOPE, clinc="flip_coin"),  # held-out topic, rejected
        _ex("rain?", OUT_OF_SCOPE, clinc="weather"),  # seen topic, acted on: wrong act
        _ex("cancel my gym", OUT_OF_SCOPE),  # no CLINC topic, rejected
    ]
    engine = ScriptedEngine(
        {
            "where is it": _u("track_order", ids=("#W0001001",)),
            "cancel and refund": _u("get_refund"),
            "25 days and nothing": _u(OUT_OF_SCOPE),
            "wrong size came": _u("return_items", clarify=True),
            "has it shipped": _u("modify_order_items"),
            "size 11?": _u(OUT_OF_SCOPE),
            "flip a coin": _u(OUT_OF_SCOPE),
            "rain?": _u("cancel_order"),
            "cancel my gym": _u(OUT_OF_SCOPE),
        }
    )
    labels = frozenset(
        {"track_order", "cancel_order", "get_refund", "exchange_items", OUT_OF_SCOPE}
    )
    r = evaluate_natural(engine, gold, _splits(), labels)

    assert (r.size, r.in_scope_size, r.oos_size) == (9, 6, 3)
    assert r.labels_unknown_to_engine == {"product_question": 1}
    assert r.accuracy == 1 / 6
    assert r.accuracy_known_labels == 1 / 5
    assert r.in_scope_to_oos == 2 / 6
    assert r.oos_recall == 2 / 3
    assert r.oos_recall_clinc_held_out == 1.0 and r.oos_clinc_held_out_size == 1
    assert r.oos_recall_clinc_seen == 0.0
    assert r.oos_recall_not_clinc == 1.0
    # Acting on a wrong intent: "has it shipped" and "rain?" only.
    assert r.wrong_action == 2 / 9
    assert r.wrong_action_in_scope == 1 / 6
    assert r.wrong_action_oos == 1 / 3
    assert r.clarify_rate == 1 / 5
    assert (r.multi_size, r.multi_primary_accuracy, r.multi_any_accuracy) == (1, 0.0, 1.0)
    by_tag = {row.register: row for row in r.per_register}
    assert by_tag["situation"].to_oos == 0.5 and by_tag["situation"].wrong_action == 0.5
    assert by_tag["short"].accuracy == 1.0 and by_tag["short"].oos_recall is None
    # "#1001" written, "#W0001001" extracted: the digits differ, so not found.
    assert [(e.kind, e.messages, e.exact) for e in r.entities] == [
        ("order id #1001 (Shopify)", 1, 0.0)
    ]
    assert r.engine == "scripted"
    assert not r.meets["in-scope accuracy >= 0.90"]
    assert r.meets["OOS recall (CLINC held-out topics) >= 0.95"]


def test_eval_wrong_action_needs_a_confident_in_scope_intent() -> None:
    gold = _ex("x", "track_order", "cancel_order")
    assert not acts_on_wrong_intent(_u("track_order"), gold)
    assert not acts_on_wrong_intent(_u("cancel_order"), gold)
    assert not acts_on_wrong_intent(_u(OUT_OF_SCOPE), gold)
    assert not acts_on_wrong_intent(_u("return_items", clarify=True), gold)
    assert acts_on_wrong_intent(_u("return_items"), gold)
    assert acts_on_wrong_intent(_u("greeting"), _ex("y", OUT_OF_SCOPE))


def test_eval_command_reports_the_natural_set_apart_as_json(engine: LocalEngine) -> None:
    result = CliRunner().invoke(understanding_app, ["eval", "--split", "natural", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"natural"}
    natural = report["natural"]
    assert natural["size"] == len(load_natural_set())
    assert natural["engine"] == "local"
    assert natural["oos_clinc_held_out_size"] > 0
    for key in ("accuracy", "macro_f1", "in_scope_to_oos", "oos_recall", "wrong_action"):
        assert 0.0 <= natural[key] <= 1.0
    assert 0 < natural["p50_ms"] <= natural["p99_ms"]
    assert sum(row["support"] for row in natural["per_intent"]) == natural["size"]


def test_eval_tables_name_the_natural_set() -> None:
    out = io.StringIO()
    run_eval(console=Console(file=out, width=120), split=EvalSplit.natural)
    text = out.getvalue()
    assert "Natural-language test set" in text
    assert "Per intent (natural set)" in text
    assert "By register" in text
    assert "Local understanding engine: evaluation" not in text  # the template report: not asked
