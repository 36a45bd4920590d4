"""The payload codec: unit behaviour, and a conversation on a real dev server whose history
holds no plaintext, replays with the keys, and survives a key rotation."""

from __future__ import annotations

import re
import uuid

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from supportflow.channels.inbound import deliver
from supportflow.crypto.codec import CIPHER_METADATA, ENCODING, KEY_ID_METADATA, EncryptionCodec
from supportflow.crypto.codec import data_converter as codec_converter
from supportflow.crypto.keyring import KeyRing, UnknownKeyError, new_key
from supportflow.settings import Settings
from supportflow.worker import workflows
from supportflow.workflows.contract import (
    Channel,
    ChannelIdentity,
    InboundMessage,
    customer_workflow_id,
)
from supportflow.workflows.customer import CustomerWorkflow
from tests.helpers import TEST_CONVERTER, TEST_KEYRING, running_workers

# What a customer might type: a card number and an SSN, plus a unique marker.
CANARY_WORDS = ("4111111111111111", "078-05-1120")


def _canary() -> str:
    return "zebra-canary-" + uuid.uuid4().hex[:12]


async def test_encode_decode_round_trip_with_key_id_in_metadata() -> None:
    ring = KeyRing([("k2", new_key())])
    codec = EncryptionCodec(ring)
    plain = pydantic_data_converter.payload_converter.to_payloads(
        [{"text": "card 4111111111111111"}]
    )
    encoded = await codec.encode(plain)
    assert encoded[0].metadata["encoding"] == ENCODING
    assert encoded[0].metadata[KEY_ID_METADATA] == b"k2"
    assert encoded[0].metadata[CIPHER_METADATA] == b"AES/GCM/NoPadding"
    assert b"4111" not in encoded[0].SerializeToString()
    assert await codec.decode(encoded) == plain


async def test_plain_payloads_pass_through_decode() -> None:
    # Histories written before encryption was on must still be read.
    codec = EncryptionCodec(KeyRing([("k", new_key())]))
    plain = [Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')]
    assert await codec.decode(plain) == plain


async def test_unknown_key_and_tampering_are_errors_not_garbage() -> None:
    old = KeyRing([("old", new_key())])
    encoded = await EncryptionCodec(old).encode([Payload(data=b"x")])
    with pytest.raises(UnknownKeyError, match="'old'"):
        await EncryptionCodec(KeyRing([("new", new_key())])).decode(encoded)
    bad = Payload()
    bad.CopyFrom(encoded[0])
    bad.data = bad.data[:-1] + bytes([bad.data[-1] ^ 1])
    with pytest.raises(ValueError, match="failed authentication"):
        await EncryptionCodec(old).decode([bad])


async def test_failure_messages_are_encrypted_too() -> None:
    # An exception's text can quote the customer; Temporal stores it in plain by default.
    conv = codec_converter(TEST_KEYRING)
    failure = Failure()
    await conv.encode_failure(ApplicationError("card 4111111111111111 declined"), failure)
    assert b"4111" not in failure.SerializeToString()
    decoded = await conv.decode_failure(failure)
    assert "4111111111111111" in str(decoded)


# -- on a real dev server ---------------------------------------------------------------------


def _msg(text: str) -> InboundMessage:
    return InboundMessage(
        message_id=uuid.uuid4().hex,
        channel=Channel.CHAT,
        text=text,
        sender=ChannelIdentity(kind="chat", value="v-" + uuid.uuid4().hex[:8]),
    )


def _client(env: WorkflowEnvironment, ring: KeyRing) -> Client:
    config = env.client.config()
    config["data_converter"] = codec_converter(ring)
    return Client(**config)


async def _say(client: Client, settings: Settings, customer: str, text: str) -> str:
    d = await deliver(client, settings, "t_codec", customer, _msg(text), wait_seconds=30)
    assert d.reply is not None
    return d.reply.text


async def test_history_holds_no_plaintext_and_replays_only_with_the_keys(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    canary = _canary()
    customer = "c_" + uuid.uuid4().hex[:16]
    text = f"hi, my card is {CANARY_WORDS[0]} and my SSN {CANARY_WORDS[1]}, ref {canary}"
    handle = dev_env.client.get_workflow_handle(customer_workflow_id("t_codec", customer))
    async with running_workers(dev_env.client, settings):
        await _say(dev_env.client, settings, customer, text)
        # The customer's words are still there for whoever holds the keys.
        view = await handle.query(CustomerWorkflow.transcript)
    assert any(canary in e.text for e in view.entries)

    history = await handle.fetch_history()
    raw = history.to_json()
    for secret in (canary, *CANARY_WORDS):
        assert secret not in raw
    found = _payloads(history.to_json_dict())
    assert any(meta.get("encoding") == ENCRYPTED_B64 for _, meta in found)
    # Plain payloads only where the SDK keeps its own bookkeeping (patch ids, the local
    # activity marker's sequence numbers, the change-version search attribute).
    plain = {path for path, meta in found if meta.get("encoding") != ENCRYPTED_B64}
    assert plain and all(_SDK_BOOKKEEPING.search(path) for path in plain), plain

    await Replayer(workflows=workflows(), data_converter=TEST_CONVERTER).replay_workflow(history)
    # Without the keys the history cannot even be read back.
    result = await Replayer(
        workflows=workflows(), data_converter=pydantic_data_converter
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


async def test_rotation_new_key_encrypts_old_history_still_reads(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    customer = "c_" + uuid.uuid4().hex[:16]
    old_key = new_key()
    before = _client(dev_env, KeyRing([("rot-old", old_key)]))
    async with running_workers(before, settings):
        await _say(before, settings, customer, "hi")

    # After the rotation the new key encrypts; the old key still reads what it wrote.
    rotated = KeyRing([("rot-new", new_key()), ("rot-old", old_key)])
    after = _client(dev_env, rotated)
    async with running_workers(after, settings):
        await _say(after, settings, customer, "what is your return policy?")

    handle = dev_env.client.get_workflow_handle(customer_workflow_id("t_codec", customer))
    history = await handle.fetch_history()
    key_ids = {
        meta.get("encryption-key-id")
        for _, meta in _payloads(history.to_json_dict())
        if meta.get("encoding") == ENCRYPTED_B64
    }
    assert key_ids == {"cm90LW9sZA==", "cm90LW5ldw=="}  # rot-old, rot-new
    rotated_conv = codec_converter(rotated)
    await Replayer(workflows=workflows(), data_converter=rotated_conv).replay_workflow(history)


ENCRYPTED_B64 = "YmluYXJ5L2VuY3J5cHRlZA=="  # base64 of binary/encrypted, as in history JSON
_SDK_BOOKKEEPING = re.compile(
    r"markerRecordedEventAttributes/details/(patch-data|data)/|"
    r"searchAttributes/indexedFields/TemporalChangeVersion$"
)


def _payloads(node: object, path: str = "") -> list[tuple[str, dict[str, object]]]:
    """(path, metadata) of every Payload in a history's JSON."""
    found: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        meta = node.get("metadata")
        if isinstance(meta, dict) and "encoding" in meta:
            found.append((path, meta))
        for key, value in node.items():
            found += _payloads(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _payloads(value, f"{path}[{i}]")
    return found
