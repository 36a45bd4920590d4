"""Mail plumbing: sending through an SMTP relay, and `supportflow up`'s embedded SMTP server
that keeps every message in a Maildir at ``<data_dir>/mail``.

- ``outgoing``: the message a caller wants sent, checked and built into an RFC 5322 message.
- ``sender``: ``MailSender`` sends it with aiosmtplib, at most once per ``Message-ID``.
- ``sent_record``: the default record of sent ``Message-ID``s (files under the data dir).
- ``maildir``: the Maildir itself (0700 directories, 0600 files).
- ``maildir_server``: the embedded SMTP server (aiosmtpd) and its ``MailRouter`` hook.
- ``maildir_reader``: the Maildir's messages, newest first, for ``/dev/mail`` and tests.
"""
