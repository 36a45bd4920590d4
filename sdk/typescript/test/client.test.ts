// The Node client against supportflow itself (`supportflow up`: Temporal dev server, worker,
// API, demo store): a message gets its reply, a token signed here makes a verified customer,
// a forged one is refused, and the transcript reads back.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SupportflowApiError, SupportflowClient, signIdentityToken } from "../src";
import { freePort, REPO_ROOT, stop } from "./helpers";

const READY = /supportflow ready in [\d.]+s\s+api=(\S+)/;

interface DemoKeys {
  tenant_id: string;
  api_key: string;
  chat_key: string;
  identity_secret: string;
}

describe("the client against `supportflow up`", () => {
  let up: ChildProcess;
  let dir: string;
  let api: string;
  let keys: DemoKeys;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sf-up-"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SUPPORTFLOW_DATA_DIR: join(dir, "data"),
      SUPPORTFLOW_MODEL: process.env.SUPPORTFLOW_TEST_MODEL ?? "local",
      SUPPORTFLOW_TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      SUPPORTFLOW_TEMPORAL_UI_PORT: String(await freePort()),
      SUPPORTFLOW_API_PORT: String(await freePort()),
      SUPPORTFLOW_STORE_PORT: String(await freePort()),
      SUPPORTFLOW_EMBEDDED_SMTP_PORT: String(await freePort()),
    };
    up = spawn(join(REPO_ROOT, ".venv", "bin", "supportflow"), ["up"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    api = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not ready: ${output.slice(-2000)}`)),
        150_000,
      );
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = READY.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      up.stdout?.on("data", read);
      up.stderr?.on("data", read);
      up.once("exit", (code) =>
        reject(new Error(`supportflow up exited ${code}: ${output.slice(-2000)}`)),
      );
    });
    keys = JSON.parse(readFileSync(join(dir, "data", "demo-tenant.json"), "utf8")) as DemoKeys;
  });

  after(async () => {
    if (up) await stop(up);
    rmSync(dir, { recursive: true, force: true });
  });

  test("a message gets the agent's reply, and the transcript shows both", async () => {
    const client = new SupportflowClient({
      baseUrl: api,
      chatKey: keys.chat_key,
      apiKey: keys.api_key,
    });
    const visitorId = `v-${randomUUID()}`;
    const reply = await client.sendMessage(
      { visitorId, text: "Hi! What is your return policy?" },
      { timeoutMs: 90_000 },
    );
    assert.equal(reply.status, "answered");
    assert.ok(reply.reply && reply.reply.length > 0);

    const again = await client.sendMessage({
      visitorId,
      text: "Hi! What is your return policy?",
      messageId: reply.message_id,
    });
    assert.equal(again.duplicate, true);

    const transcript = await client.transcript(reply.customer_id);
    assert.equal(transcript.tenant_id, keys.tenant_id);
    const texts = transcript.entries.map((e) => [e.role, e.text]);
    assert.deepEqual(texts.slice(0, 2), [
      ["customer", "Hi! What is your return policy?"],
      ["agent", reply.reply],
    ]);
  });

  test("a token signed here makes a verified customer; a forged one is refused", async () => {
    const client = new SupportflowClient({
      baseUrl: api,
      chatKey: keys.chat_key,
      apiKey: keys.api_key,
    });
    const identityToken = signIdentityToken(keys.identity_secret, {
      email: "ada@example.com",
      sub: "cust-ts-1",
    });
    const reply = await client.sendMessage(
      { visitorId: `v-${randomUUID()}`, text: "Where is my order?", identityToken },
      { timeoutMs: 90_000 },
    );
    const transcript = await client.transcript(reply.customer_id);
    assert.equal(transcript.entries[0]?.verified_by, "token");
    assert.equal(transcript.verification?.store_customer_id, "cust-ts-1");

    const forged = signIdentityToken("not-the-secret", { sub: "cust-ts-1" });
    await assert.rejects(
      client.sendMessage({ visitorId: `v-${randomUUID()}`, text: "hi", identityToken: forged }),
      (err: unknown) => err instanceof SupportflowApiError && err.status === 401,
    );
    const wrongKey = new SupportflowClient({ baseUrl: api, chatKey: "nope" });
    await assert.rejects(
      wrongKey.sendMessage({ visitorId: "v1", text: "hi" }),
      (err: unknown) => err instanceof SupportflowApiError && err.status === 401,
    );
  });
});
