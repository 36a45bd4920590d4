// The Node client against supportflow itself (`supportflow up`: Temporal dev server, worker,
// API, demo store): a message gets its reply, a token signed here makes a verified customer,
// a forged one is refused, and the transcript reads back.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SupportflowApiError, SupportflowClient, signIdentityToken } from "../src";
import { type DemoKeys, type SupportflowUp, startSupportflowUp } from "./helpers";

describe("the client against `supportflow up`", () => {
  let up: SupportflowUp | undefined;
  let api: string;
  let keys: DemoKeys;

  before(async () => {
    up = await startSupportflowUp();
    ({ api, keys } = up);
  });

  after(async () => {
    await up?.stop();
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
