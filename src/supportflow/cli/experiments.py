"""`supportflow experiments ...`: a tenant's A/B experiments on sales behaviours. Create a
draft, list, show, start, stop, and read results.

Output is JSON, like `supportflow tenants create`, except `results`, which prints a table (or
JSON with --json). The table never shows a difference or an uplift without its interval, and
names the model the intervals came from. Changes are written to the tenant's audit trail.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportflow.cli.common import DataDir, open_sessions, resolve_tenant_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from supportflow.sales.experiment_results import ExperimentResults
    from supportflow.sales.experiments import Experiment

experiments_app = typer.Typer(
    no_args_is_help=True,
    help="A tenant's A/B experiments on sales behaviours: create, start, stop, results.",
)

# Who the audit trail names for changes made here.
_ACTOR = "cli"

TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id (t_...) or name.")]
ExperimentArg = Annotated[str, typer.Argument(help="The experiment's id (exp_...).")]

_ARM_HELP = (
    "One arm, repeated for each (2 to 5; the first is the control): "
    "NAME:WEIGHT[:key=value,...] with keys offer (none, discount, free_shipping, exchange), "
    "discount_percent, delay_minutes, send (true/false). "
    "Example: --arm control:50:send=false --arm ten-off:50:offer=discount,discount_percent=10"
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _param_value(key: str, text: str) -> object:
    if key == "send":
        if text.lower() not in {"true", "false"}:
            raise _fail(f"send must be true or false, not {text!r}")
        return text.lower() == "true"
    if key in {"discount_percent", "delay_minutes"}:
        try:
            return int(text)
        except ValueError:
            raise _fail(f"{key} must be a whole number, not {text!r}") from None
    return text


def parse_arm(spec: str) -> dict[str, Any]:
    """``control:50`` or ``ten-off:50:offer=discount,discount_percent=10`` as an arm's
    fields; the experiment's own checks then say what is wrong with the values."""
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise _fail(f"--arm {spec!r}: write NAME:WEIGHT[:key=value,...]")
    name, weight_text = parts[0], parts[1]
    try:
        weight = int(weight_text)
    except ValueError:
        raise _fail(f"--arm {spec!r}: the weight must be a whole number (1 to 100)") from None
    params: dict[str, object] = {}
    if len(parts) == 3 and parts[2]:
        for pair in parts[2].split(","):
            key, sep, value = pair.partition("=")
            if not sep:
                raise _fail(f"--arm {spec!r}: parameters are key=value, not {pair!r}")
            params[key.strip()] = _param_value(key.strip(), value.strip())
    return {"name": name, "weight": weight, "params": params}


def _experiment(e: Experiment) -> dict[str, Any]:
    data = e.model_dump(mode="json", exclude={"salt", "tenant_id"})
    return {"tenant_id": e.tenant_id, **data}


def _audit(
    sessions: sessionmaker[Session],
    tenant_id: str,
    action: str,
    experiment_id: str,
    details: dict[str, Any],
) -> None:
    from supportflow.audit.entry import ActorKind, NewEntry
    from supportflow.audit.log import append

    append(
        sessions,
        NewEntry(tenant_id, ActorKind.SYSTEM, _ACTOR, action, experiment_id, details),
    )


@experiments_app.command("create")
def experiments_create(
    tenant: TenantOpt,
    name: Annotated[str, typer.Option("--name", help="What the experiment tests.")],
    behaviour: Annotated[
        str,
        typer.Option("--behaviour", help="abandoned_checkout, post_purchase or retention."),
    ],
    arm: Annotated[list[str], typer.Option("--arm", help=_ARM_HELP)],
    data_dir: DataDir = None,
) -> None:
    """Create a draft experiment (start it with `experiments start`)."""
    from supportflow.sales.experiment_store import ExperimentStore
    from supportflow.sales.experiments import InvalidExperiment

    arms = [parse_arm(spec) for spec in arm]
    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        made = ExperimentStore(sessions).create(tenant_id, name, behaviour, arms)
        _audit(
            sessions,
            tenant_id,
            "experiment.create",
            made.experiment_id,
            {"behaviour": made.behaviour, "arms": len(made.arms), "version": made.version},
        )
    except InvalidExperiment as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(_experiment(made)))


@experiments_app.command("list")
def experiments_list(tenant: TenantOpt, data_dir: DataDir = None) -> None:
    """The tenant's experiments, newest first."""
    from supportflow.sales.experiment_store import ExperimentStore

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        found = ExperimentStore(sessions).of_tenant(tenant_id)
    finally:
        engine.dispose()
    typer.echo(json.dumps({"tenant_id": tenant_id, "experiments": [_experiment(e) for e in found]}))


