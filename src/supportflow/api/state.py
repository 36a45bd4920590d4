"""What the API holds while it runs: built in the lifespan, never at import."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from supportflow.api.push import Nudges
from supportflow.channels.limits import SenderLimiter
from supportflow.crypto.keyring import KeyRing
from supportflow.settings import Settings
from supportflow.store.registry import StoreRegistry
from supportflow.temporal.pollers import QueuePollers


@dataclass
class ApiState:
    settings: Settings
    sessions: sessionmaker[Session]
    temporal: Client
    # Opens sealed app secrets (tenants' identity secrets); the codec server uses it too.
    keyring: KeyRing
    # Each tenant's store, for what operators see of a customer (profile, orders); None in
    # apps built for one router's tests.
    stores: StoreRegistry | None = None
    # Open chat sockets waiting for an operator's message (api/push.py).
    nudges: Nudges = field(default_factory=Nudges)
    # Per-sender limits on email and SMS (channels/limits.py), made on first use.
    sender_limiter: SenderLimiter | None = None
    # Who polls the agents task queue (/health; temporal/pollers.py), made on first use.
    queue_pollers: QueuePollers | None = None

    def sender_limits(self) -> SenderLimiter:
        if self.sender_limiter is None:
            self.sender_limiter = SenderLimiter(self.settings)
        return self.sender_limiter

    def agent_pollers(self) -> QueuePollers:
        if self.queue_pollers is None:
            queue = self.settings.task_queue_agents
            namespace = self.settings.temporal_namespace
            self.queue_pollers = QueuePollers(self.temporal, namespace, queue)
        return self.queue_pollers
