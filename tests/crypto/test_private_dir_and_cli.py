"""The private data dir, and the key commands as an operator runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportflow.crypto.keyring import KEY_FILE_NAME, create_key_file, read_key_file
from supportflow.stack.private_dir import make_private_data_dir
from tests.helpers import SUPPORTFLOW, TEST_ENCRYPTION_KEYS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def restore_umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def test_private_data_dir_tightens_ours_and_leaves_the_rest(
    tmp_path: Path, restore_umask: None
) -> None:
    data = tmp_path / "data"
    (data / "mail" / "new").mkdir(parents=True)
    for name in ("temporal.db", "temporal.db-wal", "supportflow.db", "mail/new/1.eml"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    data.chmod(0o755)
    (data / "mail").chmod(0o755)
    mine = data / "notes.txt"  # the user's own file in a dir they chose
    mine.write_text("x")
    mine.chmod(0o644)
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    (data / "store.db").symlink_to(outside)  # a link is never followed out of the dir

    make_private_data_dir(data)

    assert _mode(data) == 0o700
    assert _mode(data / "mail") == 0o700 and _mode(data / "mail" / "new") == 0o700
    for name in ("temporal.db", "temporal.db-wal", "supportflow.db", "mail/new/1.eml"):
        assert _mode(data / name) == 0o600, name
    assert _mode(mine) == 0o644 and _mode(outside) == 0o644
    # From now on, whatever this process (and the dev server it starts) creates is private.
    (data / "new.db").write_text("x")
    assert _mode(data / "new.db") == 0o600
    fresh = tmp_path / "fresh" / "deeper"
    make_private_data_dir(fresh)
    assert _mode(fresh) == 0o700


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")}
    return subprocess.run(
        [SUPPORTFLOW, *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_keys_rotate_keeps_old_keys(tmp_path: Path) -> None:
    first = create_key_file(tmp_path / KEY_FILE_NAME)
    token = first.seal("sealed before")
    done = _cli("keys", "rotate", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    ring = read_key_file(tmp_path / KEY_FILE_NAME)
    assert ring.primary_id == out["primary_key_id"] != first.primary_id
    assert ring.open_sealed(token) == "sealed before"
    assert _mode(tmp_path / KEY_FILE_NAME) == 0o600
    # The keys themselves are never printed.
    stored = json.loads((tmp_path / KEY_FILE_NAME).read_text())["keys"]
    assert all(k["key"] not in done.stdout + done.stderr for k in stored)


def test_keys_rotate_refuses_clearly(tmp_path: Path) -> None:
    missing = _cli("keys", "rotate", "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    from_env = _cli(
        "keys",
        "rotate",
        "--data-dir",
        str(tmp_path),
        env={"SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS},
    )
    assert from_env.returncode == 2 and "SUPPORTFLOW_ENCRYPTION_KEYS" in from_env.stderr
    assert "Traceback" not in missing.stderr + from_env.stderr
    assert TEST_ENCRYPTION_KEYS.split(":")[1] not in from_env.stderr


def test_codec_token_is_created_private_and_rotates(tmp_path: Path) -> None:
    first = _cli("keys", "codec-token", "--data-dir", str(tmp_path))
    assert first.returncode == 0 and len(first.stdout.strip()) >= 40
    assert _mode(tmp_path / "codec-token") == 0o600
    again = _cli("keys", "codec-token", "--data-dir", str(tmp_path))
    assert again.stdout == first.stdout
    rotated = _cli("keys", "codec-token", "--rotate", "--data-dir", str(tmp_path))
    assert rotated.returncode == 0 and rotated.stdout != first.stdout
    assert (tmp_path / "codec-token").read_text().strip() == rotated.stdout.strip()


def test_worker_without_keys_refuses_to_start(tmp_path: Path) -> None:
    # A worker that made up its own key would write history no other process could read.
    done = _cli("worker", env={"SUPPORTFLOW_DATA_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "no encryption keys" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / KEY_FILE_NAME).exists()
