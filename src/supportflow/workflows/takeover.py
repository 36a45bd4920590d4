"""An operator takes a conversation, answers in it, and hands it back (people-v1 runs).

Each is an update of CustomerWorkflow with a validator (a refused one leaves no trace in
history); the handler checks again under the turn lock, because two operators may claim at
once and only one wins. While an operator holds the conversation the agent stays silent
(customer.py) and the inbox shows who holds it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from supportflow.limits import MAX_MESSAGE_BYTES
    from supportflow.workflows.contract import (
        Claim,
        Handover,
        HoldView,
        OperatorMessage,
        Release,
        TranscriptEntry,
    )
    from supportflow.workflows.people import People, refused


class Takeover(People):
    # --- the updates (CustomerWorkflow inherits them) ------------------------------------

    @workflow.update
    async def claim(self, c: Claim) -> HoldView:
        """An operator takes the conversation: the agent stops answering on its own."""
        return await self._claim(c)

    @claim.validator
    def _validate_claim(self, c: Claim) -> None:
        self._operators_supported()
        self._check_claim(c)

    @workflow.update
    async def release(self, r: Release) -> HoldView:
        """The operator hands the conversation back to the agent."""
        return await self._release(r)

    @release.validator
    def _validate_release(self, r: Release) -> None:
        self._operators_supported()
        self._check_release(r)

    @workflow.update
    async def operator_reply(self, m: OperatorMessage) -> TranscriptEntry:
        """The holding operator's message to the customer (the same reply_id twice: once)."""
        return await self._operator_reply(m)

    @operator_reply.validator
    def _validate_operator_reply(self, m: OperatorMessage) -> None:
        self._operators_supported()
        if not any(e.message_id == f"operator:{m.reply_id}" for e in self._s.transcript):
            self._check_operator_message(m)

    def _hold_view(self) -> HoldView:
        return HoldView(held_by=self._s.held_by, handover=self._s.handover, seq=self._s.seq)

    def _check_claim(self, c: Claim) -> None:
        held = self._s.held_by
        if held is not None and held != c.operator_id and not c.take_over:
            raise ValueError("another operator holds this conversation")

    async def _claim(self, c: Claim) -> HoldView:
        async with self._turn_lock:
            try:
                self._check_claim(c)  # again: another claim may have won meanwhile
            except ValueError as err:
                raise refused(err, "AlreadyClaimed") from None
            if self._s.held_by != c.operator_id:
                self._s.held_by = c.operator_id
                await self._sync_inbox()
            return self._hold_view()

    def _check_release(self, r: Release) -> None:
        held = self._s.held_by
        if held is None:
            raise ValueError("nobody holds this conversation")
        if held != r.operator_id and not r.force:
            raise ValueError("another operator holds this conversation")

    async def _release(self, r: Release) -> HoldView:
        async with self._turn_lock:
            try:
                self._check_release(r)
            except ValueError as err:
                raise refused(err, "NotHolder") from None
            s = self._s
            s.held_by = None
            # Handed back: the person is done with it; an approval still waiting stays listed.
            s.handover = (
                Handover(reason="approval", since=workflow.now())
                if self._pending_approval() is not None
                else None
            )
            await self._sync_inbox()
            return self._hold_view()

    def _check_operator_message(self, m: OperatorMessage) -> None:
        if not m.text.strip():
            raise ValueError("reply text is empty")
        if len(m.text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
            raise ValueError(f"reply text is over {MAX_MESSAGE_BYTES} bytes")
        if self._s.held_by != m.operator_id:
            raise ValueError("claim the conversation before replying")

    async def _operator_reply(self, m: OperatorMessage) -> TranscriptEntry:
        async with self._turn_lock:
            s = self._s
            message_id = f"operator:{m.reply_id}"
            sent = next((e for e in s.transcript if e.message_id == message_id), None)
            if sent is not None:
                return sent  # the same reply sent twice (a retried request) is one reply
            try:
                self._check_operator_message(m)
            except ValueError as err:
                raise refused(err, "NotHolder") from None
            entry = TranscriptEntry(
                role="operator",
                channel=self._last_channel(),
                message_id=message_id,
                text=m.text,
                at=workflow.now(),
                seq=self._next_seq(),
                author=m.operator_id,
                to=self._last_sender(),
            )
            s.transcript.append(entry)
            await self._deliver_out(entry, self._route_to(entry.to))
            if s.handover is not None and s.handover.first_response_at is None:
                s.handover = s.handover.model_copy(update={"first_response_at": workflow.now()})
                await self._sync_inbox()
            return entry
