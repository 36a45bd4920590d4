"""The inbox: conversations that need a person, as their workflows last reported them."""

from supportflow.inbox.model import InboxApproval, InboxItem, InboxReason
from supportflow.inbox.store import InboxFilter, InboxStore

__all__ = ["InboxApproval", "InboxFilter", "InboxItem", "InboxReason", "InboxStore"]
