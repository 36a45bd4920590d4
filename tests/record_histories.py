"""Record CustomerWorkflow histories for the replay test.

Run when a workflow change is made *on purpose* compatible with old histories, to add a new
recording beside the old ones (never replace the old ones: they are what proves
compatibility):  .venv/bin/python -m tests.record_histories [OUT_DIR]
It starts a dev server, the demo store, an SMTP server and workers, runs scripted
conversations, and writes each history to tests/histories/<name>.json (or OUT_DIR).

Customers speak as the API lets them: anonymous, verified by a signed identity token (the
API's `verified`, on that message and every later one, as a widget sends it), or verified
with the one-time code the agent mails (read back from the SMTP server's Maildir).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import uuid
from pathlib import Path

from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import deliver, enqueue
from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.knowledge.store import ArticleDraft, KnowledgeStore
from supportflow.mail.maildir_server import MaildirServer
from supportflow.policy.custom_actions import default_queue
from supportflow.policy.store import PolicyStore
from supportflow.sales.experiment_store import ExperimentStore
from supportflow.sales.experiments import assign
from supportflow.settings import Settings
from supportflow.tenants.channels import configure_channels
from supportflow.tenants.service import create_tenant
from supportflow.workflows.contract import (
    ApprovalDecision,
    Channel,
    ChannelIdentity,
    Claim,
    InboundMessage,
    OperatorMessage,
    Release,
    ReplyLookup,
    ReplyRoute,
    VerifiedIdentity,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.conftest import _run_store
from tests.custom_actions.merchant import MerchantWorker
from tests.helpers import (
    TEMPORAL_CLI,
    TEST_CONVERTER,
    TEST_ENCRYPTION_KEYS,
    TEST_KEYRING,
    free_port,
    read_code,
    running_workers,
    verified,
)
from tests.test_procedures_workflow import tenant_with_policy

HERE = Path(__file__).parent / "histories"
# Beside the recordings: file stem -> the workflow id it was recorded under.
WORKFLOW_IDS = "workflow_ids.json"
# Bump when recording after a workflow change; older recordings stay and must still replay.
VERSION = "v12"

# A script is (text, email) turns. An email signs the customer in with a signed identity
# token from that turn on; "~1.5" pauses 1.5 s; "<code:EMAIL>" types the sign-in code the
# agent mailed to EMAIL.
Script = list[tuple[str, str | None]]
_CODE_TURN = re.compile(r"<code:(.+)>")
# An operator's update: "<claim:OP>", "<reply:OP:text>", "<release:OP>", "<approve:OP>",
# "<deny:OP:note>" (the approval waiting in the conversation).
_OPERATOR_TURN = re.compile(r"<(claim|reply|release|approve|deny):([\w-]+)(?::(.*))?>")
# A turn by email or SMS (channels-v1): "[email] text", "[email+] text" (a reply in our thread:
# the mailbox is proven), "[sms] text", "[sms+] text" (from the account's phone). Its answer
# is sent on that channel by the workflow.
_CHANNEL_TURN = re.compile(r"\[(email|sms)(\+?)\] (.*)", re.DOTALL)

# Enough turns to cross a continue-as-new threshold of 100 events.
LONG: Script = [("hi", None), ("where is my order #W2611340", "james.li4495@example.com")] + [
    (f"thanks {i}", None) for i in range(14)
]

SCRIPTS: dict[str, Script] = {
    "cancel_saga": [
        ("I want to cancel my order #W5918442", "sofia.rossi2645@example.com"),
        ("I no longer need it", None),
        ("yes, please cancel it", None),
        ("please cancel order #W2631563 too, ordered it by mistake", None),
        ("no, actually keep it", None),
        ("which payment methods do you accept?", None),
        ("is the water bottle available in 1000ml glass red?", None),
        ("tell me a joke", None),
        ("thanks", None),
    ],
    "continue_as_new": LONG,
    # Anonymous, then verified by a mailed code (the request waits for it), then another
    # shopper's token in the same conversation.
    "order_status": [
        ("hi", None),
        ("where is my order #W2611340", None),
        ("james.li4495@example.com", None),
        ("123456", None),
        ("<code:james.li4495@example.com>", None),
        ("thanks!", None),
        ("where is my order #W2611340", "noah.brown7922@example.com"),
        ("I want to cancel my order", None),
        ("let me talk to a human", None),
    ],
    # Several requests in one message (people-v1): taken one after another; one of them
    # waiting for the sign-in code; a change of mind at the yes/no step.
    "several_requests": [
        (
            "Hi, please cancel order #W6711349, I ordered it by mistake. Also change the "
            "shipping address on #W6731310 to 44 Elm Street, Apt 2, Portland, OR 97201",
            "ethan.smith2338@example.com",
        ),
        ("yes", None),
        ("yes", None),
    ],
    "several_requests_verified_by_code": [
        ("what payment methods do you accept? and where is my order #W9903153", None),
        ("emma.santos7683@example.com", None),
        ("<code:emma.santos7683@example.com>", None),
        ("cancel #W1620235, I ordered it by mistake", None),
        (
            "Actually, don't cancel it. I need to change the shipping address to 44 Elm "
            "Street, Apt 2, Portland, OR 97201",
            None,
        ),
        ("yes", None),
    ],
}


# One customer across chat, email and SMS (channels-v1): answers go back on each message's
# channel; an operator's reply and an approval's outcome go where the customer last wrote.
CHANNELS_EMAIL = "james.li4495@example.com"
CHANNELS_PHONE = "+12025550117"
CHANNELS_SCRIPT: Script = [
    ("I want to return order #W4435622", CHANNELS_EMAIL),
    # Unproven by email: kept, and "reply to confirm"; the reply in the thread proves the
    # mailbox, and the kept answer is read again with the case's question.
    ("[email] yes", None),
    ("[email+] Yes, that's me.", None),
    ("[email+] yes", None),
    ("[sms+] I want to talk to a person", None),
    ("<claim:op-a>", None),
    ("<reply:op-a:Hi, it's Dana. I see your order, how can I help?>", None),
    ("<release:op-a>", None),
    ("[sms+] thanks", None),
]


# People behind the agents (people-v1): an approval decided by an operator, a hand-over,
# an operator holding the conversation, replying and handing it back.
PEOPLE_POLICY: dict[str, object] = {"approval_above": 500}
PEOPLE_SCRIPT: Script = [
    ("cancel order #W1974181, I no longer need it", "olivia.smith9793@example.com"),
    ("yes", None),
    ("<approve:op-sup>", None),
    ("I want to talk to a human", None),
    ("<claim:op-a>", None),
    ("hello? anyone there", None),
    ("<reply:op-a:Hi, I'm Dana from the team. How can I help?>", None),
    ("<release:op-a>", None),
    ("thanks", None),
]


# A tenant whose cases wait 2 seconds for an answer: an answer moves the deadline on, then
# silence closes the case (the confirmation timer's fire, rest and timeout all recorded).
TIMEOUT_POLICY: dict[str, object] = {"confirmation_timeout": 2}
TIMEOUT_SCRIPT: Script = [
    ("I want to cancel my order #W3361211", "aarav.lee6460@example.com"),
    ("~1.5", None),
    ("I no longer need it", None),
    ("~3.5", None),
    ("yes, cancel it", None),
]


# The support agent's sales part (sales-v1): a retention offer asked again plainly, taken (a
# one-use code, the order kept), the rating that follows; a second offer declined by
# insisting, then the usual confirmation and cancel (no second rating question that day).
RETENTION_POLICY: dict[str, object] = {
    "sales": {
        "enabled": True,
        "retention": {"enabled": True, "offer": "discount", "discount_percent": 10},
    }
}
RETENTION_SCRIPT: Script = [
    ("I want to cancel my order #W3618959", "emma.kovacs5723@example.com"),
    ("I no longer need it", None),
    ("hmm, what would that mean?", None),
    ("yes please", None),
    ("5", None),
    ("please cancel #W7109609 too, I don't need it", None),
    ("no, just cancel it", None),
    ("yes", None),
]
# An offer nobody answers: the case closes after the tenant's 2-second wait (recorded).
RETENTION_TIMEOUT_POLICY: dict[str, object] = {**RETENTION_POLICY, "confirmation_timeout": 2}
RETENTION_TIMEOUT_SCRIPT: Script = [
    ("cancel my order #W2624389, I no longer need it", "liam.lee9297@example.com"),
    ("~3.5", None),
    ("thanks", None),
]
# CSAT: a resolved case asks for a rating; "4 stars" is one; other words are a normal turn;
# not asked again the same day.
CSAT_SCRIPT: Script = [
    ("where is my order #W2611340", "james.li4495@example.com"),
    ("4 stars", None),
    ("5 more shirts please", None),
    ("where is my order #W3632959", None),
]

# The sales agent (sales-agent-v1): product questions handed to a SalesAgentWorkflow (a
# child) by a verified customer of a tenant with sales on; a cancel inside a running
# retention experiment (the arm recorded, its offer or none, the case's end recorded).
SALES_AGENT_SCRIPT: Script = [
    ("is the water bottle available in 1000ml glass red?", "mei.patel3193@example.com"),
    ("how much is the water bottle in 500ml stainless steel black vs 750ml glass blue", None),
    ("please cancel my order #W9583042, I don't need it anymore", None),
    ("no thanks, just cancel it", None),
    ("yes", None),
]
SALES_AGENT_CUSTOMER = "mei_patel_7272"  # mei.patel3193@example.com in the seed
RETENTION_ARMS: list[dict[str, object]] = [
    {"name": "none", "weight": 1, "params": {"offer": "none"}},
    {"name": "twenty", "weight": 1, "params": {"offer": "discount", "discount_percent": 20}},
]


# The merchant's own actions (custom-actions-v1): asked unverified (verification first), then
# answered from the action once signed in; an action the worker does not serve (answered
# without it); an action on a queue nobody serves (past its deadline: apology and handoff).
CUSTOM_ACTIONS_SCRIPT: Script = [
    ("how many loyalty points do I have", None),
    ("ok I'm logged in now", "james.li4495@example.com"),
    ("is my warranty still valid", None),
    ("whats my gift card balance", None),
]
CUSTOM_ARTICLES = (
    ArticleDraft(
        title="Loyalty points balance",
        body="You have {points} loyalty points ({tier} tier).",
        tags=("loyalty", "points", "rewards", "balance"),
        action="loyalty_balance",
    ),
    ArticleDraft(
        title="Warranty status",
        body="Your warranty runs until {until}.",
        tags=("warranty", "valid", "guarantee"),
        action="warranty_check",
    ),
    ArticleDraft(
        title="Gift card balance",
        body="Your gift card holds {amount}.",
        tags=("gift", "card", "balance"),
        action="gift_card_balance",
    ),
)


def custom_actions_tenant(settings: Settings) -> str:
    tenant_id = coded_tenant(settings)
    policy = {
        "custom_actions": {
            "loyalty_balance": {},
            "warranty_check": {},
            "gift_card_balance": {
                "task_queue": f"{default_queue(tenant_id)}.giftcards",
                "timeout": "PT2S",
                "deadline": "PT3S",
            },
        }
    }
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        PolicyStore(sessions).put(tenant_id, policy)
        for article in CUSTOM_ARTICLES:
            KnowledgeStore(sessions).create(tenant_id, article)
    finally:
        engine.dispose()
    return tenant_id


def experiment_tenant(settings: Settings) -> str:
    """A tenant with sales on and a retention experiment running."""
    tenant_id = tenant_with_policy(settings, "Testing Shop", RETENTION_POLICY)
    engine = make_engine(settings.resolved_database_url)
    try:
        store = ExperimentStore(make_session_factory(engine))
        # The salt is random: draft until the script's customer lands in the 20% arm, so every
        # recording takes the same path (an offer other than the tenant's own).
        made = store.create(tenant_id, "keep offers", "retention", RETENTION_ARMS)
        while assign(made, SALES_AGENT_CUSTOMER).name != "twenty":
            made = store.create(tenant_id, "keep offers", "retention", RETENTION_ARMS)
        store.start(tenant_id, made.experiment_id)
    finally:
        engine.dispose()
    return tenant_id


def children(history: WorkflowHistory) -> list[str]:
    """The child workflows a conversation started (the sales agents of its product questions)."""
    return [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]


async def record_conversation(
    client: Client,
    settings: Settings,
    script: Script,
    tenant_id: str,
    maildir: Path,
) -> str:
    customer = "c_" + uuid.uuid4().hex[:16]
    sent: list[InboundMessage] = []
    identity: VerifiedIdentity | None = None
    for text, email in script:
        if text.startswith("~"):  # a pause, in seconds
            await asyncio.sleep(float(text[1:]))
            continue
        if op := _OPERATOR_TURN.fullmatch(text):
            await _operator_turn(client, customer_workflow_id(tenant_id, customer), *op.groups())
            continue
        if turn := _CHANNEL_TURN.fullmatch(text):
            await _channel_turn(client, settings, tenant_id, customer, *turn.groups())
            continue
        if code := _CODE_TURN.fullmatch(text):
            text = read_code(maildir, code.group(1))
        if email is not None:
            identity = verified(email)
        m = InboundMessage(
            message_id=uuid.uuid4().hex,
            channel=Channel.CHAT,
            text=text,
            sender=ChannelIdentity(kind="chat", value="v-record"),
            verified=identity,
        )
        sent.append(m)
        await deliver(client, settings, tenant_id, customer, m, wait_seconds=60)
    # A duplicate delivery is part of every recording: de-duplication must replay too.
    await deliver(client, settings, tenant_id, customer, sent[0], wait_seconds=60)
    return customer_workflow_id(tenant_id, customer)


async def _channel_turn(
    client: Client,
    settings: Settings,
    tenant_id: str,
    customer: str,
    channel: str,
    proven: str,
    text: str,
) -> None:
    """A message as the email or SMS door hands it over (signal-with-start), and its answer
    awaited in the conversation."""
    email = channel == "email"
    address = CHANNELS_EMAIL if email else CHANNELS_PHONE
    identity = None
    if proven:
        identity = (
            VerifiedIdentity(email=address, method="email_reply")
            if email
            else VerifiedIdentity(
                email=CHANNELS_EMAIL, store_customer_id="james_li_5688", method="phone"
            )
        )
    m = InboundMessage(
        message_id=uuid.uuid4().hex,
        channel=Channel.EMAIL if email else Channel.SMS,
        text=text,
        sender=ChannelIdentity(kind="email" if email else "phone", value=address),
        verified=identity,
        route=ReplyRoute(
            channel=Channel.EMAIL if email else Channel.SMS,
            address=address,
            subject="My order" if email else None,
            message_id=f"<{uuid.uuid4().hex}@mail.example>" if email else None,
            ours=None,
        ),
    )
    await enqueue(client, settings, tenant_id, customer, m)
    handle = client.get_workflow_handle_for(
        CustomerWorkflow.run, customer_workflow_id(tenant_id, customer)
    )
    for _ in range(600):
        status = await handle.query(
            CustomerWorkflow.reply_for, ReplyLookup(message_id=m.message_id)
        )
        if status.status == "answered":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no answer to {text!r}")


async def _operator_turn(
    client: Client, workflow_id: str, what: str, operator: str, text: str | None
) -> None:
    handle = client.get_workflow_handle_for(CustomerWorkflow.run, workflow_id)
    if what == "claim":
        await handle.execute_update(CustomerWorkflow.claim, Claim(operator_id=operator))
    elif what == "release":
        await handle.execute_update(CustomerWorkflow.release, Release(operator_id=operator))
    elif what == "reply":
        await handle.execute_update(
            CustomerWorkflow.operator_reply,
            OperatorMessage(operator_id=operator, reply_id=uuid.uuid4().hex, text=text or ""),
        )
    else:
        view = await handle.query(CustomerWorkflow.transcript)
        pending = next(a for a in view.approvals if a.status == "pending")
        await handle.execute_update(
            CustomerWorkflow.decide_approval,
            ApprovalDecision(
                approval_id=pending.approval_id,
                operator_id=operator,
                decision="approve" if what == "approve" else "deny",
                note=text or "",
                share_note=bool(text),
            ),
        )


def coded_tenant(settings: Settings) -> str:
    """A real tenant in the workers' app database: sign-in codes are kept per tenant."""
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        return create_tenant(
            make_session_factory(engine), "Record Shop", keyring=TEST_KEYRING
        ).tenant_id
    finally:
        engine.dispose()


