"""AES-256-GCM keys by key id: the primary (first) key encrypts, every key decrypts.

Rotation adds a new primary in front and keeps the old keys, so everything written
before still opens. Keys come from, in order:
1. ``SUPPORTFLOW_ENCRYPTION_KEYS`` = ``kid1:<base64 key>,kid0:<base64 key>`` (first is primary);
2. ``SUPPORTFLOW_ENCRYPTION_KEY_FILE`` = a JSON key file;
3. ``<data_dir>/encryption-keys.json``, which ``supportflow up`` creates (0600) when missing.

Key file format: ``{"version": 1, "keys": [{"id": "...", "key": "<base64>", "created": "..."}]}``
with the primary first.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from supportflow.settings import Settings

KEY_FILE_NAME = "encryption-keys.json"
NONCE_BYTES = 12  # 96-bit nonce, the size GCM is specified for
KEY_BYTES = 32  # AES-256
_SEAL_VERSION = "v1"
# Binds sealed strings to their purpose: a sealed app secret cannot be passed off as a
# Temporal payload (or the other way round) even under the same key.
_SEAL_AAD = b"supportflow/sealed/v1"
# Key ids appear in payload metadata and in `v1:<kid>:<data>` tokens: no ':' or ','.
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeyRingError(ValueError):
    """Keys missing, malformed, or a ciphertext that does not open."""


class UnknownKeyError(KeyRingError):
    pass


class DecryptionError(KeyRingError):
    pass


def _check_key_id(key_id: str) -> str:
    if not _KEY_ID.match(key_id):
        raise KeyRingError(
            f"bad encryption key id {key_id!r}: use 1-64 characters from A-Z a-z 0-9 _ . -"
        )
    return key_id


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyRingError(f"encryption key {key_id!r} is not valid base64") from err
    if len(raw) != KEY_BYTES:
        raise KeyRingError(
            f"encryption key {key_id!r} is {len(raw)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return raw


def new_key_id() -> str:
    # Date for people reading the file, random part so two rotations a day never collide.
    return f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class KeyRing:
    """Keys by id; ``primary_id`` encrypts. Not mutable: rotate by building a new ring."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        ordered = list(keys)
        if not ordered:
            raise KeyRingError("an encryption key ring needs at least one key")
        self._keys: dict[str, AESGCM] = {}
        for key_id, key in ordered:
            _check_key_id(key_id)
            if key_id in self._keys:
                raise KeyRingError(f"encryption key id {key_id!r} appears twice")
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"encryption key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
            self._keys[key_id] = AESGCM(key)
        self.primary_id = ordered[0][0]

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def encrypt(self, plaintext: bytes, *, aad: bytes = b"") -> tuple[str, bytes]:
        """Encrypt with the primary key; returns (key id, nonce + ciphertext + tag)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.primary_id].encrypt(nonce, plaintext, aad or None)
        return self.primary_id, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, *, aad: bytes = b"") -> bytes:
        aead = self._keys.get(key_id)
        if aead is None:
            raise UnknownKeyError(
                f"no encryption key {key_id!r} in the key ring (has {', '.join(self._keys)}); "
                "a key that encrypted stored data was removed or another key set is in use"
            )
        if len(blob) < NONCE_BYTES + 16:
            raise DecryptionError("ciphertext is too short to be AES-GCM output")
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad or None)
        except InvalidTag as err:
            raise DecryptionError(
                f"ciphertext under key {key_id!r} failed authentication (tampered or wrong key)"
            ) from err

    def seal(self, plaintext: str) -> str:
        """A secret for the app database as ``v1:<key id>:<base64>``."""
        key_id, blob = self.encrypt(plaintext.encode(), aad=_SEAL_AAD)
        return f"{_SEAL_VERSION}:{key_id}:{base64.b64encode(blob).decode('ascii')}"

    def open_sealed(self, token: str) -> str:
        version, _, rest = token.partition(":")
        key_id, _, data = rest.partition(":")
        if version != _SEAL_VERSION or not key_id or not data:
            raise DecryptionError("not a sealed value (expected 'v1:<key id>:<base64>')")
        try:
            blob = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as err:
            raise DecryptionError("sealed value is not valid base64") from err
        return self.decrypt(key_id, blob, aad=_SEAL_AAD).decode()

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(f"{_SEAL_VERSION}:") and value.count(":") >= 2


# --- where keys come from ------------------------------------------------------------------


def parse_keys_setting(value: str) -> KeyRing:
    """``kid1:<base64>,kid0:<base64>`` (first is primary)."""
    pairs: list[tuple[str, bytes]] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep:
            raise KeyRingError(
                "SUPPORTFLOW_ENCRYPTION_KEYS must be 'kid:<base64 key>[,kid:<base64 key>...]'"
            )
        key_id = key_id.strip()
        pairs.append((_check_key_id(key_id), _decode_key(key_id, encoded)))
    if not pairs:
        raise KeyRingError("SUPPORTFLOW_ENCRYPTION_KEYS is set but holds no keys")
    return KeyRing(pairs)


def _ring_from_document(doc: Any, path: Path) -> KeyRing:
    entries = doc.get("keys") if isinstance(doc, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise KeyRingError(f"{path}: expected {{'keys': [{{'id': ..., 'key': ...}}, ...]}}")
    pairs: list[tuple[str, bytes]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            raise KeyRingError(f"{path}: every key needs a string 'id' and 'key'")
        key_id = _check_key_id(entry["id"])
        encoded = entry.get("key")
        if not isinstance(encoded, str):
            raise KeyRingError(f"{path}: key {key_id!r} has no base64 'key'")
        pairs.append((key_id, _decode_key(key_id, encoded)))
    return KeyRing(pairs)


def read_key_file(path: Path) -> KeyRing:
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise KeyRingError(f"encryption key file {path} does not exist") from err
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise KeyRingError(f"encryption key file {path} is not valid JSON") from err
    return _ring_from_document(doc, path)


def _entry(key_id: str, key: bytes) -> dict[str, str]:
    return {
        "id": key_id,
        "key": base64.b64encode(key).decode("ascii"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_private(path: Path, doc: Mapping[str, Any], *, exclusive: bool) -> None:
    """Write 0600 from the first byte (never a moment world-readable), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (json.dumps(doc, indent=2) + "\n").encode()
    if exclusive:
        # O_EXCL: two `up`s starting at once must not each create (and one lose) a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp is 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_key_file(path: Path) -> KeyRing:
    """A new key file with one key; fails if the file exists (never overwrite keys)."""
    key_id, key = new_key_id(), new_key()
    _write_private(path, {"version": 1, "keys": [_entry(key_id, key)]}, exclusive=True)
    return KeyRing([(key_id, key)])


