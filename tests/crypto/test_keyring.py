"""KeyRing: AES-256-GCM by key id, rotation, sealed strings, and where keys come from."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from supportflow.crypto.keyring import (
    KEY_FILE_NAME,
    DecryptionError,
    KeyRing,
    KeyRingError,
    UnknownKeyError,
    create_key_file,
    load_keyring,
    new_key,
    read_key_file,
    rotate_key_file,
)
from supportflow.settings import Settings


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_round_trip_with_aad_and_fresh_nonces() -> None:
    ring = KeyRing([("a", new_key())])
    kid, blob = ring.encrypt(b"card 4111 1111 1111 1111", aad=b"ctx")
    assert kid == "a"
    assert b"4111" not in blob
    assert ring.decrypt(kid, blob, aad=b"ctx") == b"card 4111 1111 1111 1111"
    # A random 96-bit nonce each time: the same plaintext never gives the same bytes.
    assert ring.encrypt(b"same")[1] != ring.encrypt(b"same")[1]
    with pytest.raises(DecryptionError):
        ring.decrypt(kid, blob, aad=b"other context")


def test_tampered_ciphertext_fails_authentication() -> None:
    ring = KeyRing([("a", new_key())])
    kid, blob = ring.encrypt(b"secret")
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring.decrypt(kid, flipped)
    with pytest.raises(DecryptionError, match="too short"):
        ring.decrypt(kid, b"short")


def test_rotation_new_key_encrypts_old_keys_still_decrypt() -> None:
    old, new = new_key(), new_key()
    before = KeyRing([("old", old)])
    kid_old, blob_old = before.encrypt(b"written last year")
    after = KeyRing([("new", new), ("old", old)])
    kid_new, _ = after.encrypt(b"written today")
    assert (kid_old, kid_new) == ("old", "new")
    assert after.decrypt(kid_old, blob_old) == b"written last year"
    # Dropping a key that still protects data gives a clear error, not garbage.
    with pytest.raises(UnknownKeyError, match="'old'"):
        KeyRing([("new", new)]).decrypt(kid_old, blob_old)


def test_seal_and_open_sealed() -> None:
    ring = KeyRing([("k1", new_key())])
    token = ring.seal("identity-secret-xyz")
    assert token.startswith("v1:k1:")
    assert "identity-secret-xyz" not in token
    assert KeyRing.is_sealed(token)
    assert ring.open_sealed(token) == "identity-secret-xyz"
    # A sealed value is bound to its purpose: it does not open as a plain encrypt() blob.
    blob = base64.b64decode(token.split(":", 2)[2])
    with pytest.raises(DecryptionError):
        ring.decrypt("k1", blob)
    for bad in ("plain text", "v1:k1", "v2:k1:AAAA", "v1:k1:not base64!!"):
        with pytest.raises(DecryptionError):
            ring.open_sealed(bad)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "at least one key"),
        ([("a", b"short")], "AES-256 needs 32"),
        ([("bad:id", bytes(32))], "bad encryption key id"),
        ([("a", bytes(32)), ("a", bytes(32))], "appears twice"),
    ],
)
def test_bad_key_rings_are_refused(keys: list[tuple[str, bytes]], message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        KeyRing(keys)


def test_keys_from_settings_first_is_primary(tmp_path: Path) -> None:
    k1, k0 = new_key(), new_key()
    settings = Settings(
        data_dir=tmp_path, encryption_keys=SecretStr(f"kid1:{_b64(k1)}, kid0:{_b64(k0)}")
    )
    ring = load_keyring(settings)
    assert ring.primary_id == "kid1"
    assert ring.key_ids == ["kid1", "kid0"]
    assert not (tmp_path / KEY_FILE_NAME).exists()
    # SecretStr: the keys never appear when settings are printed or logged.
    assert _b64(k1) not in repr(settings)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nocolon", "must be 'kid:<base64 key>"),
        ("k:!!!", "not valid base64"),
        (f"k:{_b64(bytes(16))}", "16 bytes"),
        (" , ", "holds no keys"),
    ],
)
def test_bad_keys_setting(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        load_keyring(Settings(data_dir=tmp_path, encryption_keys=SecretStr(value)))


def test_data_dir_key_file_created_0600_only_when_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(KeyRingError, match="no encryption keys"):
        load_keyring(settings)
    assert not (tmp_path / "data").exists()

    ring = load_keyring(settings, create=True)
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    # Created once, then read back: the same key opens what it sealed.
    again = load_keyring(settings, create=True)
    assert again.open_sealed(ring.seal("x")) == "x"


def test_key_file_setting_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = create_key_file(path)
    with pytest.raises(FileExistsError):
        create_key_file(path)  # never overwrite keys
    token = first.seal("before rotation")

    new_id = rotate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = load_keyring(Settings(data_dir=tmp_path / "unused", encryption_key_file=path))
    assert ring.primary_id == new_id
    assert ring.key_ids == [new_id, first.primary_id]
    assert ring.open_sealed(token) == "before rotation"
    assert ring.seal("after").startswith(f"v1:{new_id}:")
    assert [f.name for f in tmp_path.iterdir()] == ["keys.json"]  # no temp file left


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ("{}", "expected"),
        ('{"keys": [{"id": "a"}]}', "has no base64 'key'"),
        ('{"keys": [{"key": "AAAA"}]}', "string 'id'"),
    ],
)
def test_bad_key_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeyRingError, match=message):
        read_key_file(path)
    with pytest.raises(KeyRingError, match="does not exist"):
        read_key_file(tmp_path / "missing.json")


def test_rotate_refuses_a_broken_file_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"id": "a", "key": "short"}]}))
    before = path.read_bytes()
    with pytest.raises(KeyRingError):
        rotate_key_file(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keys.json"]
