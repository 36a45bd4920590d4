"""The answer itself out of what an email or SMS customer receives, framed and shaped by the
product's own code (the shipped frames, the SMS splitter)."""

from __future__ import annotations

import random

from supportflow.channels.sms.segments import shape_reply
from supportflow.replies.render import compiled
from supportflow.replies.sandbox import render_limited
from supportflow.replies.templates import DEFAULT_TEMPLATES
from supportflow.sim.frames import sms_complete, sms_part, strip_email_frame, strip_sms_frame

ANSWER = (
    "Order #W1234567 is pending: it hasn't been processed yet. It contains a backpack.\n\n"
    "Would you like me to cancel it? Please answer yes or no."
)


def frame(name: str, **facts: object) -> str:
    return render_limited(compiled(DEFAULT_TEMPLATES[name]), facts).strip()


def test_the_email_frame_comes_off() -> None:
    for first_name in ("Mia", None):
        mail = frame("email_frame", first_name=first_name, body=ANSWER, store="Demo Store")
        assert mail.startswith("Hi") and "Best regards" in mail
        assert strip_email_frame(mail) == ANSWER
        assert strip_email_frame(mail.replace("\n", "\r\n")) == ANSWER
    # An answer that opens with a greeting of its own keeps it.
    greeting = "Hi Mia! I can check an order for you."
    mail = frame("email_frame", first_name="Mia", body=greeting, store="Demo Store")
    assert strip_email_frame(mail) == greeting
    assert strip_email_frame("no frame at all") == "no frame at all"


def test_sms_parts_are_put_in_order_and_joined_without_prefix_or_markers() -> None:
    long_answer = " ".join(f"Sentence number {i} about your order #W1234567." for i in range(30))
    bodies = shape_reply(frame("sms_frame", body=long_answer, store="Demo Store"))
    assert len(bodies) > 1 and sms_part(bodies[0]) == (1, len(bodies))
    shuffled = list(bodies)
    random.Random(1).shuffle(shuffled)
    assert not sms_complete(shuffled[:-1]) and sms_complete(shuffled)
    assert strip_sms_frame(shuffled) == long_answer
    whole = shape_reply(
        frame("sms_frame", body="Order #W1234567 is delivered.", store="Demo Store")
    )
    assert len(whole) == 1 and sms_part(whole[0]) is None and sms_complete(whole)
    assert strip_sms_frame(whole) == "Order #W1234567 is delivered."
    assert not sms_complete([])
