"""Which Message-IDs have been sent, so a retried send does not mail the customer twice.

``MailSender`` takes any ``already_sent``/``mark_sent`` pair of coroutines. The default here
keeps one empty file per sent id under ``<data_dir>/mail-sent`` (named by the id's SHA-256,
so ids never become paths): every process on the host sees it, it survives restarts, and
needs no database table. Deployments whose workers run on several hosts pass a pair backed
by the app database instead (or record the send in the same row as the step that asked for
it, as the sign-in code activity does).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path


class FileSentRecord:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, message_id: str) -> Path:
        return self.directory / hashlib.sha256(message_id.encode()).hexdigest()

    async def already_sent(self, message_id: str) -> bool:
        return await asyncio.to_thread(self._path(message_id).exists)

    async def mark_sent(self, message_id: str) -> None:
        await asyncio.to_thread(self._mark, message_id)

    def _mark(self, message_id: str) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self._path(message_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        os.close(fd)
