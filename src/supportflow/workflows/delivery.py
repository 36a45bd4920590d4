"""Answers that go back by email or SMS (channels-v1 runs), inside CustomerWorkflow.

Chat needs nothing: the customer's page reads the transcript. A message that came by email or
SMS carries its route (``InboundMessage.route``); the conversation remembers each sender's
latest route, and everything it says to that sender (the reply to a message, an operator's
reply, an approval's outcome, a goodbye) is sent with the ``send_channel_reply`` activity.
The activity is idempotent per key (the transcript entry's message id): a retried or replayed
send goes out once. A send that fails for good is marked on the entry and the conversation
is handed to a person, never dropped in silence.

This is a mixin: CustomerWorkflow supplies the state and the run's version.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from supportflow.activities.channels import (
        ChannelActivities,
        SendReplyInput,
        SendReplyResult,
    )
    from supportflow.workflows.calls import CHANNEL_SEND
    from supportflow.workflows.cases import CaseSteps
    from supportflow.workflows.contract import (
        Channel,
        Handover,
        InboundMessage,
        ReplyRoute,
        TranscriptEntry,
    )


class Delivery(CaseSteps):
    def _note_route(self, msg: InboundMessage) -> None:
        """Remember how this sender last wrote, so later answers go back the same way."""
        if not self._version.channels:
            return
        s = self._s
        s.last_from = msg.sender.key
        if msg.route is not None:
            s.routes[msg.sender.key] = msg.route
        else:
            s.routes.pop(msg.sender.key, None)
        self._out_channel = msg.channel.value

    def _route_to(self, sender: str | None) -> ReplyRoute | None:
        if not self._version.channels or sender is None:
            return None
        return self._s.routes.get(sender)

    def _latest_sender(self) -> str | None:
        """Who the conversation talks to outside a reply: the latest message's sender."""
        if self._version.channels and self._s.last_from is not None:
            return self._s.last_from
        identities = self._s.identities
        return identities[-1].key if identities else None

    def _use_route_of(self, sender: str | None) -> None:
        """Compose in the wording of the channel that ``sender`` last wrote on."""
        if self._version.channels:
            route = self._route_to(sender)
            self._out_channel = route.channel.value if route is not None else Channel.CHAT.value

    async def _deliver_out(self, entry: TranscriptEntry, route: ReplyRoute | None) -> None:
        """Send ``entry`` on ``route`` (email, SMS); nothing for chat or older runs."""
        if not self._version.channels or route is None or not entry.text.strip():
            return
        inp = SendReplyInput(
            tenant_id=self._inp.tenant_id,
            customer_id=self._inp.customer_id,
            key=entry.message_id,
            route=route,
            text=entry.text,
            by_person=entry.role == "operator",
        )
        try:
            result: SendReplyResult = await workflow.execute_activity_method(
                ChannelActivities.send_reply,
                inp,
                task_queue=self._calls.integrations_queue,
                start_to_close_timeout=CHANNEL_SEND.start_to_close,
                schedule_to_close_timeout=CHANNEL_SEND.schedule_to_close,
                retry_policy=CHANNEL_SEND.retry,
            )
        except ActivityError as err:
            cause = type(err.cause).__name__ if err.cause is not None else "ActivityError"
            failed = getattr(err.cause, "type", None) or cause
            entry.delivery = f"failed: {failed}"
            workflow.logger.warning("answer not delivered by %s: %s", route.channel, failed)
            await self._delivery_failed(route)
            return
        entry.delivery = (
            f"suppressed: {result.detail}" if result.status == "suppressed" else result.status
        )

    async def _delivery_failed(self, route: ReplyRoute) -> None:
        """A person takes a conversation whose answer could not be sent."""
        s = self._s
        if not self._version.people or s.handover is not None:
            return
        s.handover = Handover(
            reason="stuck", since=workflow.now(), detail=f"delivery_failed: {route.channel}"
        )
        await self._sync_inbox_after_delivery()

    async def _sync_inbox_after_delivery(self) -> None:
        raise NotImplementedError  # people.py
