"""One mail to one operator from an activity (supervisor notices, guards, digests, routing):
From "supportflow", a Message-ID made from ``key`` so a retried activity mails nobody twice,
and a refusal by the relay failing the activity for good (no retry fixes it)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from supportflow.mail.outgoing import OutgoingMail, message_id_for
from supportflow.mail.sender import MailNotConfigured, MailRejected, MailSender
from supportflow.settings import Settings


async def mail_operator(
    sender: MailSender,
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    key: str,
    html: str | None = None,
) -> None:
    mail = OutgoingMail(
        to=to,
        subject=subject,
        text=text,
        html=html,
        from_name="supportflow",
        message_id=message_id_for(key, settings.mail_from),
    )
    try:
        await sender.send(mail)
    except (MailNotConfigured, MailRejected) as err:
        raise ApplicationError(str(err), type="MailRejected", non_retryable=True) from err
