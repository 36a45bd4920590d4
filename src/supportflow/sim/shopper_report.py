"""A shopper run's report: figures (``summarize``), shoppers.json, shoppers.md, and a Rich
table. Every rate carries its interval, every difference and uplift too, and the model the
shoppers came from is named beside the figures: never an uplift without both."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from supportflow.sales.experiments import Arm
from supportflow.sim.report import pct
from supportflow.sim.shopper_arms import arm_offer, describe
from supportflow.sim.shopper_model import MODEL_LINE, expected_conversion, parameters
from supportflow.sim.shoppers import ShopperOutcome, ShopperRun


def _path_of(o: ShopperOutcome) -> str:
    """What a sales touch's workflow had to do, as the shopper saw it."""
    if o.path == "bought_at_once":
        return "bought at once"
    if o.offer is not None:
        return "abandoned, reminder received"
    if o.bought == "came_back":
        return "abandoned, came back before any reminder"
    return "abandoned, no reminder (hold-out or no consent)"


def _stats(xs: Sequence[float]) -> dict[str, float | None]:
    return {
        "mean": statistics.fmean(xs) if xs else None,
        "p50": pct(list(xs), 50),
        "max": max(xs) if xs else None,
    }


def _billable(shoppers: list[ShopperOutcome]) -> dict[str, Any]:
    touched = [o for o in shoppers if o.billable_actions]
    kinds: Counter[str] = Counter()
    for o in touched:
        kinds.update(o.billable_actions)
    by_path: dict[str, list[float]] = {}
    for o in touched:
        by_path.setdefault(_path_of(o), []).append(float(sum(o.billable_actions.values())))
    totals = [float(sum(o.billable_actions.values())) for o in touched]
    return {
        "touches_counted": len(touched),
        "total": int(sum(totals)),
        "per_touch": _stats(totals),
        "by_kind": dict(sorted(kinds.items())),
        "by_path": {p: {"touches": len(xs), **_stats(xs)} for p, xs in sorted(by_path.items())},
    }


def _shoppers(shoppers: list[ShopperOutcome]) -> dict[str, Any]:
    checkouts = [o for o in shoppers if o.checkout_id]
    abandoned = [o for o in checkouts if o.path == "abandoned"]
    reminded = [o for o in checkouts if o.offer is not None]
    latency = [o.reminder_after_s for o in reminded if o.reminder_after_s is not None]
    return {
        "shoppers": len(shoppers),
        "left_without_checkout": sum(o.path == "left" for o in shoppers),
        "errors": sum(1 for o in shoppers if o.errors),
        "checkouts": len(checkouts),
        "consented_to_email": sum(o.consented for o in checkouts),
        "bought_at_once": sum(o.bought == "at_once" for o in checkouts),
        "abandoned": len(abandoned),
        "reminders_received": len(reminded),
        "reminders_by_offer": dict(sorted(Counter(str(o.offer) for o in reminded).items())),
        "reminders_read": sum(bool(o.read_reminder) for o in reminded),
        "bought_after_reminder": sum(o.bought == "after_reminder" for o in checkouts),
        "came_back_and_bought": sum(o.bought == "came_back" for o in checkouts),
        "orders": sum(o.bought is not None for o in checkouts),
        "orders_with_code": sum(o.used_code for o in checkouts),
        # A reminder that came after its shopper stopped watching (the model ignores it).
        "late_reminders": sum(1 for o in checkouts if o.offer is None and o.reminders_received),
        "reminder_after_s": {"p50": pct(latency, 50), "max": max(latency) if latency else None},
    }


def model_expects(run: ShopperRun, arm: Arm) -> float:
    """The model's own conversion rate for ``arm``'s exposures (sim/shopper_model.py)."""
    o = run.options
    delay_s = (arm.params.delay_minutes or o.reminder_delay_min) * 60
    return expected_conversion(o.model, arm_offer(arm), delay_s / o.window_s)


