"""A canceller run's report: figures (``summarize``), cancellers.json, cancellers.md, and a
Rich table. Every save rate carries its interval, every difference and uplift too, and the
model the cancellers came from is named beside the figures: never an uplift without both.

The figures are the stack's (its retention experiment's results); the checks compare them
with what the cancellers know: every canceller whose case reached the offer is one exposure,
every one of those whose order the store still has pending is one save."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from supportflow.sales.experiments import Arm
from supportflow.sim.canceller_arms import arm_by_offer, arm_offer, describe
from supportflow.sim.canceller_model import MODEL_LINE, expected_save, parameters
from supportflow.sim.cancellers import CancellerOutcome, CancellerRun
from supportflow.sim.shopper_report import (
    arms_table,
    conf_label,
    model_and_arms,
    pc,
    points_cell,
    rate_cell,
    uplift_cell,
    versus,
    write_report,
)


def _differs(o: CancellerOutcome) -> bool:
    """The store left the order otherwise than the canceller wanted."""
    return o.wants_kept is not None and o.kept is not None and o.wants_kept != o.kept


def _cancellers(cs: list[CancellerOutcome]) -> dict[str, Any]:
    exposed = [o for o in cs if o.exposed]
    offered = [o for o in cs if o.offer_seen is not None]
    return {
        "cancellers": len(cs),
        "orders_placed": sum(o.order_id is not None for o in cs),
        "errors": sum(1 for o in cs if o.errors),
        "exposed": len(exposed),
        "offers_seen": len(offered),
        "offers_by_kind": dict(sorted(Counter(str(o.offer_seen) for o in offered).items())),
        "took_offer": sum(bool(o.took_offer) for o in offered),
        "declined_offer": sum(o.took_offer is False for o in offered),
        "asked_to_confirm": sum(o.confirm_seen for o in cs),
        "confirmed_cancel": sum(o.confirmed is True for o in cs),
        "changed_their_mind": sum(o.confirmed is False for o in cs),
        "wanted_kept": sum(o.wants_kept is True for o in cs),
        "wanted_cancelled": sum(o.wants_kept is False for o in cs),
        "kept_in_store": sum(o.kept is True for o in cs),
        "cancelled_in_store": sum(o.kept is False for o in cs),
        "store_differs_from_canceller": sum(_differs(o) for o in cs),
        "ended": dict(sorted(Counter(o.ended for o in cs).items())),
        "with_findings": sum(1 for o in cs if o.findings),
    }


def _per_arm_checks(run: CancellerRun, stack_arms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per arm, where the offer a canceller saw tells its arm (exactly one arm makes it)."""
    tellable = set(arm_by_offer(run.options.arms).values())
    out = []
    for a in stack_arms:
        if a["arm"] not in tellable:
            continue
        mine = [o for o in run.cancellers if o.exposed and o.arm == a["arm"]]
        kept = sum(bool(o.kept) for o in mine)
        out.append(
            {
                "arm": a["arm"],
                "exposed": len(mine),
                "exposures": a["exposures"],
                "kept": kept,
                "saves": a["saves"],
                "match": len(mine) == a["exposures"] and kept == a["saves"],
            }
        )
    return out


