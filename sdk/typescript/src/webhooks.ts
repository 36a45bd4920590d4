// Webhooks: verify what supportflow sends a merchant's back end (docs/webhooks.md), exactly as
// it signs it (src/supportflow/webhooks/signing.py):
//   Supportflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
// keyed with the endpoint's signing secret (whsec_...). Verify the raw body bytes, before
// any JSON parsing: a re-serialized body no longer matches.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "Supportflow-Signature";
export const EVENT_ID_HEADER = "Supportflow-Event-Id";
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A delivery whose signature is missing, malformed, stale or does not match. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** Why a conversation needs a person: a new wait, an SLA breached, an approval escalated. */
export type NeedsPersonTrigger = "waiting" | "sla_breach" | "approval_escalated";

/** ``data`` of ``conversation.needs_person``: ids, kinds and times only (no message text). */
export interface NeedsPersonData {
  customer_id: string;
  workflow_id: string;
  reason: "handoff" | "approval" | "stuck" | "sla";
  trigger: NeedsPersonTrigger;
  /** The SLA breached (trigger "sla_breach"), e.g. "first_response"; else null. */
  sla_breach: string | null;
  /** When the wait began (ISO 8601). */
  since: string | null;
  channel: string | null;
  /** The inbox line's version: higher is newer. */
  inbox_version: number;
  /** An operator already holds the conversation. */
  held: boolean;
  approval_id: string | null;
}

/** One event. ``id`` is the same on every attempt: de-duplicate on it (delivery is at least
 * once). */
export interface WebhookEvent<Type extends string = string, Data = Record<string, unknown>> {
  id: string;
  type: Type;
  /** When the event happened (ISO 8601, UTC). */
  created_at: string;
  tenant_id: string;
  data: Data;
}

export type NeedsPersonEvent = WebhookEvent<"conversation.needs_person", NeedsPersonData>;
/** Every event supportflow sends; switch on ``type``. */
export type SupportflowEvent = NeedsPersonEvent;

export interface VerifyOptions {
  /** Largest allowed distance between the signed timestamp and now (default 300 s). */
  toleranceSeconds?: number;
  /** Now, in seconds since the epoch (for tests); Date.now() by default. */
  now?: number;
}

function hexSignature(secret: string, timestamp: number, body: Buffer): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

function toBuffer(rawBody: string | Uint8Array): Buffer {
  if (typeof rawBody === "string") return Buffer.from(rawBody, "utf8");
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody);
  throw new WebhookVerificationError("the raw body must be a string or bytes, not parsed JSON");
}

/**
 * Check a delivery and return its event. ``rawBody`` is the request body exactly as received
 * (e.g. ``express.raw({ type: "application/json" })``), ``signatureHeader`` the
 * ``Supportflow-Signature`` header. Throws ``WebhookVerificationError`` for a missing,
 * malformed, stale or non-matching signature.
 */
export function verifyWebhook(
  secret: string,
  rawBody: string | Uint8Array,
  signatureHeader: string | string[] | null | undefined,
  options: VerifyOptions = {},
): SupportflowEvent {
  const { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS } = options;
  if (!secret) throw new WebhookVerificationError("no webhook secret to verify with");
  if (Array.isArray(signatureHeader)) {
    throw new WebhookVerificationError(`more than one ${SIGNATURE_HEADER} header`);
  }
  if (!signatureHeader) throw new WebhookVerificationError(`no ${SIGNATURE_HEADER} header`);
  const body = toBuffer(rawBody);
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of signatureHeader.split(",")) {
    const at = part.indexOf("=");
    if (at < 0) throw new WebhookVerificationError(`malformed ${SIGNATURE_HEADER} header`);
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === "t") {
      if (timestamp !== undefined || !/^[0-9]{1,15}$/.test(value)) {
        throw new WebhookVerificationError(`malformed ${SIGNATURE_HEADER} header: bad t`);
      }
      timestamp = Number(value);
    } else if (key === "v1") {
      candidates.push(value);
    }
    // Other schemes (a future v2) are ignored.
  }
  if (timestamp === undefined || candidates.length === 0) {
    throw new WebhookVerificationError(`malformed ${SIGNATURE_HEADER} header: needs t= and v1=`);
  }
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > toleranceSeconds) {
    throw new WebhookVerificationError("stale webhook: its timestamp is outside the tolerance");
  }
  const expected = Buffer.from(hexSignature(secret, timestamp, body), "utf8");
  let matched = false;
  for (const candidate of candidates) {
    const given = Buffer.from(candidate, "utf8");
    // timingSafeEqual needs equal lengths; a length mismatch is not a secret.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError("webhook signature does not match");
  let event: unknown;
  try {
    event = JSON.parse(body.toString("utf8"));
  } catch {
    throw new WebhookVerificationError("the webhook body is not JSON");
  }
  if (
    event === null ||
    typeof event !== "object" ||
    typeof (event as { id?: unknown }).id !== "string"
  ) {
    throw new WebhookVerificationError("the webhook body is not a supportflow event");
  }
  return event as SupportflowEvent;
}
