"""The Maildir at ``<data_dir>/mail`` where `supportflow up` keeps every message it receives.

Standard Maildir (``mailbox.Maildir``), so any mail client or ``mutt -f`` reads it. Messages
hold sign-in codes and customers' mail: directories are 0700 and files 0600 from the moment
they are created, whatever the process umask.
"""

from __future__ import annotations

import mailbox
import os
import threading
from pathlib import Path
from typing import IO, Any


def maildir_path(data_dir: Path) -> Path:
    return data_dir / "mail"


class PrivateMaildir(mailbox.Maildir):
    """A Maildir whose message files are 0600 (mailbox creates them 0666 less the umask).

    Safe to ``add`` from several threads: the unique file name comes from a class counter
    that mailbox bumps without a lock."""

    _naming = threading.Lock()

    def __init__(self, path: Path, *, create: bool = True) -> None:
        super().__init__(path, factory=None, create=create)
        if create:
            # Maildir makes its directories 0700, but only those it creates itself.
            for sub in ("", "tmp", "new", "cur"):
                os.chmod(path / sub, 0o700)

    def _create_tmp(self) -> IO[Any]:
        # Restricted before the first byte is written, not after the message lands in new/.
        with self._naming:
            tmp: IO[Any] = super()._create_tmp()  # type: ignore[misc]
        os.fchmod(tmp.fileno(), 0o600)
        return tmp
