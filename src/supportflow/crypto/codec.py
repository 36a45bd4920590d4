"""Temporal payload codec: AES-256-GCM over every payload, key id in its metadata.

Workflow inputs, results, signals, updates, queries, activity arguments and results, memos
and (with the failure converter below) failure messages and stack traces reach Temporal's
history only as ciphertext. Wire-compatible with Temporal's encryption samples (Go,
TypeScript, Python): metadata ``encoding: binary/encrypted`` and ``encryption-key-id``,
data = 12-byte nonce + ciphertext + tag of the serialized original ``Payload``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from supportflow.crypto.keyring import KeyRing, KeyRingError

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
CIPHER_METADATA = "encryption-cipher"
CIPHER = b"AES/GCM/NoPadding"


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: KeyRing) -> None:
        super().__init__()
        self.keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for payload in payloads:
            key_id, blob = self.keyring.encrypt(payload.SerializeToString())
            out.append(
                Payload(
                    metadata={
                        "encoding": ENCODING,
                        KEY_ID_METADATA: key_id.encode(),
                        CIPHER_METADATA: CIPHER,
                    },
                    data=blob,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                # Written before encryption was on (the recorded histories, conversations
                # older than the upgrade): they must still replay and be read.
                out.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
            if not key_id:
                raise KeyRingError("encrypted payload has no encryption-key-id metadata")
            out.append(Payload.FromString(self.keyring.decrypt(key_id, payload.data)))
        return out


def data_converter(keyring: KeyRing) -> DataConverter:
    """The project's converter (pydantic) with every payload encrypted.

    Failure messages and stack traces move into an encoded payload too: an exception's text
    may quote what a customer typed, and by default Temporal stores it in plain text.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