def summarize(run: CancellerRun) -> dict[str, Any]:
    res = run.results or {}
    arms_by_name = {a.name: a for a in run.options.arms}
    model = run.options.model
    arms = [
        {
            "arm": a["arm"],
            "does": describe(arms_by_name[a["arm"]]) if a["arm"] in arms_by_name else "?",
            "exposures": a["exposures"],
            # A retention experiment's "conversions" are saves (outcome "save").
            "saves": a["conversions"],
            "rate": a["rate"],
            "rate_interval": a["rate_interval"],
            "model_expects": expected_save(model, arm_offer(arms_by_name[a["arm"]]))
            if a["arm"] in arms_by_name
            else None,
        }
        for a in res.get("arms", [])
    ]
    keys = ("arm", "versus", "difference", "difference_interval")
    comparisons = [
        {k: c.get(k) for k in (*keys, "relative_uplift", "relative_uplift_interval", "note")}
        for c in res.get("comparisons", [])
    ]
    cs = _cancellers(run.cancellers)
    exposures = sum(a["exposures"] for a in arms)
    saves = sum(a["saves"] for a in arms)
    kept_exposed = sum(bool(o.kept) for o in run.cancellers if o.exposed)
    per_arm = _per_arm_checks(run, arms)
    o = run.options
    return {
        "model": MODEL_LINE,
        "intervals": res.get("model"),
        "relative_uplift_intervals": res.get("relative_uplift_model"),
        "outcome": res.get("outcome"),
        "experiment_id": run.experiment_id,
        "confidence": res.get("confidence"),
        "arms": arms,
        "comparisons": comparisons,
        "results_notes": res.get("notes", []),
        "checks": {
            # The stack says its counts are saves (not conversions).
            "outcome_is_save": res.get("outcome") == "save",
            # Every canceller whose case reached the offer is one exposure ...
            "exposed": cs["exposed"],
            "exposures": exposures,
            "exposures_match": exposures == cs["exposed"],
            # ... and every one of them whose order the store still has is one save.
            "kept": kept_exposed,
            "saves": saves,
            "saves_match": saves == kept_exposed,
            "per_arm": per_arm,
            "per_arm_match": all(p["match"] for p in per_arm),
            # The store did what each canceller wanted.
            "store_matches_cancellers": cs["store_differs_from_canceller"] == 0,
        },
        "cancellers": cs,
        "findings": [
            {"canceller": c.index, "reason": c.reason, "finding": f}
            for c in run.cancellers
            for f in c.findings
        ],
        # The same finding (its text holds the wording concerned) and how many had it.
        "findings_by_text": dict(
            Counter(f for c in run.cancellers for f in c.findings).most_common()
        ),
        "wall_s": run.wall_s,
        "settle_s": run.settle_s,
        "options": {
            "cancellers": o.cancellers,
            "seed": o.seed,
            "ramp_s": o.ramp_s,
            "concurrency": o.concurrency,
            "arms": [a.model_dump(mode="json") for a in o.arms],
        },
        "model_parameters": parameters(model),
        "notes": run.notes,
    }


def passed(s: dict[str, Any]) -> bool:
    """The run's gate: the stack counted saves, as many as the cancellers made, in the
    right arms, the store did what each canceller wanted, and nothing failed."""
    ck = s["checks"]
    return bool(
        ck["outcome_is_save"]
        and ck["exposures_match"]
        and ck["saves_match"]
        and ck["per_arm_match"]
        and ck["store_matches_cancellers"]
        and s["cancellers"]["errors"] == 0
    )


def to_json(run: CancellerRun) -> dict[str, Any]:
    return {
        "summary": summarize(run),
        "api_url": run.api_url,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "experiment": run.experiment,
        "results": run.results,
        "cancellers": [
            {**dataclasses.asdict(c), "exposed": c.exposed, "kept": c.kept} for c in run.cancellers
        ],
    }


# --- text ---------------------------------------------------------------------------------------
def table(s: dict[str, Any]) -> Table:
    title = "Retention experiment (simulated cancellers): saves per arm"
    return arms_table(s, title, "saves", "save rate")


def _check_line(s: dict[str, Any]) -> str:
    ck = s["checks"]
    per_arm = "; ".join(
        f"{p['arm']}: {p['exposed']} exposed → {p['exposures']} exposures, {p['kept']} kept → "
        f"{p['saves']} saves ({'match' if p['match'] else 'MISMATCH'})"
        for p in ck["per_arm"]
    )
    return (
        f"{ck['exposed']} cancellers reached the offer → the stack counted {ck['exposures']} "
        f"exposures ({'match' if ck['exposures_match'] else 'MISMATCH'}); {ck['kept']} of them "
        f"kept their order (store) → {ck['saves']} saves "
        f"({'match' if ck['saves_match'] else 'MISMATCH'})"
        + (f"; per arm: {per_arm}" if per_arm else "")
        + f"; the stack's results say outcome {s['outcome']!r}"
        + ("" if ck["outcome_is_save"] else " (expected 'save')")
        + "; store did what every canceller wanted: "
        + ("yes" if ck["store_matches_cancellers"] else "NO")
        + "."
    )


