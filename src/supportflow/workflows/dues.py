"""What a conversation's timers wait for (waiting.py runs one timer to the earliest)."""

from typing import Literal

Due = Literal["case", "approval_escalate", "approval_expire", "retry", "sla_first", "sla_done"]
