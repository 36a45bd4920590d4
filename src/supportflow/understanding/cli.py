"""Command line: train and evaluate the local model, understand messages from stdin."""

from __future__ import annotations

import sys
from typing import Annotated, TextIO

import typer
from rich.console import Console

from supportflow.understanding.contract import Context

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


def run_eval(random_split: bool = False, console: Console | None = None) -> bool:
    """Print the evaluation report; True when every target is met."""
    from supportflow.understanding.evaluate import evaluate, print_report

    report = evaluate(include_random_split=random_split)
    print_report(report, console)
    return all(report.meets.values())


@understanding_app.command("eval")
def eval_command(
    random_split: Annotated[
        bool, typer.Option("--random-split", help="Also train on a random split, for comparison.")
    ] = False,
) -> None:
    """Evaluate the local engine on held-out data (accuracy, OOS, calibration, entities, speed)."""
    run_eval(random_split=random_split)


def understand_stream(stdin: TextIO, stdout: TextIO, context: Context | None = None) -> int:
    """One message per input line -> one JSON Understanding per output line. Returns the count."""
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
) -> None:
    """Read messages (one per line) on stdin, write one JSON understanding per line."""
    # Undecodable bytes must not stop a batch: they become U+FFFD and the engine copes.
    stdin = open(  # noqa: SIM115 - wraps the process's stdin for its lifetime
        sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False
    )
    understand_stream(stdin, sys.stdout, Context(awaiting=awaiting))


understanding_app.command("understand")(understand_command)
