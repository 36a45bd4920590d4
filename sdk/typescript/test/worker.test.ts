// A Python workflow calls custom actions served by this SDK's worker, against a real Temporal
// dev server, with supportflow's encrypted payloads: the answer, the refusals, and a worker
// killed mid-activity (retried once, one effect).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { customActionTaskQueue } from "../src";
import {
  type DevServer,
  DIST_FIXTURES,
  FIXTURES,
  PYTHON,
  REPO_ROOT,
  run,
  startDevServer,
  stop,
} from "./helpers";

const TENANT = "t_0a1b2c3d4e5f6a7b";
const KEYS = `k1:${randomBytes(32).toString("base64")}`;

interface Outcome {
  result?: { ok: boolean; data: Record<string, unknown> | null; error: unknown };
  failure?: { type: string; message: string; non_retryable: boolean };
}

describe("custom actions on a real Temporal dev server", () => {
  let server: DevServer;
  let dir: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    server = await startDevServer();
    dir = mkdtempSync(join(tmpdir(), "sf-actions-"));
  });

  after(async () => {
    await Promise.all(workers.map((w) => stop(w, "SIGKILL")));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startWorker(
    taskQueue: string,
    extra: NodeJS.ProcessEnv = {},
    script = join(DIST_FIXTURES, "action-worker.js"),
    ready = "ready",
  ) {
    const child = spawn(process.execPath, [script], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        TASK_QUEUE: taskQueue,
        TENANT_ID: TENANT,
        SUPPORTFLOW_ENCRYPTION_KEYS: KEYS,
        EFFECTS_FILE: join(dir, `${taskQueue}.effects`),
        ATTEMPTS_FILE: join(dir, `${taskQueue}.attempts`),
        ...extra,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    workers.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    child.stdout?.on("data", (chunk: Buffer) => {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      for (const wake of waiters.splice(0)) wake();
    });
    const waitFor = async (line: string) => {
      const deadline = Date.now() + 30_000;
      while (!lines.includes(line)) {
        if (child.exitCode !== null) throw new Error(`worker exited: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`no "${line}" from the worker: ${stderr}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
    };
    await waitFor(ready);
    return { child, waitFor };
  }

  async function call(taskQueue: string, input: Record<string, unknown>): Promise<Outcome> {
    const out = await run(
      PYTHON,
      [join(FIXTURES, "call_action.py"), server.address, taskQueue, JSON.stringify(input)],
      { env: { SUPPORTFLOW_ENCRYPTION_KEYS: KEYS }, timeoutMs: 90_000 },
    );
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as Outcome;
  }

  const input = (action: string, extra: Record<string, unknown> = {}) => ({
    tenant_id: TENANT,
    action,
    idempotency_key: `${action}-${randomBytes(4).toString("hex")}`,
    customer_id: "cust_1001",
    args: {},
    ...extra,
  });

  test("a Python workflow gets the loyalty balance from the TypeScript worker", async () => {
    await startWorker("q-answer");
    const outcome = await call("q-answer", input("loyalty_balance"));
    assert.deepEqual(outcome.result, {
      ok: true,
      data: { points: 1240, tier: "gold" },
      error: null,
    });
    const notMember = await call("q-answer", input("loyalty_balance", { customer_id: "c_9" }));
    assert.deepEqual(notMember.result?.error, {
      code: "not_a_member",
      message: "no loyalty account",
    });
    // As CustomerWorkflow sends it for an unverified customer: customer_id null, no args.
    const { args: _args, ...bare } = input("loyalty_balance", { customer_id: null });
    const unverified = await call("q-answer", bare);
    assert.deepEqual(unverified.result?.error, {
      code: "not_verified",
      message: "the customer is not verified",
    });
  });

  test("the loyalty-service example serves its action on the tenant's default queue", async () => {
    const queue = customActionTaskQueue(TENANT);
    await startWorker(
      queue,
      { SUPPORTFLOW_TENANT_ID: TENANT },
      join(REPO_ROOT, "examples", "loyalty-service", "src", "worker.js"),
      `serving loyalty_balance on ${queue}`,
    );
    const outcome = await call(queue, input("loyalty_balance", { customer_id: "cust_1002" }));
    assert.deepEqual(outcome.result?.data, { points: 80, tier: "bronze" });
  });

  test("refusals fail at once, without retries: other tenant, contract, unknown action", async () => {
    await startWorker("q-refuse");
    const other = await call(
      "q-refuse",
      input("loyalty_balance", { tenant_id: "t_ffffffffffffffff" }),
    );
    assert.equal(other.failure?.type, "CustomActionTenantRefused");
    assert.equal(other.failure?.non_retryable, true);

    const bad = await call("q-refuse", input("loyalty_balance", { idempotency_key: "", extra: 1 }));
    assert.equal(bad.failure?.type, "CustomActionContractError");
    assert.match(bad.failure?.message ?? "", /idempotency_key/);
    assert.match(bad.failure?.message ?? "", /extra/);

    const unknown = await call("q-refuse", input("warranty_check"));
    assert.equal(unknown.failure?.type, "CustomActionNotRegistered");
    assert.match(
      unknown.failure?.message ?? "",
      /custom_action\.warranty_check is not served here/,
    );

    const broken = await call("q-refuse", input("broken_result"));
    assert.equal(broken.failure?.type, "CustomActionContractError");
    assert.match(broken.failure?.message ?? "", /handler of broken_result/);
  });

  test("a worker killed mid-activity: retried once on another worker, one effect", async () => {
    const queue = "q-kill";
    const first = await startWorker(queue, { HANG_AFTER_EFFECT: "1" });
    const payload = input("award_points", { args: { points: 50 } });
    const pending = call(queue, payload);
    await first.waitFor("effect applied");
    await stop(first.child, "SIGKILL");
    await startWorker(queue);

    const outcome = await pending;

    assert.deepEqual(outcome.result, { ok: true, data: { awarded: 50 }, error: null });
    const attempts = readFileSync(join(dir, `${queue}.attempts`), "utf8")
      .split("\n")
      .filter(Boolean);
    assert.deepEqual(attempts, ["1", "2"]);
    const effects = readFileSync(join(dir, `${queue}.effects`), "utf8")
      .split("\n")
      .filter(Boolean);
    assert.deepEqual(effects, [JSON.stringify({ key: payload.idempotency_key, points: 50 })]);
  });
});
