"""`supportflow simulate`: scripted customers against a stack, a report, a correctness gate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from supportflow.sim.model import SimOptions, SimResult, Target


def simulate_command(
    customers: Annotated[
        int | None,
        typer.Option(min=1, help="Conversations to run (default 100; none with --shoppers)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Conversations at a time.")] = 20,
    duration: Annotated[
        float | None,
        typer.Option(min=0, help="Stop starting conversations after this many seconds."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Picks customers, orders and messages.")] = 0,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("sim-report"),
    behaviours: Annotated[
        str | None,
        typer.Option(help="Comma-separated behaviours to run (default: all of them)."),
    ] = None,
    reply_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds a message may take, retries included.")
    ] = 180.0,
    confirmation_timeout: Annotated[
        float,
        typer.Option(min=1, help="The tenant's confirmation timeout during the run (seconds)."),
    ] = 20.0,
    api: Annotated[
        str | None, typer.Option(help="Target a running stack's API (default: start one).")
    ] = None,
    chat_key: Annotated[str | None, typer.Option(help="Its public chat key.")] = None,
    api_key: Annotated[str | None, typer.Option(help="Its merchant API key.")] = None,
    store: Annotated[str | None, typer.Option(help="Its demo store URL.")] = None,
    temporal: Annotated[str | None, typer.Option(help="Its Temporal address.")] = None,
    namespace: Annotated[str, typer.Option(help="Its Temporal namespace.")] = "default",
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Read the demo tenant's keys from DATA_DIR/demo-tenant.json."),
    ] = None,
    identity_secret: Annotated[
        str | None,
        typer.Option(
            envvar="SUPPORTFLOW_SIM_IDENTITY_SECRET",
            show_envvar=True,
            show_default=False,
            help="Its tenant's identity secret: every simulated customer's messages carry an "
            "identity token signed with it (default: from demo-tenant.json).",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    channels: Annotated[
        str,
        typer.Option(
            help="How customers write, as shares: e.g. chat=50,email=30,sms=20. Email needs "
            "the stack's SMTP server and Maildir, SMS its /dev/sms (`supportflow up`)."
        ),
    ] = "chat=100",
    switch: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of email and SMS customers who start in chat and go on by email or "
            "SMS in the same conversation.",
        ),
    ] = 0.0,
    smtp: Annotated[
        str | None,
        typer.Option(help="A running stack's inbound SMTP server, HOST:PORT (email customers)."),
    ] = None,
    # --- shoppers (issue 14): an abandoned-checkout experiment on simulated shoppers ---
    shoppers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Simulated shoppers (shopper model v1, docs/shopper-model.md: a model, not "
            "data) in an abandoned-checkout experiment; reports conversion per arm. With "
            "--customers, conversations run at the same time.",
        ),
    ] = 0,
    arm: Annotated[
        list[str] | None,
        typer.Option(
            "--arm",
            help="The shoppers' experiment, one arm per --arm, control first, as in "
            "`supportflow experiments create`: NAME:WEIGHT[:key=value,...] (offer, "
            "discount_percent, delay_minutes, send). Default: control:50:send=false "
            "ten-off:50:offer=discount,discount_percent=10.",
        ),
    ] = None,
    reminder_delay: Annotated[
        int, typer.Option(min=1, help="Minutes from checkout to reminder during the run.")
    ] = 1,
    shopper_ramp: Annotated[
        float, typer.Option(min=0, help="Seconds over which the shoppers arrive.")
    ] = 30.0,
    # --- end shoppers ---
    # --- cancellers (issue 14): a retention experiment on simulated cancellers ---
    cancellers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Simulated cancellers (canceller model v1, docs/shopper-model.md: a model, "
            "not data) in a retention experiment: each places an order and asks in chat to "
            "cancel it; reports saves per arm. Uses --arm (offer none, discount, "
            "free_shipping or exchange; default control:50 vs "
            "ten-off:50:offer=discount,discount_percent=10). Runs alone.",
        ),
    ] = 0,
    # --- end cancellers ---
) -> None:
    """Drive simulated customers through the chat API and report automation, escalation,
    correct outcomes (from the store's final state), latency, throughput, Temporal billable
    actions and memory. Starts an embedded stack unless --api names one. Exits 1 when a
    message was lost, an outcome was wrong or a store invariant broke."""
    from supportflow.sim.behaviours import BEHAVIOURS

    chosen = tuple(b.strip() for b in behaviours.split(",") if b.strip()) if behaviours else None
    unknown = [b for b in chosen or () if b not in BEHAVIOURS]
    if unknown or chosen == ():
        raise typer.BadParameter(
            f"unknown {unknown}; choose from {', '.join(BEHAVIOURS)}", param_hint="--behaviours"
        )
    from supportflow.sim.mix import parse_mix

    try:
        mix = parse_mix(channels)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--channels") from err
    # --- shoppers: conversations only when asked for, or when there are no shoppers ---
    if customers is None:
        customers = 0 if shoppers or cancellers else 100
    # --- end shoppers ---
    # --- cancellers: alone (retention on would turn the scripted cancels off their script) ---
    if cancellers and (shoppers or customers):
        raise typer.BadParameter(
            "cancellers run alone: not with --shoppers or --customers", param_hint="--cancellers"
        )
    # --- end cancellers ---
    options = SimOptions(
        channels=mix,
        switch_share=switch,
        customers=max(1, customers),
        concurrency=concurrency,
        duration_s=duration,
        seed=seed,
        reply_timeout_s=reply_timeout,
        behaviours=chosen,
        confirmation_timeout_s=confirmation_timeout,
    )
    # A secret alone (say, in the environment) targets nothing: the embedded stack has its own.
    remote = any(v is not None for v in (api, chat_key, api_key, store, temporal, data_dir))
    target = (
        _remote_target(
            api, chat_key, api_key, store, temporal, namespace, data_dir, identity_secret, smtp
        )
        if remote
        else None
    )
    console = Console(stderr=True)
    # --- cancellers ---
    if cancellers:
        from supportflow.sim.canceller_cli import canceller_options, run_cancellers

        try:
            cancelling = canceller_options(cancellers, seed, arm or [])
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--arm") from err
        try:
            ok = asyncio.run(run_cancellers(target, cancelling, out, progress, console))
        except (ValueError, httpx.HTTPError, RuntimeError, OSError) as err:
            console.print(f"error: {type(err).__name__}: {err}")
            raise typer.Exit(2) from err
        raise typer.Exit(0 if ok else 1)
    # --- end cancellers ---
    # --- shoppers ---
    if shoppers:
        from supportflow.sim.shopper_cli import run_with_shoppers, shopper_options

        try:
            shopping = shopper_options(shoppers, seed, arm or [], reminder_delay, shopper_ramp)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--arm") from err
        try:
            passed = asyncio.run(
                run_with_shoppers(
                    target,
                    options if customers else None,
                    shopping,
                    out,
                    progress,
                    console,
                    report_conversations,
                )
            )
        except (ValueError, httpx.HTTPError, RuntimeError, OSError) as err:
            console.print(f"error: {type(err).__name__}: {err}")
            raise typer.Exit(2) from err
        raise typer.Exit(0 if passed else 1)
    # --- end shoppers ---
    try:
        result = asyncio.run(_run(target, options, out, progress, console))
    except ValueError as err:
        # A channel the target cannot serve (no SMTP address, no /dev/sms): said before any run.
        console.print(f"error: {err}")
        raise typer.Exit(2) from err
    except (httpx.HTTPError, RuntimeError, OSError) as err:
        # An unreachable or refusing stack, or a store with no orders left: say so plainly.
        console.print(f"error: {type(err).__name__}: {err}")
        raise typer.Exit(2) from err
    raise typer.Exit(0 if result.passed else 1)


def _remote_target(
    api: str | None,
    chat_key: str | None,
    api_key: str | None,
    store: str | None,
    temporal: str | None,
    namespace: str,
    data_dir: Path | None,
    identity_secret: str | None,
    smtp: str | None,
) -> Target:
    from supportflow.settings import Settings
    from supportflow.sim.stack import channel_fields

    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))  # type: ignore[arg-type]
    keys_file = settings.data_dir / "demo-tenant.json"
    # Keys missing from the command line come from the demo tenant's file. Keys given
    # without --data-dir name a stack that file need not belong to: then the identity secret
    # must be given too, not taken from some other tenant's file.
    if identity_secret is None and chat_key and api_key and data_dir is None:
        raise typer.BadParameter(
            "give the tenant's identity secret (or SUPPORTFLOW_SIM_IDENTITY_SECRET): every "
            "simulated customer is verified by a token signed with it",
            param_hint="--identity-secret",
        )
    keys: dict[str, str] = {}
    if chat_key is None or api_key is None or identity_secret is None:
        try:
            keys = json.loads(keys_file.read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise typer.BadParameter(
                f"give --chat-key, --api-key and --identity-secret, or --data-dir with a "
                f"demo-tenant.json ({keys_file} is unreadable)",
                param_hint="--chat-key/--api-key/--identity-secret",
            ) from err
    chat_key = chat_key or keys["chat_key"]
    api_key = api_key or keys["api_key"]
    identity_secret = identity_secret or keys.get("identity_secret")
    if not identity_secret:
        raise typer.BadParameter(
            f"{keys_file} has no identity_secret (a data dir from before identity "
            "verification: start `supportflow up` on it once), and none was given",
            param_hint="--identity-secret",
        )
    # Email and SMS customers need the demo tenant's channel keys and the stack's Maildir:
    # only from a data dir named on the command line (the default one may be another stack's).
    if data_dir is not None and not keys:
        with contextlib.suppress(OSError, ValueError):
            keys = json.loads(keys_file.read_text("utf-8"))
    channel = channel_fields(data_dir, keys, smtp) if data_dir is not None else {}
    return Target(
        api_url=api or settings.api_url,
        chat_key=chat_key,
        api_key=api_key,
        store_url=store or settings.resolved_store_url,
        temporal_address=temporal or settings.temporal_address,
        namespace=namespace,
        identity_secret=identity_secret,
        **channel,
    )


async def _run(
    target: Target | None, options: SimOptions, out: Path, progress: bool, console: Console
) -> SimResult:
    from supportflow.sim.runner import simulate
    from supportflow.sim.stack import embedded_stack

    if target is None:
        with tempfile.TemporaryDirectory(prefix="supportflow-sim-") as tmp:
            console.print(f"starting an embedded stack in {tmp}")
            async with embedded_stack(Path(tmp) / "data", Path(tmp) / "up.log") as embedded:
                result = await simulate(embedded, options, progress=progress)
    else:
        result = await simulate(target, options, progress=progress)
    return report_conversations(result, out, console)


def report_conversations(result: SimResult, out: Path, console: Console) -> SimResult:
    """Write the conversations' report and say its headline figures."""
    from supportflow.sim.report import summarize, write_report

    paths = write_report(result, out)
    s = summarize(result)
    lat = s["latency_s"]
    console.print(
        f"{s['conversations']} conversations, {s['answered']}/{s['messages']} messages "
        f"answered, {s['lost_messages']} lost; correct outcomes "
        f"{(s['correct_outcome_rate'] or 0) * 100:.1f}%, automation "
        f"{(s['automation_rate'] or 0) * 100:.1f}%, escalation "
        f"{(s['escalation_rate'] or 0) * 100:.1f}%; turn p50/p95/p99 "
        f"{(lat['p50'] or 0) * 1000:.0f}/{(lat['p95'] or 0) * 1000:.0f}/"
        f"{(lat['p99'] or 0) * 1000:.0f} ms; {s['turns_per_s']:.2f} turns/s; "
        f"billable actions/conversation mean {s['billable_actions']['mean'] or 0:.1f}"
    )
    if set(s["by_channel"]) != {"chat"}:
        for label, row in s["by_channel"].items():
            console.print(
                f"  {label}: {row['conversations']} conversations, correct "
                f"{(row['correct_outcome_rate'] or 0) * 100:.1f}%, automation "
                f"{(row['automation_rate'] or 0) * 100:.1f}%, escalation "
                f"{(row['escalation_rate'] or 0) * 100:.1f}%, {row['lost_messages']} lost, "
                f"turn p50 {(row['turn_p50_s'] or 0) * 1000:.0f} ms"
            )
    console.print(f"report: {paths.markdown}  gate: {'PASSED' if result.passed else 'FAILED'}")
    return result
