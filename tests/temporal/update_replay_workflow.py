"""The smallest workflow that shows the update replay failure of issue 15 (item 4).

See docs/upstream/update-accepted-replay.md. It has the shape of CustomerWorkflow's message
handling and nothing else: each message is an update; a message's turn runs one (normal)
activity; the same message delivered again while its turn is in flight waits for that turn's
reply and answers it as a duplicate. A query says whether a message has been answered (the
API's `reply_for`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

# The activity runs in the test process (so the test decides when it completes); the
# workflow worker is a process of its own that the test kills.
ACTIVITY_QUEUE_SUFFIX = "-activities"
STORE_WRITE = "store_write"


@workflow.defn
class MessagesWorkflow:
    def __init__(self) -> None:
        self.replies: dict[str, str] = {}
        self.in_flight: set[str] = set()
        self.finished = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.finished)

    @workflow.update
    async def message(self, message_id: str) -> str:
        seen = self.replies.get(message_id)
        if seen is not None:
            return f"duplicate: {seen}"
        if message_id in self.in_flight:
            await workflow.wait_condition(lambda: message_id in self.replies)
            return f"duplicate: {self.replies[message_id]}"
        self.in_flight.add(message_id)
        reply: str = await workflow.execute_activity(
            STORE_WRITE,
            message_id,
            task_queue=workflow.info().task_queue + ACTIVITY_QUEUE_SUFFIX,
            start_to_close_timeout=timedelta(seconds=60),
            result_type=str,
        )
        self.replies[message_id] = reply
        self.in_flight.discard(message_id)
        return reply

    @workflow.query
    def answered(self, message_id: str) -> bool:
        return message_id in self.replies

    @workflow.signal
    def finish(self) -> None:
        self.finished = True
