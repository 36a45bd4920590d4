"""What tracing and metrics cost a chat turn, on the embedded stack (issue 15 item 5).

  .venv/bin/python -m bench.observability_cost [--turns 200] [--concurrency 10] [--rounds 1]
      [--only metrics|tracing] [--sample-ratio 1.0]

Starts `supportflow up` on a fresh data directory per mode and round: tracing and metrics
off (SUPPORTFLOW_METRICS_ENABLED=false, no OTLP endpoint), both on (our metrics, the SDK's
runtime metrics, and spans exported over OTLP/HTTP to a local receiver this script serves on
loopback), and with --only, one of them alone. Each stack gets the same warm-up, then N
order-status chat turns sequentially and N at C concurrent customers (verified by identity
tokens, so each turn runs understand -> store read -> reply). Prints p50/p99, throughput and
the stack process's CPU per turn (from /proc: steadier than latency on a shared machine) per
mode, the ratios to "off", the spans received per turn and /metrics' size. Exits non-zero
only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx

from bench.otlp_receiver import OtlpReceiver
from bench.stack import fresh_stack
from bench.turn_latency import customers_with_orders, run_load, summary
from supportflow.sim.client import shopper_address


@contextlib.contextmanager
def environment(extra: dict[str, str]) -> Iterator[None]:
    """``extra`` in os.environ for the block (the stack copies the environment at start)."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (the stack's Python process: API,
    workers, store; the Temporal server is a child of its own and not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def turns(
    api: str, chat_key: str, token: Callable[[str], str], n: int, concurrency: int, pid: int
) -> dict[str, dict[str, float]]:
    people = customers_with_orders()
    for email, _ in people:
        token(email)
    run_id = uuid.uuid4().hex[:6]
    out: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:

        def chat(offset: int) -> Callable[[int, int], Awaitable[None]]:
            async def one(c: int, t: int) -> None:
                email, order = people[(offset + c) % len(people)]
                r = await http.post(
                    "/v1/chat/messages",
                    headers={
                        "X-Chat-Key": chat_key,
                        "X-Forwarded-For": shopper_address(offset + c),
                    },
                    json={
                        "visitor_id": f"obs-{run_id}-{offset}-{c}",
                        "message_id": str(t),
                        "text": f"where is my order {order}",
                        "identity_token": token(email),
                    },
                )
                if r.status_code != 200 or order not in r.json()["reply"]:
                    raise RuntimeError(f"bad turn: {r.status_code} {r.text[:200]}")

            return one

        await run_load(20, 4, chat(900))  # warm-up: connections, caches, the model
        cpu = cpu_seconds(pid)
        lat, wall = await run_load(n, 1, chat(0))
        out["sequential"] = summary("sequential", lat, wall)
        out["sequential"]["cpu_ms_per_turn"] = (cpu_seconds(pid) - cpu) * 1000 / len(lat)
        cpu = cpu_seconds(pid)
        lat, wall = await run_load(n, concurrency, chat(100))
        out["concurrent"] = summary(f"{concurrency} concurrent customers", lat, wall)
        out["concurrent"]["cpu_ms_per_turn"] = (cpu_seconds(pid) - cpu) * 1000 / len(lat)
        print(
            f"  stack process CPU a turn: sequential {out['sequential']['cpu_ms_per_turn']:.1f} ms,"
            f" concurrent {out['concurrent']['cpu_ms_per_turn']:.1f} ms"
        )
        scrape = await http.get("/metrics")
        out["metrics"] = {"status": scrape.status_code, "bytes": len(scrape.content)}
    return out


MODES = {
    "off": (False, False),
    "on": (True, True),
    "metrics": (True, False),
    "tracing": (False, True),
}


def run_mode(mode: str, args: argparse.Namespace, receiver: OtlpReceiver) -> dict[str, object]:
    metrics, tracing = MODES[mode]
    extra = {
        "SUPPORTFLOW_METRICS_ENABLED": "true" if metrics else "false",
        "SUPPORTFLOW_OTEL_TRACES_ENDPOINT": receiver.url if tracing else "",
        "SUPPORTFLOW_OTEL_TRACES_SAMPLE_RATIO": str(args.sample_ratio),
    }
    spans_before = receiver.spans
    with environment(extra), fresh_stack(stop_timeout=60) as up:
        print(f"{mode}: metrics {'on' if metrics else 'off'}, tracing {'on' if tracing else 'off'}")
        result: dict[str, object] = dict(
            asyncio.run(
                turns(up.api, up.chat_key, up.tokens, args.turns, args.concurrency, up.proc.pid)
            )
        )
    result["spans"] = receiver.spans - spans_before
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="off/on pairs, alternating")
    parser.add_argument(
        "--sample-ratio", type=float, default=1.0, help="SUPPORTFLOW_OTEL_TRACES_SAMPLE_RATIO"
    )
    parser.add_argument(
        "--only",
        choices=("metrics", "tracing"),
        help="also run with only this one on (where the cost comes from)",
    )
    args = parser.parse_args()
    rows: dict[str, list[dict[str, object]]] = {"off": [], "on": [], "metrics": [], "tracing": []}
    modes = ["off", "on", *([args.only] if args.only else [])]
    with OtlpReceiver() as receiver:
        for _ in range(args.rounds):
            for mode in modes:
                rows[mode].append(run_mode(mode, args, receiver))
    measured = 2 * args.turns + 20  # warm-up, sequential, concurrent
    for mode in modes[1:]:
        print(f"{mode} / off (p50, p99), per round:")
        for off, on in zip(rows["off"], rows[mode], strict=True):
            for label in ("sequential", "concurrent"):
                x, y = off[label], on[label]
                assert isinstance(x, dict) and isinstance(y, dict)
                print(
                    f"  {label:<11} p50 {x['p50_ms']:6.1f} -> {y['p50_ms']:6.1f} ms "
                    f"({y['p50_ms'] / x['p50_ms']:4.2f}x, {y['p50_ms'] - x['p50_ms']:+5.1f} ms)  "
                    f"p99 {x['p99_ms']:6.1f} -> {y['p99_ms']:6.1f} ms "
                    f"({y['p99_ms'] / x['p99_ms']:4.2f}x)  "
                    f"throughput {y['per_s'] / x['per_s']:4.2f}x  CPU a turn "
                    f"{x['cpu_ms_per_turn']:5.1f} -> {y['cpu_ms_per_turn']:5.1f} ms"
                )
            spans = on["spans"]
            assert isinstance(spans, int)
            print(
                f"  spans received: {spans} ({spans / measured:.1f} a turn); "
                f"/metrics: {on['metrics']}"
            )


if __name__ == "__main__":
    main()
