"""Record SalesAgentWorkflow histories for the replay test (tests/test_replay.py).

Run when the sales workflow changes on purpose compatibly with old histories, to add new
recordings beside the old ones:  .venv/bin/python -m tests.record_sales_histories [OUT_DIR]
It starts the time-skipping test server, a demo store, the API and workers, and records two
opportunities: a reminder sent with its discount code, and one stopped by an order.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from supportflow.workflows.sales_contract import sales_workflow_id
from tests.conftest import _run_store
from tests.helpers import TEMPORAL_TEST_SERVER, TEST_CONVERTER, TEST_ENCRYPTION_KEYS, free_port
from tests.salesagent.shop import checkout_payload, open_sales_shop, order_payload

VERSION = "v1"
HERE = Path(__file__).parent / "histories"
ITEM = "9612497925"
SALES = {
    "enabled": True,
    "quiet_hours": None,
    "abandoned_checkout": {"delay": "PT1H", "offer": "discount", "discount_percent": 10},
}


async def record(out: Path) -> dict[str, str]:
    ids: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = _run_store(Path(tmp) / "store.db")
        store_url = next(stores)
        relay = MaildirServer(Path(tmp) / "mail", "127.0.0.1", free_port())
        await relay.start()
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=TEST_CONVERTER, test_server_existing_path=TEMPORAL_TEST_SERVER
        )
        tag = uuid.uuid4().hex[:8]
        settings = Settings(
            data_dir=Path(tmp),
            store_url=store_url,
            task_queue_agents=f"agents-{tag}",
            task_queue_ai=f"ai-{tag}",
            task_queue_integrations=f"integrations-{tag}",
            demo_store_tenants="*",
            encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
            smtp_host=relay.host,
            smtp_port=relay.port,
            smtp_starttls=False,
        )
        try:
            async with open_sales_shop(env.client, settings, relay, store_url, SALES) as shop:
                for name, user, buys in (
                    ("sales_reminder", "chen_silva_7485", False),
                    ("sales_ordered", "olivia_jackson_1219", True),
                ):
                    checkout = await shop.checkout(user, ITEM, accepts_email_marketing=True)
                    await shop.post_event("checkouts/create", checkout_payload(checkout))
                    wf_id = sales_workflow_id(
                        shop.tenant_id, user, "abandoned_checkout", checkout["token"]
                    )
                    if buys:
                        got = await shop.store.get(f"/users/{user}")
                        method = next(iter(got.json()["payment_methods"]))
                        placed = await shop.store.post(
                            f"/checkouts/{checkout['id']}/complete",
                            json={"payment_method_id": method},
                            headers={"Idempotency-Key": f"rec-{checkout['id']}"},
                        )
                        order = placed.json()
                        await shop.post_event(
                            "orders/create",
                            order_payload(order["order_id"], user, checkout, "50.88"),
                        )
                    await env.sleep(timedelta(hours=2))
                    handle = env.client.get_workflow_handle(wf_id)
                    await handle.result()
                    history = await handle.fetch_history()
                    stem = f"{name}-{VERSION}"
                    (out / f"{stem}.json").write_text(history.to_json(), "utf-8")
                    ids[stem] = wf_id
        finally:
            await env.shutdown()
            await relay.stop()
            next(stores, None)
    return ids


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    ids = asyncio.run(record(out))
    known = json.loads((HERE / "workflow_ids.json").read_text("utf-8"))
    known.update(ids)
    # The same layout as tests/record_histories.py writes.
    (HERE / "workflow_ids.json").write_text(
        json.dumps(dict(sorted(known.items())), indent=1) + "\n"
    )
    print("\n".join(sorted(ids)))  # noqa: T201 - a script's output


if __name__ == "__main__":
    main()
