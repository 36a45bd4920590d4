"""The data directory is private to the user who runs the stack: dirs 0700, files 0600.

It holds the Temporal history, the app database, the store database, the encryption keys
and mail with sign-in codes; nobody else on the host has a reason to read any of it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
# What the stack itself keeps in the data dir. Only these are tightened: the data dir may be
# set to a directory that also holds the user's own files, which are none of our business.
_OURS = (
    "temporal.db",
    "supportflow.db",
    "store.db",
    "encryption-keys.json",
    "codec-token",
    "demo-tenant.json",
)
_OUR_TREES = ("mail", "mail-sent")
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` 0700 and set the process umask so every file made from now on (by
    this process and the Temporal dev server it starts) is 0600; tighten what an older
    version left group- or world-readable."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = data_dir.stat()
    if st.st_mode & stat.S_ISVTX or st.st_uid != os.getuid():
        # A shared directory such as /tmp: making it 0700 would lock others out of it.
        log.warning("data dir %s is shared or not ours; its mode is left as it is", data_dir)
    else:
        _tighten(data_dir)
    for name in _OURS:
        for suffix in _SQLITE_SUFFIXES:
            _tighten(data_dir / f"{name}{suffix}")
    for tree in _OUR_TREES:
        top = data_dir / tree
        _tighten(top)
        if top.is_dir() and not top.is_symlink():
            for root, dirs, files in os.walk(top):
                for child in dirs + files:
                    _tighten(Path(root) / child)


def _tighten(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        return  # never follow a link out of the data dir
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)
