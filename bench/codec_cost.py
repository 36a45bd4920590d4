"""What the payload codec (AES-256-GCM, encryption at rest) costs a chat turn.

  .venv/bin/python -m bench.codec_cost [--turns 200] [--rounds 4]

Two figures:
1. CPU: encode + decode of every payload of recorded CustomerWorkflow conversations
   (tests/histories; each payload is encrypted once when written and decrypted when read),
   per turn.
2. Wall clock: chat turns through a real Temporal dev server, real workers and the demo store,
   with and without the codec, in alternating rounds on the same server so drift hits both.
   Each turn is a general question (no identity needed), on a few long conversations.
Prints the figures; exits non-zero only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from tests.helpers import TEMPORAL_CLI, TEST_ENCRYPTION_KEYS, free_port, running_workers

from bench.stack import pct
from supportflow.channels.inbound import deliver
from supportflow.crypto.codec import EncryptionCodec, data_converter
from supportflow.crypto.keyring import parse_keys_setting
from supportflow.db.migrate import upgrade
from supportflow.demo_store.server import StoreServer
from supportflow.settings import Settings
from supportflow.workflows.contract import Channel, ChannelIdentity, InboundMessage

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
_UPDATE_ACCEPTED = "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
QUESTIONS = ["what is your return policy?", "how long does shipping take?", "thanks!"]


def recorded_payloads() -> tuple[list[Payload], int]:
    """Every payload in the recorded histories, and how many turns (updates) they hold."""
    payloads: list[Payload] = []
    turns = 0
    for path in sorted(HISTORIES.glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        turns += sum(1 for e in doc["events"] if e.get("eventType") == _UPDATE_ACCEPTED)
        stack: list[object] = [doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if isinstance(node.get("metadata"), dict) and "data" in node:
                    payloads.append(json_format.ParseDict(node, Payload()))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return payloads, turns


async def cpu_cost(repeat: int) -> dict[str, float]:
    payloads, turns = recorded_payloads()
    codec = EncryptionCodec(parse_keys_setting(TEST_ENCRYPTION_KEYS))
    size = sum(p.ByteSize() for p in payloads)
    start = time.perf_counter()
    for _ in range(repeat):
        await codec.decode(await codec.encode(payloads))
    elapsed = (time.perf_counter() - start) / repeat
    row = {
        "payloads": float(len(payloads)),
        "turns": float(turns),
        "kib": size / 1024,
        "per_turn_us": elapsed / max(turns, 1) * 1e6,
        "per_payload_us": elapsed / len(payloads) * 1e6,
    }
    print(
        f"CPU: {len(payloads)} payloads ({row['kib']:.0f} KiB) from {turns} recorded turns: "
        f"encode+decode {row['per_payload_us']:.1f} us a payload, "
        f"{row['per_turn_us']:.0f} us a turn"
    )
    return row


def _client(env: WorkflowEnvironment, converter: DataConverter) -> Client:
    config = env.client.config()
    config["data_converter"] = converter
    return Client(**config)


async def _turns(client: Client, settings: Settings, n: int) -> list[float]:
    customers = ["c_" + uuid.uuid4().hex[:16] for _ in range(4)]
    visitor = {c: "v-" + uuid.uuid4().hex[:8] for c in customers}
    took: list[float] = []
    for i in range(n):
        c = customers[i % len(customers)]
        msg = InboundMessage(
            message_id=uuid.uuid4().hex,
            channel=Channel.CHAT,
            text=QUESTIONS[i % len(QUESTIONS)],
            sender=ChannelIdentity(kind="chat", value=visitor[c]),
        )
        start = time.perf_counter()
        d = await deliver(client, settings, "t_bench", c, msg, wait_seconds=30)
        took.append(time.perf_counter() - start)
        if d.reply is None:
            raise RuntimeError(f"turn {i} got no reply ({d.status})")
    return took


async def wall_cost(turns: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = StoreServer(Path(tmp) / "store.db", "127.0.0.1", 0)
        await store.start()
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=TEMPORAL_CLI,
            port=free_port(),
            ui=False,
            dev_server_log_level="error",
        )
        settings = Settings(
            data_dir=Path(tmp),
            store_url=store.url,
            model="local",
            log_level="WARNING",
            demo_store_tenants="*",
            encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        )
        await asyncio.to_thread(upgrade, settings.resolved_database_url)
        modes = {
            "plain": _client(env, pydantic_data_converter),
            "codec": _client(env, data_converter(parse_keys_setting(TEST_ENCRYPTION_KEYS))),
        }
        took: dict[str, list[float]] = {m: [] for m in modes}
        try:
            for r in range(rounds):
                order = list(modes) if r % 2 == 0 else list(reversed(modes))
                for mode in order:
                    tag = uuid.uuid4().hex[:6]
                    s = settings.model_copy(
                        update={
                            "task_queue_agents": f"bench-{tag}",
                            "task_queue_ai": f"bench-{tag}",
                            "task_queue_integrations": f"bench-{tag}",
                        }
                    )
                    async with running_workers(modes[mode], s):
                        await _turns(modes[mode], s, 10)  # warm-up: caches, first loads
                        took[mode] += await _turns(modes[mode], s, turns // rounds)
        finally:
            await env.shutdown()
            await store.stop()
    row: dict[str, float] = {}
    print("wall clock, chat turn through the dev server (sequential):")
    for mode, xs in took.items():
        row[f"{mode}_p50_ms"] = pct(xs, 50) * 1000
        row[f"{mode}_p95_ms"] = pct(xs, 95) * 1000
        row[f"{mode}_mean_ms"] = statistics.fmean(xs) * 1000
        print(
            f"  {mode:<6} n={len(xs):<4} p50 {row[f'{mode}_p50_ms']:6.1f} ms  "
            f"p95 {row[f'{mode}_p95_ms']:6.1f} ms  mean {row[f'{mode}_mean_ms']:6.1f} ms"
        )
    delta = row["codec_p50_ms"] - row["plain_p50_ms"]
    print(f"  codec - plain: p50 {delta:+.1f} ms a turn")
    return row


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="timed turns per mode")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--repeat", type=int, default=20, help="CPU measurement repeats")
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args()
    await cpu_cost(args.repeat)
    if not args.cpu_only:
        await wall_cost(args.turns, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