TWILIO_ACCOUNT = "AC" + "5" * 32
TWILIO_TOKEN = "e" * 32


def channels_tenant(settings: Settings) -> str:
    """A tenant with email and SMS set up (answers go to the SMTP server and fake Twilio)."""
    tenant_id = coded_tenant(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        configure_channels(
            make_session_factory(engine),
            TEST_KEYRING,
            tenant_id,
            support_email=f"support+{tenant_id}@shop.example",
            twilio_account_sid=TWILIO_ACCOUNT,
            twilio_auth_token=TWILIO_TOKEN,
            sms_number="+12025550199",
        )
    finally:
        engine.dispose()
    return tenant_id


async def main(out_dir: Path = HERE) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _run_store(Path(tmp) / "store.db")
        store_url = next(store)
        smtp = MaildirServer(Path(tmp) / "mail", "127.0.0.1", free_port())
        await smtp.start()
        env = await WorkflowEnvironment.start_local(
            # Encrypted with the fixed test key, as production histories are.
            data_converter=TEST_CONVERTER,
            dev_server_existing_path=TEMPORAL_CLI,
            port=free_port(),
        )
        settings = Settings(
            data_dir=Path(tmp),
            store_url=store_url,
            model="local",
            continue_as_new_events=100,
            encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
            # Tenants without a store connection, on this demo store.
            demo_store_tenants="*",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_starttls=False,
        )
        twilio = FakeTwilioServer(
            FakeTwilio(accounts={TWILIO_ACCOUNT: TWILIO_TOKEN}, status_callbacks=False)
        )
        await twilio.start()
        settings = settings.model_copy(update={"twilio_api_base_url": twilio.url})
        async with env, running_workers(env.client, settings):
            timeout_tenant = tenant_with_policy(settings, "Quick Shop", TIMEOUT_POLICY)
            tenant = coded_tenant(settings)
            runs = [(name, script, tenant) for name, script in SCRIPTS.items()]
            runs.append(("case_timeout", TIMEOUT_SCRIPT, timeout_tenant))
            people_tenant = tenant_with_policy(settings, "Staffed Shop", PEOPLE_POLICY)
            runs.append(("people", PEOPLE_SCRIPT, people_tenant))
            runs.append(("channels", CHANNELS_SCRIPT, channels_tenant(settings)))
            retention_tenant = tenant_with_policy(settings, "Keeping Shop", RETENTION_POLICY)
            runs.append(("retention", RETENTION_SCRIPT, retention_tenant))
            waiting_tenant = tenant_with_policy(settings, "Offer Shop", RETENTION_TIMEOUT_POLICY)
            runs.append(("retention_timeout", RETENTION_TIMEOUT_SCRIPT, waiting_tenant))
            runs.append(("csat", CSAT_SCRIPT, tenant))
            runs.append(("sales_agent", SALES_AGENT_SCRIPT, experiment_tenant(settings)))
            actions_tenant = custom_actions_tenant(settings)
            runs.append(("custom_actions", CUSTOM_ACTIONS_SCRIPT, actions_tenant))
            merchant = MerchantWorker(actions_tenant)
            # The workflow id of each recording: it is part of ids the workflow derives (an
            # approval's id), so a replay must run under the same one.
            ids_file = out_dir / WORKFLOW_IDS
            ids: dict[str, str] = json.loads(ids_file.read_text()) if ids_file.exists() else {}
            for name, script, tenant_id in runs:
                async with merchant.serving(env.client):
                    wf_id = await record_conversation(
                        env.client, settings, script, tenant_id, smtp.maildir_dir
                    )
                # Every run of the chain: a continue-as-new run must replay as well as the last.
                async for run in env.client.list_workflows(f"WorkflowId = '{wf_id}'"):
                    history = await env.client.get_workflow_handle(
                        wf_id, run_id=run.run_id
                    ).fetch_history()
                    if len(history.events) < 3:
                        continue  # a new run whose first task has not run yet: nothing to replay
                    out = out_dir / f"{name}-{VERSION}-run{len(history.events):04d}.json"
                    out.write_text(history.to_json(), "utf-8")
                    ids[out.stem] = wf_id
                    # The sales agents it handed product questions to (sales-agent-v1).
                    for k, child in enumerate(children(history), start=1):
                        sales = await env.client.get_workflow_handle(child).fetch_history()
                        stem = f"{name}_sales{k}-{VERSION}-run{len(history.events):04d}"
                        out = out_dir / f"{stem}.json"
                        out.write_text(sales.to_json(), "utf-8")
                        ids[out.stem] = child
            ids_file.write_text(json.dumps(dict(sorted(ids.items())), indent=1) + "\n")
        await smtp.stop()
        await twilio.stop()
        next(store, None)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
