"""Batch stdin/stdout use, the cache, and deterministic training."""

from __future__ import annotations

import io
import json

from supportflow.understanding.cli import understand_stream
from supportflow.understanding.contract import Understanding
from supportflow.understanding.corpus import build_corpus
from supportflow.understanding.local import LocalEngine
from supportflow.understanding.model import IntentModel
from supportflow.understanding.splits import split_by_family
from supportflow.understanding.train import model_path, train_model


def test_understand_stream_one_json_per_line(engine: LocalEngine) -> None:
    stdin = io.StringIO("cancel order #W2611340\n\nhello\n\udcff bad\n")
    stdout = io.StringIO()
    assert understand_stream(stdin, stdout) == 4
    lines = stdout.getvalue().splitlines()
    assert len(lines) == 4
    parsed = [Understanding.model_validate(json.loads(line)) for line in lines]
    assert parsed[0].intent == "cancel_order"
    assert parsed[0].entities.order_ids == ["#W2611340"]
    assert parsed[1].intent == "out_of_scope"
    assert parsed[2].intent == "greeting"


def test_model_is_cached_on_disk(engine: LocalEngine) -> None:
    assert model_path().exists()


def test_corpus_and_splits_are_deterministic() -> None:
    a, b = build_corpus(), build_corpus()
    assert a == b
    sa, sb = split_by_family(a), split_by_family(b)
    assert [e.text for e in sa.test] == [e.text for e in sb.test]
    # Families never straddle train and test.
    assert not {e.family for e in sa.test} & {e.family for e in sa.train + sa.calib}


def test_training_twice_gives_same_predictions(engine: LocalEngine) -> None:
    fresh: IntentModel = train_model()
    probe = [e.text for e in split_by_family(build_corpus()).test[::50]]
    assert fresh.thresholds == engine.model.thresholds
    assert [d.intent for d in fresh.decide(probe)] == [d.intent for d in engine.model.decide(probe)]
    assert abs(fresh.proba(probe) - engine.model.proba(probe)).max() < 1e-9
