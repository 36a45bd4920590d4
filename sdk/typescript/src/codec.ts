// supportflow encrypts every Temporal payload (src/supportflow/crypto/codec.py): AES-256-GCM
// over the serialized Payload, metadata `encoding: binary/encrypted` and the key id, data =
// 12-byte nonce + ciphertext + 16-byte tag, no associated data. A worker serving custom
// actions must read the workflow's arguments and write its results the same way.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Payload, PayloadCodec } from "@temporalio/common";
import { temporal } from "@temporalio/proto";

const ENCODING = "binary/encrypted";
const KEY_ID_METADATA = "encryption-key-id";
const CIPHER_METADATA = "encryption-cipher";
const CIPHER = "AES/GCM/NoPadding";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const ProtoPayload = temporal.api.common.v1.Payload;

/** Keys by id, the first one encrypting: the ``SUPPORTFLOW_ENCRYPTION_KEYS`` setting. */
export interface EncryptionKeys {
  primary: string;
  keys: Map<string, Buffer>;
}

/** Parse ``kid1:<base64 key>,kid0:<base64 key>`` (first is primary), as supportflow does. */
export function parseEncryptionKeys(setting: string): EncryptionKeys {
  const keys = new Map<string, Buffer>();
  let primary: string | undefined;
  for (const part of setting.split(",")) {
    const entry = part.trim();
    if (!entry) continue;
    const colon = entry.indexOf(":");
    const id = colon < 0 ? "" : entry.slice(0, colon);
    if (!KEY_ID.test(id)) throw new Error("each encryption key must be <key id>:<base64 key>");
    const key = Buffer.from(entry.slice(colon + 1), "base64");
    if (key.length !== KEY_BYTES) {
      throw new Error(`encryption key ${id} is ${key.length} bytes; AES-256 needs ${KEY_BYTES}`);
    }
    keys.set(id, key);
    primary ??= id;
  }
  if (primary === undefined) throw new Error("no encryption keys given");
  return { primary, keys };
}

const text = (value: string): Uint8Array => Buffer.from(value, "utf8");
const read = (value: Uint8Array | null | undefined): string =>
  value ? Buffer.from(value).toString("utf8") : "";

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly ring: EncryptionKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.ring.keys.get(this.ring.primary) as Buffer;
    return payloads.map((payload) => {
      const plain = ProtoPayload.encode(payload).finish();
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      const sealed = Buffer.concat([
        nonce,
        cipher.update(plain),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return {
        metadata: {
          encoding: text(ENCODING),
          [KEY_ID_METADATA]: text(this.ring.primary),
          [CIPHER_METADATA]: text(CIPHER),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (read(payload.metadata?.encoding) !== ENCODING) return payload;
      const keyId = read(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.ring.keys.get(keyId);
      if (key === undefined) throw new Error(`no encryption key ${keyId || "(none given)"}`);
      const blob = Buffer.from(payload.data ?? new Uint8Array());
      if (blob.length < NONCE_BYTES + TAG_BYTES) throw new Error("encrypted payload is too short");
      const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, NONCE_BYTES));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const decoded = ProtoPayload.decode(plain);
      return { metadata: decoded.metadata, data: decoded.data };
    });
  }
}
