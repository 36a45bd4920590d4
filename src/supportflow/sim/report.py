"""The run's report: figures (``summarize``), report.md, report.json and PNG charts."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from supportflow.sim.model import ConversationResult, ReportPaths, SentMessage, SimResult

MB = 1024 * 1024


def pct(xs: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no data)."""
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def _rate(n: int, d: int) -> float | None:
    return n / d if d else None


def _actions(convs: list[ConversationResult]) -> dict[str, Any]:
    totals = [float(sum(c.billable_actions.values())) for c in convs if c.billable_actions]
    return {
        "conversations_counted": len(totals),
        "mean": statistics.fmean(totals) if totals else None,
        "p50": pct(totals, 50),
        "max": max(totals) if totals else None,
    }


# Report order of channel labels (sim/mix.py); any other label sorts after these.
_CHANNEL_ORDER = ("chat", "email", "sms", "chat+email", "chat+sms")


def _channel_key(label: str) -> tuple[int, str]:
    return (_CHANNEL_ORDER.index(label) if label in _CHANNEL_ORDER else 99, label)


def _outcomes(convs: list[ConversationResult]) -> dict[str, Any]:
    """The outcome figures of a group of conversations (a channel's, or all of them)."""
    msgs = [m for c in convs for m in c.messages]
    latencies = [m.latency_s for m in msgs if m.latency_s is not None]
    n = len(convs)
    return {
        "conversations": n,
        "correct": sum(c.outcome_ok is True for c in convs),
        "resolved": sum(c.resolved for c in convs),
        "escalated": sum(c.escalated for c in convs),
        "correct_outcome_rate": _rate(sum(c.outcome_ok is True for c in convs), n),
        "automation_rate": _rate(sum(c.resolved for c in convs), n),
        "escalation_rate": _rate(sum(c.escalated for c in convs), n),
        "messages": len(msgs),
        "answered": sum(1 for m in msgs if m.answered),
        "lost_messages": sum(c.lost for c in convs),
        "turn_p50_s": pct(latencies, 50),
        "turn_p95_s": pct(latencies, 95),
        "actions_mean": _actions(convs)["mean"],
    }


def _latency_by_channel(msgs: list[SentMessage]) -> dict[str, dict[str, float | None]]:
    """Turn latency of the messages sent on each channel (a chat+sms conversation's first
    message counts as chat)."""
    out: dict[str, dict[str, float | None]] = {}
    for channel in sorted({m.channel for m in msgs}, key=_channel_key):
        xs = [m.latency_s for m in msgs if m.channel == channel and m.latency_s is not None]
        out[channel] = {"p50": pct(xs, 50), "p95": pct(xs, 95), "p99": pct(xs, 99)}
    return out


def summarize(result: SimResult) -> dict[str, Any]:
    convs = result.conversations
    msgs = result.messages
    latencies = [m.latency_s for m in msgs if m.latency_s is not None]
    by_behaviour: dict[str, list[ConversationResult]] = defaultdict(list)
    for c in convs:
        by_behaviour[c.behaviour].append(c)
    kinds: dict[str, int] = defaultdict(int)
    for c in convs:
        for k, v in c.billable_actions.items():
            kinds[k] += v
    heldout = [c for c in convs if c.first_message_source == "heldout" and c.messages]
    memory: dict[str, dict[str, float]] = {}
    for proc in sorted({s.process for s in result.memory}):
        rss = [s.rss_bytes / MB for s in result.memory if s.process == proc]
        memory[proc] = {"start_mb": rss[0], "peak_mb": max(rss), "end_mb": rss[-1]}
    return {
        "conversations": len(convs),
        "messages": len(msgs),
        "answered": sum(1 for m in msgs if m.answered),
        "lost_messages": result.lost_messages,
        "resent_messages": sum(1 for m in msgs if m.attempts > 1),
        "throttled_messages": sum(1 for m in msgs if m.throttled),
        "duplicate_answers": sum(1 for m in msgs if m.duplicate),
        "automation_rate": _rate(sum(c.resolved for c in convs), len(convs)),
        "escalation_rate": _rate(sum(c.escalated for c in convs), len(convs)),
        "correct_outcome_rate": _rate(sum(c.outcome_ok is True for c in convs), len(convs)),
        "wrong_outcomes": result.wrong_outcomes,
        "invariant_violations": len(result.invariant_violations),
        "heldout_first_messages": len(heldout),
        "heldout_understood_rate": _rate(
            sum(c.first_message_understood for c in heldout), len(heldout)
        ),
        "conversations_with_deviations": sum(1 for c in convs if c.deviations),
        "latency_s": {
            "p50": pct(latencies, 50),
            "p95": pct(latencies, 95),
            "p99": pct(latencies, 99),
            "max": max(latencies) if latencies else None,
        },
        "wall_s": result.wall_s,
        "turns_per_s": result.turns_per_s,
        "conversations_per_min": result.conversations_per_min,
        "billable_actions": {
            **_actions(convs),
            "by_kind": dict(sorted(kinds.items())),
            "by_behaviour": {b: _actions(cs) for b, cs in sorted(by_behaviour.items())},
        },
        "by_behaviour": {
            b: {
                "conversations": len(cs),
                "correct": sum(c.outcome_ok is True for c in cs),
                "resolved": sum(c.resolved for c in cs),
                "escalated": sum(c.escalated for c in cs),
                "turn_p50_s": pct(
                    [m.latency_s for c in cs for m in c.messages if m.latency_s is not None], 50
                ),
            }
            for b, cs in sorted(by_behaviour.items())
        },
        "memory": memory,
        "by_channel": {
            label: _outcomes([c for c in convs if c.channel == label])
            for label in sorted({c.channel for c in convs}, key=_channel_key)
        },
        "whole": _outcomes(convs),
        "latency_by_channel": _latency_by_channel(msgs),
        "passed": result.passed,
    }