def rotate_key_file(path: Path) -> str:
    """Put a new primary key in front of the file's keys; returns its id."""
    read_key_file(path)  # validate before rewriting
    doc = json.loads(path.read_text())
    key_id = new_key_id()
    while key_id in {e["id"] for e in doc["keys"]}:
        key_id = new_key_id()
    doc["keys"] = [_entry(key_id, new_key()), *doc["keys"]]
    doc["version"] = 1
    _write_private(path, doc, exclusive=False)
    return key_id


def key_file_path(settings: Settings) -> Path:
    if settings.encryption_key_file is not None:
        return settings.encryption_key_file
    return settings.data_dir / KEY_FILE_NAME


def load_keyring(settings: Settings, *, create: bool = False) -> KeyRing:
    """The key ring from settings; ``create`` makes the data-dir key file when none is set."""
    if settings.encryption_keys is not None:
        return parse_keys_setting(settings.encryption_keys.get_secret_value())
    if settings.encryption_key_file is not None:
        return read_key_file(settings.encryption_key_file)
    path = settings.data_dir / KEY_FILE_NAME
    if path.exists():
        return read_key_file(path)
    if create:
        try:
            return create_key_file(path)
        except FileExistsError:
            return read_key_file(path)  # another process created it just now
    raise KeyRingError(
        f"no encryption keys: set SUPPORTFLOW_ENCRYPTION_KEYS or SUPPORTFLOW_ENCRYPTION_KEY_FILE, "
        f"or run `supportflow up` once to create {path}"
    )