def print_summary(console: Console, s: dict[str, Any], report: Path | None = None) -> None:
    console.print(table(s), width=max(console.width, 150))
    console.print(f"{s['model']}; intervals: {s['intervals']}")
    c = s["cancellers"]
    console.print(
        f"{c['cancellers']} cancellers, {c['orders_placed']} orders placed, {c['offers_seen']} "
        f"offers ({c['took_offer']} taken), {c['kept_in_store']} orders kept, "
        f"{c['cancelled_in_store']} cancelled; {len(s['findings'])} findings; "
        f"{s['wall_s']:.0f} s"
    )
    console.print(_check_line(s))
    for cmp in s["comparisons"]:
        if cmp.get("note"):
            console.print(f"{cmp['arm']}: {cmp['note']}")
    for text, n in s["findings_by_text"].items():
        console.print(f"[yellow]finding[/] ({n} cancellers): {text}")
    if report is not None:
        console.print(f"canceller report: {report}")


def to_markdown(s: dict[str, Any], arms: Sequence[Arm]) -> str:
    conf = conf_label(s)
    o = s["options"]
    c = s["cancellers"]
    lines = [
        "# supportflow simulate: cancellers",
        "",
        f"**{s['model']}.** {c['cancellers']} simulated cancellers (seed {o['seed']}, arriving "
        f"over {o['ramp_s']:g} s, at most {o['concurrency']} at once), experiment "
        f"`{s['experiment_id']}` (behaviour retention), in {s['wall_s']:.0f} s. The figures are "
        f"the stack's own (`GET /v1/experiments/{{id}}/results`, outcome `{s['outcome']}`): "
        f"{s['intervals']}.",
        "",
        f"| arm | does | exposures | saves | save rate [{conf} Wilson] | "
        f"vs control [{conf} Newcombe] | relative [{conf} MOVER-R] | model expects |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in s["arms"]:
        cmp = versus(s, a["arm"])
        lines.append(
            f"| {a['arm']} | {a['does']} | {a['exposures']} | {a['saves']} | "
            f"{rate_cell(a['rate'], a['rate_interval'])} | "
            + (
                "control | |"
                if cmp is None
                else f"{points_cell(cmp['difference'], cmp['difference_interval'])} | "
                f"{uplift_cell(cmp['relative_uplift'], cmp['relative_uplift_interval'])} |"
            )
            + f" {pc(a['model_expects'])} |"
        )
    lines += [
        "",
        "*Model expects*: the save rate the canceller model itself gives each arm (its "
        "parameters and the arm's offer), i.e. what the measured rate estimates if the stack "
        "does exactly its part. A model figure, not data: about one arm in twenty should miss "
        "it with its 95% interval by chance alone.",
        "",
        *[f"- {cmp['arm']}: {cmp['note']}" for cmp in s["comparisons"] if cmp.get("note")],
        *[f"- {n}" for n in s["results_notes"]],
        "",
        "## Checks: the stack against what the cancellers did",
        "",
        _check_line(s),
        "",
        "## What the cancellers did (the model's side)",
        "",
        "| figure | value |",
        "|---|---|",
        *[f"| {k.replace('_', ' ')} | {v} |" for k, v in c.items() if not isinstance(v, dict)],
        f"| offers by kind | {c['offers_by_kind'] or '-'} |",
        f"| how the conversations ended | {c['ended']} |",
        "",
        "## Findings (what the agent did otherwise than the canceller meant)",
        "",
        *(
            ["| finding | cancellers |", "|---|---|"]
            + [f"| {text} | {n} |" for text, n in s["findings_by_text"].items()]
            if s["findings_by_text"]
            else ["None."]
        ),
        "",
        *[f"- canceller {f['canceller']} ({f['reason']}): {f['finding']}" for f in s["findings"]],
        "",
        *model_and_arms(s, arms, describe),
    ]
    return "\n".join(lines) + "\n"


def write_canceller_report(run: CancellerRun, out_dir: Path) -> tuple[Path, Path]:
    """cancellers.md and cancellers.json in ``out_dir`` (created if missing)."""
    markdown = to_markdown(summarize(run), run.options.arms)
    return write_report(out_dir, "cancellers", markdown, to_json(run))
