// Deliveries signed by supportflow's Python code (src/supportflow/webhooks/signing.py) verify
// here; tampered, forged, stale and malformed ones are refused with a clear error.
import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyWebhook, WebhookVerificationError } from "../src";
import { PYTHON, run } from "./helpers";

const SECRET = "whsec_test-secret-for-the-typescript-sdk";

interface Signed {
  body: string;
  header: string;
  t: number;
}

/** A body and its Supportflow-Signature, made by supportflow.webhooks in Python. */
async function signInPython(secret: string, t: number): Promise<Signed> {
  const script = [
    "import json, sys",
    "from supportflow.webhooks import signature_header",
    "event = {'id': 'evt_0123456789abcdef0123456789abcdef', 'type': 'conversation.needs_person',",
    "         'created_at': '2026-12-01T03:00:00Z', 'tenant_id': 't_0a1b2c3d4e5f6a7b',",
    "         'data': {'customer_id': 'c_1', 'reason': 'handoff', 'trigger': 'waiting'}}",
    "body = json.dumps(event, separators=(',', ':'), sort_keys=True)",
    "t = int(sys.argv[2])",
    "print(json.dumps({'body': body, 'header': signature_header(sys.argv[1], body.encode(), t), 't': t}))",
  ].join("\n");
  const out = await run(PYTHON, ["-c", script, secret, String(t)]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as Signed;
}

test("a delivery signed by supportflow verifies, and its event is returned", async () => {
  const now = Math.floor(Date.now() / 1000);
  const signed = await signInPython(SECRET, now);
  const event = verifyWebhook(SECRET, signed.body, signed.header);
  assert.equal(event.type, "conversation.needs_person");
  assert.equal(event.id, "evt_0123456789abcdef0123456789abcdef");
  assert.equal(event.data.customer_id, "c_1");
  // Bytes as an HTTP framework hands them over verify the same.
  assert.equal(verifyWebhook(SECRET, Buffer.from(signed.body), signed.header).id, event.id);
  // Within the tolerance either way.
  assert.equal(
    verifyWebhook(SECRET, signed.body, signed.header, { now: now + 299 }).tenant_id,
    "t_0a1b2c3d4e5f6a7b",
  );
});

test("a tampered body, a wrong secret, a stale or malformed header are refused", async () => {
  const t = 1_764_558_000;
  const signed = await signInPython(SECRET, t);
  const at = { now: t + 10 };
  const refuse = (
    body: string,
    header: string | undefined,
    pattern: RegExp,
    secret = SECRET,
    options: { now?: number; toleranceSeconds?: number } = at,
  ): void => {
    assert.throws(
      () => verifyWebhook(secret, body, header, options),
      (err: unknown) => err instanceof WebhookVerificationError && pattern.test(err.message),
    );
  };
  assert.equal(verifyWebhook(SECRET, signed.body, signed.header, at).id.length > 0, true);
  refuse(signed.body.replace("handoff", "stuck"), signed.header, /does not match/);
  refuse(`${signed.body} `, signed.header, /does not match/);
  refuse(signed.body, signed.header, /does not match/, "whsec_someone-else");
  refuse(signed.body, signed.header, /stale/, SECRET, { now: t + 301 });
  refuse(signed.body, signed.header, /stale/, SECRET, { now: t - 301 });
  refuse(signed.body, signed.header, /stale/, SECRET, { now: t + 61, toleranceSeconds: 60 });
  refuse(signed.body, undefined, /no Supportflow-Signature header/);
  refuse(signed.body, "", /no Supportflow-Signature header/);
  refuse(signed.body, "sha256=abc", /malformed/);
  refuse(signed.body, "garbage", /malformed/);
  refuse(signed.body, `t=${t}`, /malformed/);
  refuse(signed.body, signed.header.split(",")[1], /malformed/);
  refuse(signed.body, signed.header.replace(`t=${t}`, "t=soon"), /malformed/);
  refuse(signed.body, `t=${t},${signed.header}`, /malformed/);
  // A signature over the body with another timestamp: the timestamp is signed too.
  refuse(signed.body, signed.header.replace(`t=${t}`, `t=${t + 1}`), /does not match/);
  refuse(signed.body, `t=${t},v1=${"0".repeat(64)}`, /does not match/);
  refuse(signed.body, `t=${t},v1=short`, /does not match/);
  assert.throws(() => verifyWebhook("", signed.body, signed.header, at), /no webhook secret/);
});

test("a header with an old and a new signature verifies with either secret", async () => {
  const t = Math.floor(Date.now() / 1000);
  const signed = await signInPython(SECRET, t);
  const other = await signInPython("whsec_the-next-secret", t);
  const both = `${signed.header},${other.header.split(",")[1]}`;
  assert.equal(verifyWebhook(SECRET, signed.body, both).type, "conversation.needs_person");
  assert.equal(
    verifyWebhook("whsec_the-next-secret", signed.body, both).id.startsWith("evt_"),
    true,
  );
});
