"""Which channel each simulated customer writes on: ``--channels chat=50,email=30,sms=20``.

Shares are weights (they need not add up to 100). Each channel gets its share of the
customers, rounded by largest remainder so the counts add up exactly, and the channels are
then dealt out in an order drawn from the run's seed, on a random stream of their own: the
behaviours, customers and orders a seed picks are the same whatever the mix, and a chat-only
run is exactly the run it was before channels existed.

``switch_share`` of the email and SMS customers start in chat (as a logged-in shopper) and
go on by email or SMS: one conversation across channels, labelled "chat+email"/"chat+sms".
"""

from __future__ import annotations

import random
from collections.abc import Sequence

CHANNELS = ("chat", "email", "sms")
CHAT_ONLY: tuple[tuple[str, int], ...] = (("chat", 100),)


def parse_mix(text: str) -> tuple[tuple[str, int], ...]:
    """``"chat=50,email=30,sms=20"`` as ``(("chat", 50), ("email", 30), ("sms", 20))``;
    ValueError, saying what is wrong, for anything else."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, raw = part.partition("=")
        name = name.strip().lower()
        if not eq:
            raise ValueError(f"{part!r}: write each channel as NAME=SHARE, e.g. chat=50")
        if name not in CHANNELS:
            raise ValueError(f"unknown channel {name!r}; choose from {', '.join(CHANNELS)}")
        if name in out:
            raise ValueError(f"channel {name!r} is given twice")
        try:
            share = int(raw.strip())
        except ValueError:
            raise ValueError(f"{part!r}: the share must be a whole number") from None
        if share < 0:
            raise ValueError(f"{part!r}: the share must not be negative")
        out[name] = share
    if not out or sum(out.values()) == 0:
        raise ValueError("give at least one channel with a share above 0")
    return tuple((name, share) for name, share in out.items() if share > 0)


def counts(mix: Sequence[tuple[str, int]], customers: int) -> dict[str, int]:
    """Customers per channel, in proportion to the shares, adding up to ``customers``."""
    total = sum(share for _, share in mix)
    exact = {name: customers * share / total for name, share in mix}
    out = {name: int(v) for name, v in exact.items()}
    # Largest remainder; ties go to the channel listed first.
    by_remainder = sorted(mix, key=lambda item: -(exact[item[0]] - out[item[0]]))
    for name, _ in by_remainder[: customers - sum(out.values())]:
        out[name] += 1
    return out


def plan_channels(
    mix: Sequence[tuple[str, int]], customers: int, seed: int, switch_share: float = 0.0
) -> list[str]:
    """The channel label of each of ``customers`` conversations, in conversation order."""
    if not 0.0 <= switch_share <= 1.0:
        raise ValueError("the switch share must be between 0 and 1")
    per = counts(mix, customers)
    if set(per) == {"chat"}:
        return ["chat"] * customers
    labels = [name for name, n in per.items() for _ in range(n)]
    rng = random.Random(f"{seed}:channels")
    rng.shuffle(labels)
    for channel in ("email", "sms"):
        switch = round(per.get(channel, 0) * switch_share)
        for i, label in enumerate(labels):
            if switch == 0:
                break
            if label == channel:
                labels[i] = f"chat+{channel}"
                switch -= 1
    return labels


def ends_on(label: str) -> str:
    """The channel a conversation goes on with: "sms" for "chat+sms"."""
    return label.rpartition("+")[2]
