"""Email and SMS through the embedded stack: how long from a customer's message to the
answer on the same channel, against a chat turn in the same run, and how fast the inbound
SMTP server takes mail.

  .venv/bin/python -m bench.channel_latency [--emails 200] [--sms 200] [--chats 50]
                                            [--burst 300] [--connections 8]

Starts `supportflow up` (its demo tenant has both channels against local parts) and measures,
one customer at a time (each a new sender, so no per-sender limit is met):
- chat turn (baseline): POST /v1/chat/messages "hi" -> its reply in the response;
- email: an SMTP transaction to the tenant's support address (aiosmtplib) -> the answer,
  threaded under that message (In-Reply-To), lands in the Maildir `up` relays to;
- SMS: a webhook signed as Twilio signs it -> the answer shows in the local Twilio stand-in's
  message list (GET /dev/sms);
- SMTP ingestion: --burst mails over --connections parallel SMTP connections; accepted mail
  per second (a 250 after DATA means stored and handed to Temporal durably).
Exits non-zero only on a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import aiosmtplib
import httpx

from bench.stack import Stack, fresh_stack, pct
from supportflow.channels.sms.fake_twilio import signed_inbound
from supportflow.sim.client import shopper_address

# How often the SMS path looks at /dev/sms; its figures carry up to this much on top.
SMS_POLL_S = float(__import__("os").environ.get("BENCH_SMS_POLL_S", "0.02"))


class Maildir:
    """The answers `up` relayed: In-Reply-To -> when first seen."""

    def __init__(self, path: Path) -> None:
        self.new = path / "new"
        self.seen: set[str] = set()
        self.replies: dict[str, float] = {}

    def scan(self) -> None:
        if not self.new.exists():
            return
        now = time.perf_counter()
        for f in self.new.iterdir():
            if f.name in self.seen:
                continue
            self.seen.add(f.name)
            headers = BytesParser().parsebytes(f.read_bytes(), headersonly=True)
            ref = headers.get("In-Reply-To")
            if ref:
                self.replies.setdefault(str(ref).strip(), now)

    async def wait(self, message_id: str, limit_s: float = 60.0) -> float:
        deadline = time.perf_counter() + limit_s
        while time.perf_counter() < deadline:
            self.scan()
            if message_id in self.replies:
                return self.replies[message_id]
            await asyncio.sleep(0.005)
        raise TimeoutError(f"no answer to {message_id}")


def _mail(to: str, sender: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "Question"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@bench.example>"
    msg.set_content(text)
    return msg


async def chat_turns(up: Stack, http: httpx.AsyncClient, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = await http.post(
            "/v1/chat/messages",
            headers={"X-Chat-Key": up.chat_key, "X-Forwarded-For": shopper_address(i)},
            json={
                "visitor_id": f"v-{uuid.uuid4().hex[:8]}",
                "message_id": uuid.uuid4().hex,
                "text": "hi",
            },
        )
        r.raise_for_status()
        out.append(time.perf_counter() - t0)
    return out


async def email_turns(
    up: Stack, keys: dict[str, str], box: Maildir, n: int, doors: list[float]
) -> list[float]:
    host, port = up.smtp.rsplit(":", 1)
    out = []
    for i in range(n):
        msg = _mail(keys["support_email"], f"shopper{i}-{uuid.uuid4().hex[:6]}@bench.example", "hi")
        t0 = time.perf_counter()
        await aiosmtplib.send(msg, hostname=host, port=int(port), start_tls=False)
        doors.append(time.perf_counter() - t0)  # the SMTP transaction: stored and signalled
        seen = await box.wait(str(msg["Message-ID"]))
        out.append(seen - t0)
    return out


async def sms_turns(
    up: Stack, http: httpx.AsyncClient, keys: dict[str, str], n: int, doors: list[float]
) -> list[float]:
    url = f"{up.api}/v1/channels/twilio/sms/{keys['tenant_id']}"
    admin = {"X-Api-Key": keys["api_key"]}
    out = []
    for i in range(n):
        number = f"+1303555{i % 10000:04d}"
        headers, form = signed_inbound(
            url, keys["twilio_auth_token"], {"From": number, "To": keys["sms_number"], "Body": "hi"}
        )
        t0 = time.perf_counter()
        r = await http.post(url, data=form, headers=headers)
        r.raise_for_status()
        doors.append(time.perf_counter() - t0)  # the webhook answered: stored and signalled
        while True:
            got = await http.get("/dev/sms", params={"to": number, "limit": 1}, headers=admin)
            got.raise_for_status()
            if got.json():
                out.append(time.perf_counter() - t0)
                break
            # Each look is an API request (and one to the stand-in) on the stack's own cores:
            # looking every 5 ms, as for the Maildir, slowed the turn it waited for.
            await asyncio.sleep(SMS_POLL_S)
    return out


async def smtp_burst(up: Stack, keys: dict[str, str], total: int, connections: int) -> float:
    host, port = up.smtp.rsplit(":", 1)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def sender() -> None:
        async with aiosmtplib.SMTP(hostname=host, port=int(port), start_tls=False) as smtp:
            while not queue.empty():
                i = queue.get_nowait()
                await smtp.send_message(
                    _mail(keys["support_email"], f"burst{i}@bench.example", "where is my order")
                )

    t0 = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(connections)))
    return total / (time.perf_counter() - t0)


def _row(name: str, xs: list[float], base: float) -> str:
    p50, p99 = pct(xs, 50) * 1000, pct(xs, 99) * 1000
    return f"| {name} | {len(xs)} | {p50:.1f} ms | {p99:.1f} ms | {p50 / base:.2f}x |"


async def main(args: argparse.Namespace) -> None:
    with fresh_stack() as up:
        assert up.data_dir is not None and up.smtp, "the ready line names smtp=HOST:PORT"
        keys = json.loads((up.data_dir / "demo-tenant.json").read_text())
        box = Maildir(up.data_dir / "mail")
        async with httpx.AsyncClient(base_url=up.api, timeout=60) as http:
            await chat_turns(up, http, 5)  # warm-up: models loaded, connections open
            chats = await chat_turns(up, http, args.chats)
            email_doors: list[float] = []
            sms_doors: list[float] = []
            emails = await email_turns(up, keys, box, args.emails, email_doors)
            texts = await sms_turns(up, http, keys, args.sms, sms_doors)
            rate = await smtp_burst(up, keys, args.burst, args.connections)
        base = pct(chats, 50) * 1000
        print("| Path | n | p50 | p99 | p50 vs chat |")
        print("|---|---|---|---|---|")
        print(_row("chat turn (baseline)", chats, base))
        print(_row("email in -> answer in the Maildir", emails, base))
        print(_row("SMS webhook -> answer at Twilio", texts, base))
        print(_row("  of which: SMTP transaction (250)", email_doors, base))
        print(_row("  of which: SMS webhook answered (200)", sms_doors, base))
        print(
            f"\nSMTP ingestion: {args.burst} mails over {args.connections} connections, "
            f"{rate:.1f} accepted/s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--sms", type=int, default=200)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--connections", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
