"""Command line: train and evaluate the local model, understand messages from stdin."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from enum import StrEnum
from typing import Annotated, TextIO

import typer
from rich.console import Console

from supportflow.understanding.contract import Context, Engine

understanding_app = typer.Typer(help="The local understanding model.", no_args_is_help=True)


@understanding_app.command("train")
def train_command() -> None:
    """Build the local model from the shipped data and cache it."""
    from supportflow.understanding.train import train_and_save

    console = Console()
    result = train_and_save()
    th = result.model.thresholds
    console.print(f"Model written to [bold]{result.path}[/] in {result.seconds:.1f} s")
    console.print(
        f"CLARIFY_BELOW {th.clarify_below:.3f}, OUT_OF_SCOPE_BELOW {th.out_of_scope_below:.3f}, "
        f"ANGER_BELOW {th.anger_below:.3f}, temperature {th.temperature:.4f}"
    )


class EvalSplit(StrEnum):
    """Which test data ``eval`` scores: the template split, the natural set, or both."""

    both = "both"
    template = "template"
    natural = "natural"


def _jsonable(value: object) -> object:
    # numpy scalars and anything else json cannot write: as a plain number, else as text.
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def run_eval(
    random_split: bool = False,
    console: Console | None = None,
    split: EvalSplit = EvalSplit.both,
    as_json: bool = False,
) -> bool:
    """Print the evaluation report(s); True when every target of the reported splits is met.

    The template split and the natural set are reported separately; ``as_json`` writes one JSON
    object ``{"template": ..., "natural": ...}`` (only the splits asked for) instead of tables."""
    from supportflow.understanding.evaluate import evaluate, print_report
    from supportflow.understanding.evaluate_natural import evaluate_natural, print_natural_report

    con = console or Console()
    met: list[bool] = []
    out: dict[str, object] = {}
    if split in (EvalSplit.both, EvalSplit.template):
        report = evaluate(include_random_split=random_split)
        met += report.meets.values()
        if as_json:
            out["template"] = asdict(report)
        else:
            print_report(report, con)
    if split in (EvalSplit.both, EvalSplit.natural):
        natural = evaluate_natural()
        met += natural.meets.values()
        if as_json:
            out["natural"] = asdict(natural)
        else:
            print_natural_report(natural, con)
    if as_json:
        con.file.write(json.dumps(out, default=_jsonable, indent=2) + "\n")
    return all(met)


@understanding_app.command("eval")
def eval_command(
    random_split: Annotated[
        bool, typer.Option("--random-split", help="Also train on a random split, for comparison.")
    ] = False,
    split: Annotated[
        EvalSplit,
        typer.Option(
            help="Template split (held-out Bitext families), the hand-written natural set, or both."
        ),
    ] = EvalSplit.both,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write the reports as one JSON object, no tables.")
    ] = False,
) -> None:
    """Evaluate the local engine on held-out data (accuracy, OOS, calibration, entities, speed):
    the template split and, reported apart, the natural-language test set."""
    run_eval(random_split=random_split, split=split, as_json=as_json)


def understand_stream(
    stdin: TextIO, stdout: TextIO, context: Context | None = None, engine: Engine | None = None
) -> int:
    """One message per input line -> one JSON Understanding per output line. Returns the count.
    ``engine``: the local engine when None."""
    if engine is None:
        from supportflow.understanding.local import get_local_engine

        engine = get_local_engine()
    ctx = context or Context()
    n = 0
    for line in stdin:
        message = line.rstrip("\r\n")
        stdout.write(engine.understand(message, ctx).model_dump_json() + "\n")
        stdout.flush()
        n += 1
    return n


def understand_command(
    awaiting: Annotated[
        str | None, typer.Option(help="What the agent asked last, e.g. 'confirm'.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Engine: local, openai:<model> or anthropic:<model> (SUPPORTFLOW_MODEL)."
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="LLM engines: seconds to wait for the model per message before using the "
            "local engine's reading (SUPPORTFLOW_LLM_TURN_BUDGET_SECONDS, as a customer's turn "
            "does); 0 waits up to SUPPORTFLOW_LLM_TIMEOUT_SECONDS.",
        ),
    ] = None,
) -> None:
    """Read messages (one per line) on stdin, write one JSON understanding per line, with the
    engine SUPPORTFLOW_MODEL names (or --model). LLM engines warm up first and print a summary
    of how each message was decided to stderr."""
    # Here, not at the top: `supportflow --help` need not load the settings machinery.
    from supportflow.logs import setup_logging
    from supportflow.settings import Settings
    from supportflow.understanding.engines import UnknownEngine, load_engine

    settings = Settings()
    setup_logging(settings.log_level)  # to stderr: stdout carries only the JSON lines
    wait = None if budget is None else (budget or settings.llm_timeout_seconds)
    try:
        engine = load_engine(model or settings.model, settings, budget_seconds=wait, warm_up=False)
    except UnknownEngine as err:
        raise typer.BadParameter(str(err), param_hint="--model / SUPPORTFLOW_MODEL") from None
    # Undecodable bytes must not stop a batch: they become U+FFFD and the engine copes.
    stdin = open(  # noqa: SIM115 - wraps the process's stdin for its lifetime
        sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False
    )
    from supportflow.understanding.llm import LlmEngine

    if not isinstance(engine, LlmEngine):
        understand_stream(stdin, sys.stdout, Context(awaiting=awaiting), engine)
        return
    err_console = Console(stderr=True)
    try:
        # Where nobody waits: as long as the server needs to cache the prompt prefix.
        engine.warm_up(settings.llm_timeout_seconds)
        n = understand_stream(stdin, sys.stdout, Context(awaiting=awaiting), engine)
    finally:
        engine.close()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(engine.outcomes.items()))
    err_console.print(f"{engine.name}: {n} messages ({counts or 'none'})")


understanding_app.command("understand")(understand_command)
