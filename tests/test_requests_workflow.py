"""Several requests in one message, end to end on real Temporal servers (dev and time-skipping)
and the real demo store: each request is taken in turn, the customer is told the order, and a
change of mind at the yes/no step switches requests. The store's final state is what counts."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from supportflow.settings import Settings
from supportflow.workflows.contract import customer_workflow_id
from supportflow.workflows.customer import CustomerWorkflow
from tests.helpers import store_order
from tests.test_procedures_workflow import Chat

# Customers with two pending orders each (seed), one per Temporal server: the store is shared.
TWO_ORDERS = {
    "local": ("yusuf.rossi7301@example.com", "#W6247578", "#W4776164"),
    "time-skipping": ("aarav.gonzalez9269@example.com", "#W6979932", "#W9160732"),
}
MIND = {
    "local": ("mei.kovacs4296@example.com", "#W8193638"),
    "time-skipping": ("lei.ahmed1696@example.com", "#W9132840"),
}
AND_ALSO = {
    "local": ("emma.santos7683@example.com", "#W9903153", "#W1620235"),
    "time-skipping": ("liam.ahmed8540@example.com", "#W7534214", "#W1558044"),
}
NEW_ADDRESS = "44 Elm Street, Apt 2, Portland, OR 97201"


async def test_two_requests_in_one_message_are_taken_one_after_another(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    email, first, second = TWO_ORDERS[workflow_env_kind]
    chat = Chat(workflow_env, settings)
    asked = await chat.say(
        f"Hi, please cancel order {first}, I ordered it by mistake. Also change the shipping "
        f"address on {second} to {NEW_ADDRESS}",
        email=email,
    )
    # Told the order, then asked about the first request only.
    assert "2 requests" in asked and asked.index("cancel") < asked.index("shipping address")
    assert first in asked and "NOT" not in asked
    assert (await store_order(settings, first))["status"] == "pending"
    done_then_next = await chat.say("yes")
    assert "cancelled" in done_then_next
    assert "Next, change a shipping address" in done_then_next
    assert f"ship order {second} to 44 Elm Street" in done_then_next
    assert (await store_order(settings, first))["status"] == "cancelled"
    moved = await chat.say("yes")
    assert f"order {second} will ship to 44 Elm Street" in moved
    after = await store_order(settings, second)
    assert after["status"] == "pending"
    assert after["address"]["address1"] == "44 Elm Street"  # type: ignore[index]
    assert ("cancel_order", "resolved") in await chat.cases()
    view = await workflow_env.client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(chat.tenant_id, chat.customer)
    ).query(CustomerWorkflow.transcript)
    assert len([c for c in view.cases if c.status == "resolved"]) == 2


async def test_a_change_of_mind_at_the_yes_no_step_switches_requests(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    email, order_id = MIND[workflow_env_kind]
    chat = Chat(workflow_env, settings)
    await chat.say(f"cancel order {order_id}, I ordered it by mistake", email=email)
    switched = await chat.say(
        f"Actually, don't cancel it. I need to change the shipping address to {NEW_ADDRESS}"
    )
    assert f"ship order {order_id} to 44 Elm Street" in switched
    assert (await store_order(settings, order_id))["status"] == "pending"
    done = await chat.say("yes")
    assert f"order {order_id} will ship to 44 Elm Street" in done
    after = await store_order(settings, order_id)
    assert after["status"] == "pending", "the cancellation the customer took back never ran"
    assert after["address"]["address1"] == "44 Elm Street"  # type: ignore[index]
    cases = await chat.cases()
    assert ("cancel_order", "abandoned") in cases


async def test_yes_and_also_confirms_then_answers_the_next_request(
    workflow_env: WorkflowEnvironment, workflow_env_kind: str, settings: Settings, running: None
) -> None:
    email, order_id, other = AND_ALSO[workflow_env_kind]
    chat = Chat(workflow_env, settings)
    await chat.say(f"please cancel {order_id}, I don't need it anymore", email=email)
    both = await chat.say(f"yes. and where is my other order {other}?")
    assert "cancelled" in both and f"Order {other} is" in both
    assert both.index("cancelled") < both.index(f"Order {other} is")
    assert (await store_order(settings, order_id))["status"] == "cancelled"
    assert (await store_order(settings, other))["status"] == "pending"
