"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis), bounded
in time, against the real stack: the ASGI app under uvicorn on loopback, real workers on the
real Temporal dev server, the real demo store (tests/fuzz/live.py).

Every operation gets valid and invalid requests (schemathesis' positive and negative modes)
carrying the tenant's real API and chat keys, so they reach the handlers instead of stopping
at 401. Each response must not be a 5xx, must not carry a stack trace or Python exception
text, and must match the schema where the operation declares that status. Failures are
collected across all operations and reported together, each with a curl reproduction.

Bounds: ``SUPPORTFLOW_FUZZ_EXAMPLES`` examples per operation and mode (default 50) and
``SUPPORTFLOW_FUZZ_SECONDS`` for the whole run (default 75; an operation's share of the time
ends its examples early). ``SUPPORTFLOW_FUZZ_SEED`` replays a run (the seed is printed in
every failure).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup
from temporalio.testing import WorkflowEnvironment

from supportflow.settings import Settings
from tests.fuzz.live import live_api

EXAMPLES = int(os.environ.get("SUPPORTFLOW_FUZZ_EXAMPLES", "50"))
SECONDS = float(os.environ.get("SUPPORTFLOW_FUZZ_SECONDS", "75"))
SEED = int(os.environ.get("SUPPORTFLOW_FUZZ_SEED", str(random.randrange(2**32))))

# What leaks from a server that shows its internals: a traceback, a source line, or the
# name of an exception class or of a library's internals.
STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)"
    r"|File \"[^\"]+\.py\", line \d+"
    r"|<class '"
    r"|\b(?:sqlalchemy|psycopg|pydantic_core|temporalio|starlette|uvicorn)\.\w"
    r"|\b(?:Key|Type|Attribute|Value|Index|Assertion|Runtime|Integrity|Operational|Lookup)Error\b"
)


@dataclass
class Findings:
    seed: int
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    # operation -> status -> count: shows that each operation got past 401 to its handler.
    per_operation: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, operation: str, kind: str, detail: str) -> None:
        # One report per operation and kind of failure: the first reproduction is enough.
        self.failures.setdefault((operation, kind), detail)


def _leaked(text: str, case: Any) -> str | None:
    """Stack-trace text in a response that the request did not put there itself (an article
    or a message that says "ValueError" is echoed back, and that is fine)."""
    sent = repr((case.body, case.query, case.path_parameters))
    for found in STACK_TRACE.finditer(text):
        if found.group() not in sent:
            return found.group()
    return None


def _fuzz(base_url: str, headers: dict[str, str], findings: Findings) -> None:
    """Runs in a worker thread: schemathesis' calls are blocking (requests)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operations"
    session = requests.Session()
    started = time.monotonic()
    for index, operation in enumerate(operations):
        # Time left is shared among the operations left, so a slow one cannot starve the rest.
        left = SECONDS - (time.monotonic() - started)
        ends = time.monotonic() + max(left / (len(operations) - index), 1.0)
        _fuzz_operation(operation, base_url, headers, session, ends, findings)


def _fuzz_operation(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session,
    ends: float,
    findings: Findings,
) -> None:
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, headers=headers),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=headers),
    )

    @seed(findings.seed)
    @hypothesis_settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the time is bounded
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        if time.monotonic() > ends:
            return
        findings.calls += 1
        label = operation.label
        try:
            response = case.call(base_url=base_url, session=session, timeout=60)
        except requests.RequestException as err:
            findings.add(label, "transport", f"{type(err).__name__}: {err}")
            return
        status = response.status_code
        findings.statuses[status] = findings.statuses.get(status, 0) + 1
        seen = findings.per_operation.setdefault(label, {})
        seen[status] = seen.get(status, 0) + 1
        curl = case.as_curl_command(base_url=base_url)
        leaked = _leaked(response.text, case)
        if leaked:
            findings.add(
                label,
                "stack trace",
                f"{response.status_code} {leaked!r} in {response.text[:500]!r}\n{curl}",
            )
        try:
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance],
                transport_kwargs={"base_url": base_url},
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                findings.add(
                    label,
                    failure.title,
                    f"{response.status_code} {response.text[:500]!r}\n"
                    f"{failure.message[:800]}\n{curl}",
                )

    run()


async def test_the_api_survives_fuzzing_from_its_schema(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    # Rate limits stay on, but roomy enough that most chat requests reach the handler (all
    # come from one address and mostly from new visitors).
    roomy = {
        name: "10000/minute"
        for name in ("rate_limit_chat_per_address", "rate_limit_new_visitors_per_address")
        if name in Settings.model_fields
    }
    settings = settings.model_copy(update=roomy)
    # A short reply wait: a chat message answers 202 rather than holding the fuzzer.
    async with live_api(dev_env, settings, reply_wait_seconds=2.0) as api:
        headers = {"x-api-key": api.tenant.api_key, "x-chat-key": api.tenant.chat_key}
        findings = Findings(seed=SEED)
        started = time.monotonic()
        await asyncio.to_thread(_fuzz, api.url, headers, findings)
        elapsed = time.monotonic() - started
        # The stack is still healthy afterwards.
        assert (await api.http.get("/health")).status_code == 200
    report = "\n\n".join(
        f"[{operation}] {kind}\n{detail}" for (operation, kind), detail in findings.failures.items()
    )
    seen_by_op = findings.per_operation.items()
    summary = (
        f"seed {findings.seed}: {findings.calls} requests in {elapsed:.0f} s, "
        f"statuses {dict(sorted(findings.statuses.items()))}\n"
        + "\n".join(f"  {op}: {dict(sorted(n.items()))}" for op, n in seen_by_op)
    )
    assert not findings.failures, f"{summary}\n\n{report}"
    # The run reached the handlers, not only the auth check: every operation was called,
    # and most answered something other than 401.
    assert len(findings.per_operation) >= 15, summary
    unauthorised = findings.statuses.get(401, 0)
    assert unauthorised < findings.calls / 4, summary
