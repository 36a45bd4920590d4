"""Reminders found in a real Maildir by the shopper they went to; other mail passed over."""

from __future__ import annotations

import asyncio
import mailbox
import time
from email.message import EmailMessage
from pathlib import Path

from supportflow.sim.reminder_inbox import ReminderInbox, code_in


def _mail(to: str, text: str, *, sales: bool, n: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Demo Shop <shop@example.test>"
    mail["To"] = to
    mail["Subject"] = "Your cart at Demo Shop is waiting"
    mail["Message-ID"] = f"<m{n}@example.test>"
    if sales:
        mail["List-Unsubscribe"] = "<https://example.test/v1/unsubscribe/t/x>"
    mail.set_content(text)
    return mail


async def test_each_shopper_gets_its_own_reminders_and_nothing_older(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    box.add(_mail("ann@example.com", "Use code OLD-AAAA for 10% off", sales=True, n=0))
    inbox = ReminderInbox(tmp_path / "mail", interval_s=0.05)
    await inbox.prime()  # an earlier run's reminder is not this run's
    box.add(_mail("ann@example.com", "Your order is on its way", sales=False, n=1))
    box.add(
        _mail(
            "Ann <ANN@example.com>",
            "You left Lamp in your cart. Use code SAVE-7K2Q9P for 10% off (valid for a few days).",
            sales=True,
            n=2,
        )
    )
    box.add(_mail("bob@example.com", "You left Lamp in your cart.", sales=True, n=3))

    ann = await inbox.wait("ann@example.com", time.monotonic() + 5)
    assert ann is not None and (ann.message_id, ann.code) == ("<m2@example.test>", "SAVE-7K2Q9P")
    bob = await inbox.wait("Bob@Example.com", time.monotonic() + 5)
    assert bob is not None and bob.code is None
    started = time.monotonic()
    assert await inbox.wait("cy@example.com", started + 0.3) is None
    assert time.monotonic() - started < 2
    await inbox.rescan()
    assert [r.message_id for r in inbox.received("ann@example.com")] == ["<m2@example.test>"]


async def test_a_reminder_landing_while_a_shopper_waits_is_found(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    inbox = ReminderInbox(tmp_path / "mail", interval_s=0.05)
    await inbox.prime()
    waiting = asyncio.create_task(inbox.wait("dee@example.com", time.monotonic() + 5))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    box.add(_mail("dee@example.com", "Use code FREE-SHIP1 for free shipping.", sales=True, n=4))
    found = await waiting
    assert found is not None and found.code == "FREE-SHIP1"


async def test_no_maildir_yet_is_no_reminder(tmp_path: Path) -> None:
    inbox = ReminderInbox(tmp_path / "nothing-here", interval_s=0.05)
    await inbox.prime()
    assert await inbox.wait("ann@example.com", time.monotonic() + 0.1) is None


def test_the_code_is_read_from_the_reminder_text() -> None:
    assert code_in("It's waiting. Use code SAVE-7K2Q9P for 10% off.") == "SAVE-7K2Q9P"
    assert code_in("Use code FREE-SHIP1 for free shipping.") == "FREE-SHIP1"
    assert code_in("You left Lamp in your cart.") is None
