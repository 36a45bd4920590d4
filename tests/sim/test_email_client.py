"""The simulator's email customer against a real SMTP server (the product's MaildirServer)
and a real Maildir: the same Message-ID sent again after a 451, a 550 ends it at once, the
answer found by In-Reply-To and read without its frame, the thread kept."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from supportflow.mail.maildir import PrivateMaildir
from supportflow.mail.maildir_server import MaildirServer, StoredMail
from supportflow.replies.render import compiled
from supportflow.replies.sandbox import render_limited
from supportflow.replies.templates import DEFAULT_TEMPLATES
from supportflow.sim.email_client import EmailClient, Thread, compose
from supportflow.sim.maildir_watch import MaildirWatcher

SUPPORT = "support+t1@supportflow.localhost"
CUSTOMER = ("Mia Li", "mia.li@example.com")


class Agent:
    """A router standing in for the agent: refuses the first ``fail`` deliveries (451, so
    the client must send again), then answers each mail once, framed as the product frames
    answers, into the answers Maildir."""

    def __init__(self, answers: Path, fail: int = 0) -> None:
        self.answers = PrivateMaildir(answers)
        self.fail = fail
        self.mails: list[EmailMessage] = []

    async def check_recipient(self, address: str) -> str | None:
        return None if address == SUPPORT else "550 5.1.1 no such mailbox"

    async def received(self, mail: StoredMail) -> None:
        self.mails.append(mail.message)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("not now")
        text = mail.message.get_body(preferencelist=("plain",))
        assert text is not None
        words = str(text.get_content()).split("\n\n")[0]
        body = render_limited(
            compiled(DEFAULT_TEMPLATES["email_frame"]),
            {"first_name": "Mia", "body": f"You said: {words}", "store": "Demo Store"},
        )
        answer = EmailMessage()
        answer["From"] = f"Demo Store <{SUPPORT}>"
        answer["To"] = CUSTOMER[1]
        answer["Subject"] = f"Re: {mail.message['Subject']}"
        answer["Message-ID"] = make_msgid(domain="supportflow.localhost")
        answer["In-Reply-To"] = str(mail.message["Message-ID"])
        answer["References"] = " ".join(
            [*str(mail.message.get("References", "")).split(), str(mail.message["Message-ID"])]
        )
        answer["Date"] = "Mon, 01 Jan 2029 10:00:00 +0000"
        answer.set_content(body)
        self.answers.add(answer.as_bytes())


async def test_resent_after_451_answered_and_threaded(tmp_path: Path) -> None:
    agent = Agent(tmp_path / "answers", fail=1)
    server = MaildirServer(tmp_path / "in", "127.0.0.1", 0, router=agent)
    await server.start()
    try:
        client = EmailClient(
            f"127.0.0.1:{server.port}", SUPPORT, MaildirWatcher(tmp_path / "answers"), 30
        )
        first = compose(
            message_id="<sim-1-m0@example.com>",
            sender=CUSTOMER,
            to=SUPPORT,
            text="Where is order #W1234567?",
            subject="Where is order #W1234567?",
            thread=None,
            quote=False,
        )
        sent, answer = await client.send(first, "Where is order #W1234567?")
        assert sent.attempts == 2 and sent.error is None and answer is not None
        assert [str(m["Message-ID"]) for m in agent.mails] == ["<sim-1-m0@example.com>"] * 2
        assert sent.reply == "You said: Where is order #W1234567?"
        assert sent.channel == "email" and sent.latency_s is not None

        thread = Thread.of(answer)
        assert thread is not None
        second = compose(
            message_id="<sim-1-m1@example.com>",
            sender=CUSTOMER,
            to=SUPPORT,
            text="Yes, it's me.",
            subject="ignored in a thread",
            thread=thread,
            quote=True,
        )
        sent2, _ = await client.send(second, "Yes, it's me.")
        mail = agent.mails[-1]
        assert mail["In-Reply-To"] == thread.message_id
        assert str(mail["References"]).split() == ["<sim-1-m0@example.com>", thread.message_id]
        assert str(mail["Subject"]) == "Re: Where is order #W1234567?"
        assert "> You said: Where is order #W1234567?" in str(mail.get_content())
        # The quote is the mail client's, not the customer's words: the record keeps these.
        assert sent2.text == "Yes, it's me." and sent2.reply == "You said: Yes, it's me."
    finally:
        await server.stop()


async def test_a_refused_address_ends_at_once_and_silence_times_out(tmp_path: Path) -> None:
    agent = Agent(tmp_path / "answers")
    server = MaildirServer(tmp_path / "in", "127.0.0.1", 0, router=agent)
    await server.start()
    try:
        watcher = MaildirWatcher(tmp_path / "answers")
        nobody = EmailClient(f"127.0.0.1:{server.port}", "nobody@example.com", watcher, 30)
        mail = compose(
            message_id="<sim-2-m0@example.com>",
            sender=CUSTOMER,
            to="nobody@example.com",
            text="hello",
            subject="hello",
            thread=None,
            quote=False,
        )
        started = time.monotonic()
        sent, answer = await nobody.send(mail, "hello")
        assert time.monotonic() - started < 5
        assert (answer, sent.reply, sent.attempts, sent.error) == (
            None,
            None,
            1,
            "refused: smtp 550",
        )
    finally:
        await server.stop()
    # Nobody listens any more: sent again until the reply timeout, then unanswered.
    gone = EmailClient(f"127.0.0.1:{server.port}", SUPPORT, watcher, 2)
    sent, answer = await gone.send(mail, "hello")
    assert answer is None and sent.attempts >= 2
    assert sent.error is not None and sent.error.startswith("transport")
