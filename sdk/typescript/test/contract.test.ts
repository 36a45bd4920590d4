// The worker's boundary: inputs and results outside the contract are refused, with a
// non-retryable failure that names the fields (never their values).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import {
  ContractError,
  type CustomActionCall,
  customActionActivities,
  parseChatMessage,
  parseCustomActionResult,
} from "../src";

const TENANT = "t_0a1b2c3d4e5f6a7b";
const seen: CustomActionCall[] = [];
const activities = customActionActivities(TENANT, {
  loyalty_balance: (call) => {
    seen.push(call);
    return { ok: true, data: { points: 3 } };
  },
  bad_answer: () => ({ ok: false }) as never,
});
const good = {
  tenant_id: TENANT,
  action: "loyalty_balance",
  idempotency_key: "conv-1:turn-3:loyalty_balance",
  customer_id: "cust_1001",
  args: { program: "default" },
};
const serve = activities["custom_action.loyalty_balance"] as (...a: unknown[]) => Promise<unknown>;

async function refused(promise: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, message);
    return true;
  });
}

test("a valid input reaches the handler, args defaulting to {}", async () => {
  assert.deepEqual(await serve(good), { ok: true, data: { points: 3 } });
  const { args: _args, customer_id: _customer, ...bare } = good;
  await serve(bare);
  assert.deepEqual(seen.at(-1)?.args, {});
  assert.equal(seen.at(-1)?.customer_id, undefined);
});

test("inputs outside the contract are refused before the handler runs", async () => {
  const before = seen.length;
  const type = "CustomActionContractError";
  await refused(
    serve({ ...good, idempotency_key: "" }),
    type,
    /\/idempotency_key must NOT have fewer than 1 characters/,
  );
  await refused(
    serve({ ...good, surprise: true }),
    type,
    /must NOT have additional properties \(surprise\)/,
  );
  await refused(serve({ ...good, args: ["a"] }), type, /\/args must be object/);
  await refused(serve({ ...good, action: "Loyalty-Balance" }), type, /\/action must match pattern/);
  await refused(serve({ ...good, customer_id: 42 }), type, /\/customer_id must be string/);
  await refused(serve("loyalty_balance"), type, /\(top level\) must be object/);
  await refused(serve(good, good), type, /takes one input, got 2/);
  await refused(serve({ ...good, action: "warranty_check" }), type, /names action warranty_check/);
  const { tenant_id: _t, ...noTenant } = good;
  await refused(serve(noTenant), type, /must have required property 'tenant_id'/);
  assert.equal(seen.length, before);
});

test("another tenant's call is refused", async () => {
  await refused(
    serve({ ...good, tenant_id: "t_ffffffffffffffff" }),
    "CustomActionTenantRefused",
    /serves tenant t_0a1b2c3d4e5f6a7b only/,
  );
});

test("a handler's answer outside the contract is refused", async () => {
  const bad = activities["custom_action.bad_answer"] as (...a: unknown[]) => Promise<unknown>;
  await refused(
    bad({ ...good, action: "bad_answer" }),
    "CustomActionContractError",
    /must have required property 'error'/,
  );
  assert.throws(
    () => parseCustomActionResult({ ok: true, error: { code: "x", message: "m" } }),
    ContractError,
  );
  assert.throws(
    () => parseCustomActionResult({ ok: false, error: { code: "Bad Code", message: "m" } }),
    ContractError,
  );
  assert.deepEqual(
    parseCustomActionResult({ ok: false, error: { code: "not_a_member", message: "m" } }).ok,
    false,
  );
});

test("a chat message outside the wire format is refused before it is sent", () => {
  assert.throws(
    () => parseChatMessage({ visitor_id: "v 1", message_id: "m", text: "hi" }),
    /\/visitor_id must match pattern/,
  );
  assert.throws(
    () => parseChatMessage({ visitor_id: "v1", message_id: "m", text: "" }),
    /\/text must NOT have fewer/,
  );
  assert.equal(parseChatMessage({ visitor_id: "v1", message_id: "m", text: "hi" }).text, "hi");
});