def summarize(run: ShopperRun) -> dict[str, Any]:
    res = run.results or {}
    arms_by_name = {a.name: a for a in run.options.arms}
    arms = [
        {
            "arm": a["arm"],
            "does": describe(arms_by_name[a["arm"]]) if a["arm"] in arms_by_name else "?",
            "exposures": a["exposures"],
            "conversions": a["conversions"],
            "rate": a["rate"],
            "rate_interval": a["rate_interval"],
            # What the rate estimates if the stack does exactly its part: a model figure.
            "model_expects": model_expects(run, arms_by_name[a["arm"]])
            if a["arm"] in arms_by_name
            else None,
        }
        for a in res.get("arms", [])
    ]
    comparisons = [
        {
            k: c.get(k)
            for k in (
                "arm",
                "versus",
                "difference",
                "difference_interval",
                "relative_uplift",
                "relative_uplift_interval",
                "note",
            )
        }
        for c in res.get("comparisons", [])
    ]
    shoppers = _shoppers(run.shoppers)
    exposures = sum(a["exposures"] for a in arms)
    conversions = sum(a["conversions"] for a in arms)
    o = run.options
    return {
        "model": MODEL_LINE,
        "intervals": res.get("model"),
        "relative_uplift_intervals": res.get("relative_uplift_model"),
        "experiment_id": run.experiment_id,
        "confidence": res.get("confidence"),
        "arms": arms,
        "comparisons": comparisons,
        "results_notes": res.get("notes", []),
        "checks": {
            # Every checkout is one sales touch (an exposure), every order one conversion.
            "checkouts": shoppers["checkouts"],
            "exposures": exposures,
            "orders": shoppers["orders"],
            "conversions": conversions,
            "exposures_match": exposures == shoppers["checkouts"],
            "conversions_match": conversions == shoppers["orders"],
            "sales_workflows_still_running": len(run.still_running),
        },
        "shoppers": shoppers,
        "billable_actions": _billable(run.shoppers),
        "wall_s": run.wall_s,
        "options": {
            "shoppers": o.shoppers,
            "seed": o.seed,
            "reminder_delay_min": o.reminder_delay_min,
            "reminder_margin_s": o.reminder_margin_s,
            "ramp_s": o.ramp_s,
            "arms": [a.model_dump(mode="json") for a in o.arms],
        },
        "model_parameters": parameters(o.model),
        "notes": run.notes,
    }


def to_json(run: ShopperRun) -> dict[str, Any]:
    return {
        "summary": summarize(run),
        "api_url": run.api_url,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "experiment": run.experiment,
        "results": run.results,
        "shoppers": [dataclasses.asdict(s) for s in run.shoppers],
    }


