// A merchant's TypeScript service inside supportflow's conversations, end to end: the
// loyalty-service example serves custom action `loyalty_balance` on the demo tenant's queue
// of `supportflow up`, and a Node client (this SDK's) asks as a verified customer of the
// demo store. The tenant's policy lists the action and a knowledge article says its result.
// Also: a customer not signed in (asked to prove who they are, then answered), the worker
// stopped (apology and handoff within the policy's deadline), a policy naming another
// tenant's queue (refused, nothing changed), and an article whose action the policy does not
// list (answered without it). One `supportflow up` for all, in this order.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { customActionTaskQueue, SupportflowClient, signIdentityToken } from "../src";
import { REPO_ROOT, type SupportflowUp, startSupportflowUp, stop } from "./helpers";

// Customers of the demo store (its seed), which the example's table knows or not.
const MEMBER = "noah_brown_6181"; // 4271 points, platinum, in examples/loyalty-service
const OTHER_MEMBER = "ivan_santos_6635";
// 1862 points, gold; signs in with a code mailed to the account's email.
const SIGNS_IN_LATER = { id: "yara_sanchez_1902", email: "yara.sanchez4385@example.com" };
const NOT_ASKED_BEFORE = "anya_garcia_3271";

const LOYALTY_QUESTION = "how many loyalty points do I have";
const CREDIT_QUESTION = "what is my store credit balance";

const OTHER_TENANT = "t_ffffffffffffffff";

