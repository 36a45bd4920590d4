"""Which version of CustomerWorkflow's logic a run follows (docs/versioning.md is the policy).

A conversation lives for months and its runs replay on whatever code the worker has, so a
change that alters the commands a turn makes is gated by a patch id (``workflow.patched``).
Each patch here names a *generation*: a run is on the newest generation its history records,
and every generation includes all the changes before it.

The run-wide patches are decided once, in the run's first activation (``RunVersion.decide``):
``patched`` is memoized per run, and a first call in mid-turn, right after a local activity,
could land its marker in a later workflow task than replay expects (found by the chaos run).
A new run records only the newest generation's marker: the older ones are implied, so the
history carries one marker (and the SDK's one ``TemporalChangeVersion`` upsert) per run, not
one per patch ever made.

The oldest patches (procedures, tenant policy, knowledge base) were decided lazily in mid-turn
before local reads existed; runs without local reads still ask for them where they used to
(``RunVersion.since``), and newer runs have them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

# Procedures (cases, sagas) instead of "noted, a person will reply" for store requests.
PATCH_PROCEDURES = "procedures-v1"
# The tenant's policy read when a case opens.
PATCH_TENANT_POLICY = "tenant-policy-v1"
# Store questions answered from the tenant's knowledge base.
PATCH_KNOWLEDGE = "knowledge-base-v1"
# Understanding, store reads, policy, knowledge and replies as local activities, and one
# confirmation timer per wait instead of one per turn.
PATCH_LOCAL_READS = "local-reads-v1"
# Only verified identities see and act on an account; the policy re-read before every store
# write; never-verified conversations end when idle; a failed activity hands over.
PATCH_TRUST = "trust-v1"
# One dispatcher: a turn is planned once (procedures/dispatch.py), order status and hand-overs
# run as procedures like every other request. Implies every patch above.
PATCH_DISPATCH = "dispatch-v1"
# Several requests in one message taken one after another (a queue carried in the
# conversation), and the people behind the agents: operators claim, reply and release;
# approvals are decided by an update and time out; an interrupted store write is retried
# durably, then handed over; the inbox is told when a person is needed; SLA timers. Both
# came in one release, so they are one generation. Implies every patch above.
PATCH_PEOPLE = "people-v1"
PATCH_CHANNELS = "channels-v1"
# The support agent's part in sales (issue 14): a cancel may make the tenant's one retention
# offer before its confirmation (a kept order is a save); a resolved case's reply asks for a
# rating (CSAT) and the next message may give it; closed cases, ratings and saves are
# recorded for the management agent. Implies every patch above.
PATCH_SALES = "sales-v1"
# The sales agent takes its part of the conversation (issue 14): a product question is
# handed to a SalesAgentWorkflow (a child of this one) that answers it from the catalogue
# (alternatives in stock, comparisons) and records the touch a later order is attributed to;
# a retention offer follows the tenant's running retention experiment (the arm is assigned
# and recorded when the offer would be made; a hold-out arm makes none) and the cancel case's
# end (order kept or cancelled) is recorded as the save or loss of that arm. Implies every
# patch above.
PATCH_SALES_AGENT = "sales-agent-v1"
# The merchant's own actions (issue 16): a knowledge article a custom action answers is said
# with the action's result, called on the tenant's queue when its policy allows it (served by
# the merchant's worker, e.g. the TypeScript SDK's), and recorded in the audit trail. Implies
# every patch above.
PATCH_CUSTOM_ACTIONS = "custom-actions-v1"

# Oldest first. docs/versioning.md says when each is retired.
PATCHES = (
    PATCH_PROCEDURES,
    PATCH_TENANT_POLICY,
    PATCH_KNOWLEDGE,
    PATCH_LOCAL_READS,
    PATCH_TRUST,
    PATCH_DISPATCH,
    PATCH_PEOPLE,
    PATCH_CHANNELS,
    PATCH_SALES,
    PATCH_SALES_AGENT,
    PATCH_CUSTOM_ACTIONS,
)


@dataclass(frozen=True)
class RunVersion:
    """The generation this run follows, decided in its first activation."""

    local_reads: bool
    trust: bool
    dispatch: bool
    requests: bool = False
    people: bool = False
    # Email and SMS (channels-v1): answers go back on the channel a message came by.
    channels: bool = False
    # Retention offers, CSAT and the record of outcomes (sales-v1).
    sales: bool = False
    # Product questions answered by the sales agent; retention experiments (sales-agent-v1).
    sales_agent: bool = False
    # Knowledge articles answered by the merchant's custom actions (custom-actions-v1).
    custom_actions: bool = False

    @classmethod
    def decide(cls) -> RunVersion:
        # Newest generation first: a run is on the first whose marker it has (or records now).
        for patch, flags in _GENERATIONS:
            if workflow.patched(patch):
                return cls(
                    local_reads=True, trust=True, dispatch=True, **dict.fromkeys(flags, True)
                )
        local_reads = workflow.patched(PATCH_LOCAL_READS)
        trust = local_reads and workflow.patched(PATCH_TRUST)
        return cls(local_reads=local_reads, trust=trust, dispatch=False)

    def since(self, patch: str) -> bool:
        """Whether this run has one of the changes older than local reads. Runs with local
        reads have them all and record no marker for them; older runs ask where they always
        did, so their histories replay."""
        return self.local_reads or workflow.patched(patch)


# The generations since the dispatcher, newest first, with what each turns on beyond local
# reads, trust and the dispatcher (every generation includes all the changes before it).
_GENERATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        PATCH_CUSTOM_ACTIONS,
        ("requests", "people", "channels", "sales", "sales_agent", "custom_actions"),
    ),
    (PATCH_SALES_AGENT, ("requests", "people", "channels", "sales", "sales_agent")),
    (PATCH_SALES, ("requests", "people", "channels", "sales")),
    (PATCH_CHANNELS, ("requests", "people", "channels")),
    (PATCH_PEOPLE, ("requests", "people")),
    (PATCH_DISPATCH, ()),
)