def to_json(result: SimResult) -> dict[str, Any]:
    target = dataclasses.asdict(result.target)
    # Secrets: never in a report.
    target.pop("api_key")
    target.pop("identity_secret")
    target.pop("twilio_auth_token")
    return {
        "summary": summarize(result),
        "options": dataclasses.asdict(result.options),
        "target": target,
        "started_at": result.started_at,
        "ended_at": result.ended_at,
        "notes": result.notes,
        "invariant_violations": result.invariant_violations,
        "conversations": [dataclasses.asdict(c) for c in result.conversations],
        "memory": [dataclasses.asdict(s) for s in result.memory],
    }


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _pc(x: float | None) -> str:
    return _f(None if x is None else x * 100, "{:.1f}%")


def _ms(x: float | None) -> str:
    return _f(None if x is None else x * 1000, "{:.0f} ms")


def to_markdown(result: SimResult, charts: tuple[Path, ...]) -> str:
    s = summarize(result)
    o = result.options
    lat = s["latency_s"]
    act = s["billable_actions"]
    lines = [
        "# supportflow simulate",
        "",
        f"{s['conversations']} conversations ({o.customers} planned, {o.concurrency} at a time, "
        f"seed {o.seed}) against `{result.target.api_url}` in {s['wall_s']:.1f} s. "
        f"Gate: **{'PASSED' if s['passed'] else 'FAILED'}** (no lost message, every outcome "
        "right, store invariants hold).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| automation rate (resolved, no human) | {_pc(s['automation_rate'])} |",
        f"| escalation rate | {_pc(s['escalation_rate'])} |",
        f"| correct outcome (store's final state) | {_pc(s['correct_outcome_rate'])} |",
        f"| messages answered / sent | {s['answered']} / {s['messages']} |",
        f"| lost messages | {s['lost_messages']} |",
        f"| messages sent again (same id) | {s['resent_messages']} |",
        f"| messages rate limited (429, waited out) | {s['throttled_messages']} |",
        f"| answers marked duplicate | {s['duplicate_answers']} |",
        f"| store invariant violations | {s['invariant_violations']} |",
        f"| turn latency p50 / p95 / p99 | {_ms(lat['p50'])} / {_ms(lat['p95'])} / "
        f"{_ms(lat['p99'])} |",
        f"| throughput | {s['turns_per_s']:.2f} turns/s, "
        f"{s['conversations_per_min']:.1f} conversations/min |",
        f"| billable actions per conversation mean / p50 / max | {_f(act['mean'], '{:.1f}')} / "
        f"{_f(act['p50'], '{:.0f}')} / {_f(act['max'], '{:.0f}')} |",
        f"| held-out first messages read as intended | {_pc(s['heldout_understood_rate'])} "
        f"of {s['heldout_first_messages']} |",
        "",
        "## By behaviour",
        "",
        "| behaviour | conversations | correct | resolved | escalated | turn p50 | "
        "actions mean / p50 / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for b, row in s["by_behaviour"].items():
        a = act["by_behaviour"][b]
        lines.append(
            f"| {b} | {row['conversations']} | {row['correct']} | {row['resolved']} | "
            f"{row['escalated']} | {_ms(row['turn_p50_s'])} | {_f(a['mean'], '{:.1f}')} / "
            f"{_f(a['p50'], '{:.0f}')} / {_f(a['max'], '{:.0f}')} |"
        )
    lines += [
        "",
        "## By channel",
        "",
        "| channel | conversations | correct | resolved (automation) | escalated | "
        "messages answered / sent | lost | turn p50 / p95 | actions mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in [*s["by_channel"].items(), ("whole", s["whole"])]:
        name = f"**{label}**" if label == "whole" else label
        lines.append(
            f"| {name} | {row['conversations']} | {row['correct']} "
            f"({_pc(row['correct_outcome_rate'])}) | {row['resolved']} "
            f"({_pc(row['automation_rate'])}) | {row['escalated']} "
            f"({_pc(row['escalation_rate'])}) | {row['answered']} / {row['messages']} | "
            f"{row['lost_messages']} | {_ms(row['turn_p50_s'])} / {_ms(row['turn_p95_s'])} | "
            f"{_f(row['actions_mean'], '{:.1f}')} |"
        )
    if len(s["latency_by_channel"]) > 1:
        lines += ["", "Turn latency by the channel each message went on:", ""]
        lines += [
            f"- {ch}: p50 {_ms(v['p50'])}, p95 {_ms(v['p95'])}, p99 {_ms(v['p99'])}"
            for ch, v in s["latency_by_channel"].items()
        ]
    lines += ["", "## Billable actions by kind (all conversations)", ""]
    lines += [f"- {k}: {v}" for k, v in act["by_kind"].items()] or ["- none counted"]
    lines += ["", "## Memory (RSS)", ""]
    if s["memory"]:
        lines += ["| process | start | peak | end |", "|---|---|---|---|"]
        for proc, m in s["memory"].items():
            lines.append(
                f"| {proc} | {m['start_mb']:.0f} MB | {m['peak_mb']:.0f} MB | "
                f"{m['end_mb']:.0f} MB |"
            )
    else:
        lines.append("Not sampled: the stack's process ids were not known.")
    failures = [c for c in result.conversations if c.outcome_ok is not True or c.lost]
    if failures:
        lines += ["", "## Failures", ""]
        for c in failures[:50]:
            lines.append(
                f"- #{c.index} {c.behaviour} order {c.order_id or '-'} visitor {c.visitor_id}: "
                f"{c.outcome_detail or 'lost messages'}"
                + ("" if c.channel == "chat" else f" [{c.channel}]")
            )
    if result.invariant_violations:
        lines += ["", "## Store invariant violations", ""]
        lines += [f"- {v}" for v in result.invariant_violations[:50]]
    lines += ["", "## Notes", ""]
    lines += [f"- {n}" for n in result.notes]
    lines.append(
        "- Billable actions are counted from each conversation's workflow histories "
        "(continue-as-new runs included, events inside the conversation's time window) by "
        "`supportflow.temporal.billable.count_actions` (Temporal Cloud's published rules)."
    )
    lines.append(
        "- First messages come from the understanding corpus's held-out split with the "
        "conversation's order id filled in; one the agent reads otherwise is followed by the "
        "scripted phrasing (counted above). Return requests are scripted (held-out ones name "
        "other orders' products)."
    )
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{p.stem}]({p.name})" for p in charts]
    return "\n".join(lines) + "\n"


def write_charts(result: SimResult, out_dir: Path) -> tuple[Path, ...]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths: list[Path] = []
    latencies = [m.latency_s * 1000 for m in result.messages if m.latency_s is not None]
    if latencies:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.hist(latencies, bins=40, color="#3b7dd8")
        for p, style in ((50, "-"), (95, "--"), (99, ":")):
            v = pct(latencies, p)
            if v is not None:
                ax.axvline(v, color="black", linestyle=style, label=f"p{p} {v:.0f} ms")
        ax.set(xlabel="turn latency (ms)", ylabel="messages", title="Turn latency")
        ax.legend()
        paths.append(_save(fig, out_dir / "latency.png"))
    s = summarize(result)
    by = s["billable_actions"]["by_behaviour"]
    names = [b for b in by if by[b]["mean"] is not None]
    if names:
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.bar(names, [by[b]["mean"] for b in names], color="#d8893b", label="mean")
        ax.scatter(names, [by[b]["max"] for b in names], color="black", zorder=3, label="max")
        ax.set(ylabel="billable actions", title="Billable actions per conversation")
        ax.tick_params(axis="x", rotation=35)
        ax.legend()
        paths.append(_save(fig, out_dir / "billable_actions.png"))
    answered = sorted(m.answered_at - result.started_at for m in result.messages if m.answered_at)
    if answered:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(answered, range(1, len(answered) + 1), color="#3bd88b")
        ax.set(xlabel="seconds into the run", ylabel="turns answered", title="Throughput")
        paths.append(_save(fig, out_dir / "throughput.png"))
    if result.memory:
        fig, ax = plt.subplots(figsize=(7, 4))
        for proc in sorted({m.process for m in result.memory}):
            pts = [m for m in result.memory if m.process == proc]
            ax.plot([m.at for m in pts], [m.rss_bytes / MB for m in pts], label=proc)
        ax.set(xlabel="seconds into the run", ylabel="RSS (MB)", title="Memory")
        ax.legend()
        paths.append(_save(fig, out_dir / "memory.png"))
    return tuple(paths)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_report(result: SimResult, out_dir: Path) -> ReportPaths:
    """report.md, report.json and PNG charts in ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = write_charts(result, out_dir)
    md = out_dir / "report.md"
    md.write_text(to_markdown(result, charts), "utf-8")
    js = out_dir / "report.json"
    js.write_text(json.dumps(to_json(result), indent=2, default=str) + "\n", "utf-8")
    return ReportPaths(markdown=md, json=js, charts=charts)
