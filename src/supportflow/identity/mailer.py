"""The mail that carries a one-time sign-in code, sent through the tenant's SMTP relay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio.exceptions import ApplicationError

from supportflow.identity.codes import CODE_TTL
from supportflow.mail.sender import (
    MailNotConfigured,
    MailRejected,
    MailSender,
    OutgoingMail,
    message_id_for,
)
from supportflow.settings import Settings

# Sends one code mail: store name, to, code, request key (makes the Message-ID). SMTP in
# production, the embedded mail server in `up`. The identity activities take one.
CodeMailer = Callable[[str, str, str, str], Awaitable[None]]


def code_mailer(sender: MailSender, settings: Settings) -> CodeMailer:
    minutes = int(CODE_TTL.total_seconds() // 60)

    async def send(store_name: str, to: str, code: str, key: str) -> None:
        text = (
            f"Your sign-in code for {store_name} support is {code}.\n\n"
            f"Type it in the chat to continue. It is valid for {minutes} minutes.\n"
            "If you did not ask for it, ignore this mail: nobody can use your account "
            "without the code.\n"
        )
        mail = OutgoingMail(
            to=to,
            subject=f"Your {store_name} sign-in code",
            text=text,
            from_name=store_name,
            message_id=message_id_for(f"verification-code:{key}", settings.mail_from),
        )
        try:
            await sender.send(mail)
        except (MailNotConfigured, MailRejected) as err:
            # Retrying will not fix a missing relay or a refusal; MailDeferred is retried.
            raise ApplicationError(str(err), type="MailRejected", non_retryable=True) from err

    return send