interface AuditEntry {
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

describe("a TypeScript custom action in a conversation (`supportflow up`)", () => {
  let up: SupportflowUp | undefined;
  let client: SupportflowClient;
  let tenant: string;
  let worker: ChildProcess | undefined;
  let basePolicy: Record<string, unknown>;

  /** The merchant API (X-Api-Key): status and JSON body. */
  async function merchant(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    if (!up) throw new Error("supportflow is not up");
    const response = await fetch(up.api + path, {
      method,
      headers: {
        "x-api-key": up.keys.api_key,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  }

  async function putPolicy(doc: Record<string, unknown>): Promise<void> {
    const put = await merchant("PUT", "/v1/policy", doc);
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }

  /** The newest audit entry of ``action`` (entries are appended before the reply is sent). */
  async function lastAudit(action: string): Promise<AuditEntry | undefined> {
    const got = await merchant("GET", `/v1/audit?action=${encodeURIComponent(action)}&limit=1`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    return (got.body as { entries: AuditEntry[] }).entries[0];
  }

  /** A message from a customer the merchant's back end signed in (``null``: not signed in). */
  async function ask(
    storeCustomerId: string | null,
    text: string,
    visitorId = `v-${randomUUID()}`,
  ) {
    if (!up) throw new Error("supportflow is not up");
    const identityToken =
      storeCustomerId === null
        ? undefined
        : signIdentityToken(up.keys.identity_secret, { sub: storeCustomerId });
    const started = Date.now();
    const reply = await client.sendMessage(
      { visitorId, text, ...(identityToken === undefined ? {} : { identityToken }) },
      { timeoutMs: 90_000 },
    );
    return { reply, ms: Date.now() - started };
  }

  /** The one-time code `up`'s embedded mail server received for ``email`` (/dev/mail). */
  async function signInCode(email: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await merchant("GET", `/dev/mail?to=${encodeURIComponent(email)}`);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      const code = /sign-in code for .* is (\d{6})\./.exec(
        (got.body as Array<{ text: string }>)[0]?.text ?? "",
      );
      if (code?.[1]) return code[1];
      if (Date.now() > deadline) throw new Error(`no code mailed to ${email}`);
      await sleep(250);
    }
  }

  /** The example's worker (examples/loyalty-service), as a merchant runs it. */
  async function startWorker(): Promise<void> {
    if (!up) throw new Error("supportflow is not up");
    if (worker && worker.exitCode === null && worker.signalCode === null) return;
    const queue = customActionTaskQueue(tenant);
    const child = spawn(
      process.execPath,
      [join(REPO_ROOT, "examples", "loyalty-service", "src", "worker.js")],
      {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: up.temporalAddress,
          SUPPORTFLOW_TENANT_ID: tenant,
          SUPPORTFLOW_ENCRYPTION_KEYS: up.encryptionKeys(),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    worker = child;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready: ${output}`)), 30_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`serving loyalty_balance on ${queue}`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", read);
      child.stderr?.on("data", read);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited ${code}: ${output}`));
      });
    });
  }

  before(async () => {
    up = await startSupportflowUp();
    tenant = up.keys.tenant_id;
    client = new SupportflowClient({
      baseUrl: up.api,
      chatKey: up.keys.chat_key,
      apiKey: up.keys.api_key,
    });
    // The merchant's set-up: the policy lists loyalty_balance (its defaults: the tenant's own
    // queue, 5 s an attempt, 15 s in all, verified customers, the support agent), and two
    // articles say an action's result. store_credit is in no policy.
    const got = await merchant("GET", "/v1/policy");
    assert.equal(got.status, 200, JSON.stringify(got.body));
    basePolicy = got.body as Record<string, unknown>;
    await putPolicy({ ...basePolicy, custom_actions: { loyalty_balance: {} } });
    const articles = [
      {
        title: "Loyalty points balance",
        body: "You have {points} loyalty points ({tier} tier).",
        tags: ["loyalty", "points"],
        action: "loyalty_balance",
      },
      {
        title: "Store credit balance",
        body: "You have {credit} in store credit.",
        tags: ["store credit"],
        action: "store_credit",
      },
    ];
    for (const article of articles) {
      const made = await merchant("POST", "/v1/knowledge", article);
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    for (const [question, title] of [
      [LOYALTY_QUESTION, "Loyalty points balance"],
      [CREDIT_QUESTION, "Store credit balance"],
    ] as const) {
      const search = await merchant(
        "GET",
        `/v1/knowledge/search?q=${encodeURIComponent(question)}`,
      );
      const top = (search.body as { hits: Array<{ title: string; answers: boolean }> }).hits[0];
      assert.deepEqual({ title: top?.title, answers: top?.answers }, { title, answers: true });
    }
  });

  after(async () => {
    if (worker) await stop(worker);
    await up?.stop();
  });

  test("a verified customer's question is answered from the TypeScript worker", async () => {
    await startWorker();

    const { reply } = await ask(MEMBER, LOYALTY_QUESTION);

    assert.equal(reply.status, "answered");
    // 4271 and "platinum" are in the example's table only.
    assert.match(reply.reply ?? "", /You have 4271 loyalty points \(platinum tier\)\./);
    const audit = await lastAudit("custom_action.loyalty_balance");
    assert.equal(audit?.target, MEMBER);
    assert.deepEqual(audit?.details, {
      outcome: "done",
      task_queue: customActionTaskQueue(tenant),
    });
  });

  test("a customer not signed in proves who they are by code, then gets the answer", async () => {
    await startWorker();
    const visitorId = `v-${randomUUID()}`;

    const first = await ask(null, LOYALTY_QUESTION, visitorId);
    assert.match(first.reply.reply ?? "", /First I need to make sure it's you/);
    assert.doesNotMatch(first.reply.reply ?? "", /points/);

    await ask(null, SIGNS_IN_LATER.email, visitorId);
    const code = await signInCode(SIGNS_IN_LATER.email);
    const answered = await ask(null, code, visitorId);

    // The question asked before, answered once they proved it: from the example's table.
    assert.match(answered.reply.reply ?? "", /You have 1862 loyalty points \(gold tier\)\./);
    const audit = await lastAudit("custom_action.loyalty_balance");
    assert.equal(audit?.target, SIGNS_IN_LATER.id);
  });

  test("the worker stopped: an apology and a person, within the policy's deadline", async () => {
    if (worker) await stop(worker);
    await putPolicy({
      ...basePolicy,
      custom_actions: { loyalty_balance: { timeout: "PT2S", deadline: "PT3S" } },
    });

    const { reply, ms } = await ask(OTHER_MEMBER, LOYALTY_QUESTION);

    assert.equal(reply.status, "answered");
    assert.match(reply.reply ?? "", /something went wrong on our side/);
    assert.match(reply.reply ?? "", /passed your conversation to a member of our team/);
    assert.doesNotMatch(reply.reply ?? "", /loyalty points \(/);
    // The 3 s deadline, not the 15 s default, and the turn around it.
    assert.ok(ms < 12_000, `the reply took ${ms} ms`);
    const audit = await lastAudit("custom_action.loyalty_balance");
    assert.equal(audit?.target, OTHER_MEMBER);
    assert.deepEqual(audit?.details, {
      outcome: "timed_out",
      reason: "worker_failed",
      task_queue: customActionTaskQueue(tenant),
    });
  });

  test("a policy naming another tenant's queue is refused, and changes nothing", async () => {
    const before = await merchant("GET", "/v1/policy");
    for (const queue of [
      customActionTaskQueue(OTHER_TENANT),
      `${customActionTaskQueue(OTHER_TENANT)}.loyalty`,
      `${customActionTaskQueue(tenant)}x`,
    ]) {
      const put = await merchant("PUT", "/v1/policy", {
        ...basePolicy,
        custom_actions: { loyalty_balance: { task_queue: queue } },
      });
      assert.equal(put.status, 422, queue);
      const detail = String((put.body as { detail?: unknown }).detail);
      assert.match(detail, /custom_actions: loyalty_balance: a task queue must be the tenant's/);
      assert.ok(detail.includes(`'${customActionTaskQueue(tenant)}'`), detail);
    }
    assert.deepEqual(await merchant("GET", "/v1/policy"), before);
  });

  test("an article whose action the policy does not list: answered without it", async () => {
    await startWorker();

    const { reply } = await ask(NOT_ASKED_BEFORE, CREDIT_QUESTION);

    assert.equal(reply.status, "answered");
    assert.match(reply.reply ?? "", /Sorry, I can't look that up from here right now\./);
    assert.match(reply.reply ?? "", /pass your question to a member of our team/);
    const audit = await lastAudit("custom_action.store_credit");
    assert.deepEqual(audit?.details, { outcome: "unavailable", reason: "not_in_policy" });
  });
});