# --- text ---------------------------------------------------------------------------------------
def pc(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def rate_cell(rate: float | None, interval: Sequence[float] | None) -> str:
    if rate is None or not interval:
        return "- (no exposures)"
    return f"{pc(rate)} [{interval[0] * 100:.1f}, {interval[1] * 100:.1f}]"


def points_cell(diff: float | None, interval: Sequence[float] | None) -> str:
    """A difference in points with its interval, or '-': never one without the other."""
    if diff is None or not interval:
        return "-"
    return f"{diff * 100:+.1f} pts [{interval[0] * 100:+.1f}, {interval[1] * 100:+.1f}]"


def uplift_cell(uplift: float | None, interval: Sequence[float] | None) -> str:
    if uplift is None or not interval:
        return "-"
    return f"{uplift * 100:+.0f}% [{interval[0] * 100:+.0f}, {interval[1] * 100:+.0f}]"


def versus(s: dict[str, Any], arm: str) -> dict[str, Any] | None:
    return next((c for c in s["comparisons"] if c["arm"] == arm), None)


def conf_label(s: dict[str, Any]) -> str:
    return f"{(s['confidence'] or 0.95) * 100:g}%"


def table(s: dict[str, Any]) -> Table:
    return arms_table(s, "Abandoned-checkout experiment (simulated shoppers)", "conversions")


def arms_table(s: dict[str, Any], title: str, counted: str, rate: str = "rate") -> Table:
    """Per arm: what it does, exposures, what it counts (``counted``: conversions, saves),
    the rate, its difference and relative change against the control, each with its
    interval, and what the model expects."""
    conf = conf_label(s)
    t = Table(
        title=title,
        caption=f"{s['model']}; {conf} intervals: rate Wilson, difference Newcombe, "
        "relative MOVER-R",
    )
    for col in (
        "arm",
        "does",
        "exposures",
        counted,
        f"{rate} [{conf}]",
        f"vs control [{conf}]",
        f"relative [{conf}]",
        "model expects",
    ):
        t.add_column(col, justify="right" if col in ("exposures", counted) else "left")
    for a in s["arms"]:
        c = versus(s, a["arm"])
        t.add_row(
            a["arm"],
            a["does"],
            str(a["exposures"]),
            str(a[counted]),
            rate_cell(a["rate"], a["rate_interval"]),
            "control" if c is None else points_cell(c["difference"], c["difference_interval"]),
            "" if c is None else uplift_cell(c["relative_uplift"], c["relative_uplift_interval"]),
            pc(a["model_expects"]),
        )
    return t


def print_summary(console: Console, s: dict[str, Any], report: Path | None = None) -> None:
    # Wide enough for every interval on one line, even when the output is not a terminal.
    console.print(table(s), width=max(console.width, 150))
    console.print(f"{s['model']}; intervals: {s['intervals']}")
    b = s["billable_actions"]
    sh = s["shoppers"]
    ck = s["checks"]
    per = b["per_touch"]
    console.print(
        f"{sh['shoppers']} shoppers, {sh['checkouts']} checkouts, {sh['orders']} orders; "
        f"{sh['reminders_received']} reminders; billable actions per sales touch mean "
        f"{_num(per['mean'])} (p50 {_num(per['p50'], 0)}, max {_num(per['max'], 0)}) over "
        f"{b['touches_counted']} touches; {s['wall_s']:.0f} s"
    )
    if not (ck["exposures_match"] and ck["conversions_match"]):
        console.print(
            f"[yellow]the stack counted {ck['exposures']} exposures and {ck['conversions']} "
            f"conversions; the shoppers made {ck['checkouts']} checkouts and {ck['orders']} "
            "orders[/]"
        )
    for c in s["comparisons"]:
        if c.get("note"):
            console.print(f"{c['arm']}: {c['note']}")
    if report is not None:
        console.print(f"shopper report: {report}")


def _num(x: float | None, places: int = 1) -> str:
    return "-" if x is None else f"{x:.{places}f}"


def to_markdown(s: dict[str, Any], arms: Sequence[Arm]) -> str:
    conf = conf_label(s)
    o = s["options"]
    sh = s["shoppers"]
    b = s["billable_actions"]
    ck = s["checks"]
    lines = [
        "# supportflow simulate: shoppers",
        "",
        f"**{s['model']}.** {sh['shoppers']} simulated shoppers (seed {o['seed']}, arriving "
        f"over {o['ramp_s']:g} s), reminder delay {o['reminder_delay_min']} min, experiment "
        f"`{s['experiment_id']}`, in {s['wall_s']:.0f} s. The figures are the stack's own "
        f"(`GET /v1/experiments/{{id}}/results`): {s['intervals']}.",
        "",
        f"| arm | does | exposures | conversions | rate [{conf} Wilson] | "
        f"vs control [{conf} Newcombe] | relative [{conf} MOVER-R] | model expects |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in s["arms"]:
        c = versus(s, a["arm"])
        lines.append(
            f"| {a['arm']} | {a['does']} | {a['exposures']} | {a['conversions']} | "
            f"{rate_cell(a['rate'], a['rate_interval'])} | "
            + (
                "control | |"
                if c is None
                else f"{points_cell(c['difference'], c['difference_interval'])} | "
                f"{uplift_cell(c['relative_uplift'], c['relative_uplift_interval'])} |"
            )
            + f" {pc(a['model_expects'])} |"
        )
    lines += [
        "",
        "*Model expects*: the rate the shopper model itself gives each arm (its parameters, "
        "the arm's offer and when its reminder comes), i.e. what the measured rate estimates "
        "if the stack does exactly its part. A model figure, not data: about one arm in "
        "twenty should miss it with its 95% interval by chance alone.",
    ]
    lines += [""] + [f"- {c['arm']}: {c['note']}" for c in s["comparisons"] if c.get("note")]
    lines += [f"- {n}" for n in s["results_notes"]]
    lines += [
        "",
        "## What the shoppers did (the model's side)",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {k.replace('_', ' ')} | {v} |" for k, v in sh.items() if not isinstance(v, dict)],
        f"| reminders by offer | {sh['reminders_by_offer'] or '-'} |",
        f"| reminder after checkout p50 / max | {_num(sh['reminder_after_s']['p50'])} s / "
        f"{_num(sh['reminder_after_s']['max'])} s |",
        "",
        f"Checks: {ck['checkouts']} checkouts → {ck['exposures']} exposures "
        f"({'match' if ck['exposures_match'] else 'MISMATCH'}); {ck['orders']} orders → "
        f"{ck['conversions']} conversions ({'match' if ck['conversions_match'] else 'MISMATCH'})"
        f"; sales workflows still running at the end: {ck['sales_workflows_still_running']}.",
        "",
        "## Billable actions per sales touch",
        "",
        f"{b['touches_counted']} SalesAgentWorkflow histories, {b['total']} actions: mean "
        f"{_num(b['per_touch']['mean'])}, p50 {_num(b['per_touch']['p50'], 0)}, max "
        f"{_num(b['per_touch']['max'], 0)} per touch (Temporal Cloud's rules, "
        "`temporal/billable.py`).",
        "",
        "| path | touches | mean | p50 | max |",
        "|---|---|---|---|---|",
        *[
            f"| {p} | {v['touches']} | {_num(v['mean'])} | {_num(v['p50'], 0)} | "
            f"{_num(v['max'], 0)} |"
            for p, v in b["by_path"].items()
        ],
        "",
        "By kind: " + (", ".join(f"{k} {v}" for k, v in b["by_kind"].items()) or "none"),
        "",
        *model_and_arms(s, arms, describe),
    ]
    return "\n".join(lines) + "\n"


def model_and_arms(
    s: dict[str, Any], arms: Sequence[Arm], describe: Callable[[Arm], str]
) -> list[str]:
    """A run report's closing sections: the model's parameters, the arms (each as
    ``describe`` says), any notes."""
    lines = [
        "## The model's parameters",
        "",
        *[f"- `{k}`: {v}" for k, v in s["model_parameters"].items()],
        "",
        "## Arms",
        "",
        *[f"- `{a.name}` (weight {a.weight}): {describe(a)}" for a in arms],
    ]
    if s["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in s["notes"]]]
    return lines


def write_report(out_dir: Path, stem: str, markdown: str, doc: Any) -> tuple[Path, Path]:
    """``stem``.md and ``stem``.json in ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{stem}.md"
    md.write_text(markdown, "utf-8")
    js = out_dir / f"{stem}.json"
    js.write_text(json.dumps(doc, indent=2, default=str) + "\n", "utf-8")
    return md, js


def write_shopper_report(run: ShopperRun, out_dir: Path) -> tuple[Path, Path]:
    """shoppers.md and shoppers.json in ``out_dir`` (created if missing)."""
    return write_report(
        out_dir, "shoppers", to_markdown(summarize(run), run.options.arms), to_json(run)
    )