@experiments_app.command("show")
def experiments_show(
    tenant: TenantOpt, experiment_id: ExperimentArg, data_dir: DataDir = None
) -> None:
    """One experiment: status, version, arms and their parameters."""
    from supportflow.sales.experiment_store import ExperimentNotFound, ExperimentStore

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        found = ExperimentStore(sessions).get(tenant_id, experiment_id)
    except ExperimentNotFound as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(_experiment(found)))


def _lifecycle(tenant: str, experiment_id: str, data_dir: Any, action: str) -> None:
    from supportflow.sales.experiment_store import ExperimentNotFound, ExperimentStore
    from supportflow.sales.experiments import EditRefused

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        store = ExperimentStore(sessions)
        change = store.start if action == "start" else store.stop
        after = change(tenant_id, experiment_id)
        _audit(
            sessions,
            tenant_id,
            f"experiment.{action}",
            experiment_id,
            {"behaviour": after.behaviour, "version": after.version},
        )
    except (ExperimentNotFound, EditRefused) as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(_experiment(after)))


@experiments_app.command("start")
def experiments_start(
    tenant: TenantOpt, experiment_id: ExperimentArg, data_dir: DataDir = None
) -> None:
    """Start a draft: the sales agent assigns customers to its arms from now. Refused while
    another experiment runs on the same behaviour."""
    _lifecycle(tenant, experiment_id, data_dir, "start")


@experiments_app.command("stop")
def experiments_stop(
    tenant: TenantOpt, experiment_id: ExperimentArg, data_dir: DataDir = None
) -> None:
    """Stop a running experiment: no new assignments; results stay readable."""
    _lifecycle(tenant, experiment_id, data_dir, "stop")


# --- results table ------------------------------------------------------------------------------
def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _signed_percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def _points(value: float) -> str:
    return f"{value * 100:+.1f} pp"


def with_interval(estimate: float | None, interval: tuple[float, float] | None, fmt: Any) -> str:
    """``estimate [low, high]``, or a dash when either is missing: an estimate is never shown
    alone."""
    if estimate is None or interval is None:
        return "-"
    return f"{fmt(estimate)} [{fmt(interval[0])}, {fmt(interval[1])}]"


def results_table(results: ExperimentResults) -> Any:
    from rich.table import Table

    level = f"{results.confidence * 100:g}%"
    table = Table(
        title=f"{results.name} ({results.experiment_id}, {results.behaviour}, {results.status})",
        caption=f"model: {results.model}; relative uplift: {results.relative_uplift_model}",
    )
    table.add_column("arm")
    table.add_column("exposures", justify="right")
    # A retention experiment counts saves (cancel requests whose order was kept).
    table.add_column("saves" if results.outcome == "save" else "conversions", justify="right")
    table.add_column(f"rate [{level} CI]", justify="right")
    table.add_column("revenue / exposure", justify="right")
    table.add_column(f"vs {results.control}: difference [{level} CI]", justify="right")
    table.add_column(f"relative uplift [{level} CI]", justify="right")
    comparisons = {c.arm: c for c in results.comparisons}
    for arm in results.arms:
        c = comparisons.get(arm.arm)
        table.add_row(
            arm.arm + (" (control)" if arm.arm == results.control != "control" else ""),
            str(arm.exposures),
            str(arm.conversions),
            with_interval(arm.rate, arm.rate_interval, _percent),
            "-" if arm.revenue_per_exposure is None else str(arm.revenue_per_exposure),
            "" if c is None else with_interval(c.difference, c.difference_interval, _points),
            ""
            if c is None
            else with_interval(c.relative_uplift, c.relative_uplift_interval, _signed_percent),
        )
    return table


@experiments_app.command("results")
def experiments_results(
    tenant: TenantOpt,
    experiment_id: ExperimentArg,
    as_json: Annotated[bool, typer.Option("--json", help="The results as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Conversion per arm with its interval, and each arm against the control (intention to
    treat: every unit assigned to an arm counts, messaged or not)."""
    from rich.console import Console

    from supportflow.sales.experiment_store import ExperimentNotFound, experiment_results

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        results = experiment_results(sessions, tenant_id, experiment_id)
    except ExperimentNotFound as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(results.model_dump_json())
        return
    console = Console()
    if not console.is_terminal:
        # Piped: wide enough that no interval is wrapped away from its estimate.
        console = Console(width=220)
    console.print(results_table(results))
    for note in results.comparisons:
        if note.note:
            console.print(f"{note.arm}: {note.note}")
    for text in results.notes:
        console.print(f"note: {text}")
    for name, count in results.unknown_arms.items():
        console.print(f"note: {count} touches name arm {name!r}, which this experiment lacks")
