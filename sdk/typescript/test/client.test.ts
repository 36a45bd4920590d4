// The Node client against supportflow itself (`supportflow up`: Temporal dev server, worker,
// API, demo store): a message gets its reply, a token signed here makes a verified customer,
// a forged one is refused, and the transcript reads back. With the API key, a message on any
// channel (POST /v1/messages): chat, email (the answer mailed, read back from /dev/mail) and
// SMS (the answer texted through the local Twilio stand-in, read back from /dev/sms).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ContractError, SupportflowApiError, SupportflowClient, signIdentityToken } from "../src";
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

  /** What supportflow up's dev endpoints show the demo tenant (its API key). */
  async function dev<T>(path: string): Promise<T> {
    const response = await fetch(api + path, { headers: { "x-api-key": keys.api_key } });
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return (await response.json()) as T;
  }

  async function eventually<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
    for (let i = 0; i < 300; i += 1) {
      const found = await read();
      if (found !== undefined) return found;
      await sleep(100);
    }
    throw new Error(`never saw ${what}`);
  }

  test("with the API key, a chat message for a visitor gets the reply, once", async () => {
    const client = new SupportflowClient({ baseUrl: api, apiKey: keys.api_key });
    const from = `v-${randomUUID()}`;
    const text = "Hi! What is your return policy?";
    const reply = await client.sendMessage({ channel: "chat", from, text }, { timeoutMs: 90_000 });
    assert.equal(reply.status, "answered");
    assert.equal(reply.channel, "chat");
    assert.ok(reply.reply && reply.reply.length > 0);

    const again = await client.sendMessage({
      channel: "chat",
      from,
      text,
      messageId: reply.message_id,
    });
    assert.equal(again.duplicate, true);
    assert.equal(again.reply, reply.reply);
    const transcript = await client.transcript(reply.customer_id);
    assert.deepEqual(
      transcript.entries.filter((e) => e.role === "customer").map((e) => e.text),
      [text],
    );
  });

  test("an email gets the reply here and by mail, in its thread's subject", async () => {
    const client = new SupportflowClient({ baseUrl: api, apiKey: keys.api_key });
    const from = `ts-${randomUUID().slice(0, 8)}@mail.example`;
    const reply = await client.sendMessage(
      { channel: "email", from, subject: "Returns", text: "Hi, do you have a returns policy?" },
      { timeoutMs: 90_000 },
    );
    assert.equal(reply.status, "answered");
    assert.equal(reply.from, from);
    const firstLine = (reply.reply ?? "").split("\n")[0] ?? "";
    assert.ok(firstLine.length > 0);
    interface DevMail {
      to: string;
      subject: string;
      text: string;
    }
    const mail = await eventually(async () => {
      const mails = await dev<DevMail[]>(`/dev/mail?to=${encodeURIComponent(from)}`);
      return mails.find((m) => m.subject === "Re: Returns");
    }, `the answer mailed to ${from}`);
    assert.ok(mail.text.includes(firstLine), mail.text);
    // A bare address proves nothing: the conversation's turn is unverified.
    const transcript = await client.transcript(reply.customer_id);
    assert.equal(transcript.entries[0]?.channel, "email");
    assert.equal(transcript.entries[0]?.verified_by, null);
  });

  test("an SMS gets the reply, texted once; a pending reply is fetched later", async () => {
    const client = new SupportflowClient({ baseUrl: api, apiKey: keys.api_key });
    const from = `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`;
    const messageId = `sms-${randomUUID()}`;
    const pending = await client.postChannelMessage(
      { channel: "sms", from, text: "hello there", messageId },
      { waitSeconds: 0 },
    );
    assert.equal(pending.status, "pending");
    assert.ok(pending.reply_url?.startsWith(`/v1/messages/${messageId}?`));
    const reply = await client.sendMessage(
      { channel: "sms", from, text: "hello there", messageId },
      { timeoutMs: 90_000 },
    );
    assert.equal(reply.duplicate, true, "the same message, not a second turn");
    const fetched = await client.getMessageReply(messageId, "sms", from);
    assert.equal(fetched.reply, reply.reply);
    interface DevSms {
      to: string;
      body: string;
    }
    const texts = await eventually(async () => {
      const sent = await dev<DevSms[]>(`/dev/sms?to=${encodeURIComponent(from)}`);
      return sent.length > 0 ? sent : undefined;
    }, `the answer texted to ${from}`);
    await sleep(1000);
    const after = await dev<DevSms[]>(`/dev/sms?to=${encodeURIComponent(from)}`);
    assert.equal(after.length, texts.length, "texted once");
    assert.ok(texts.some((t) => t.body.includes((reply.reply ?? "").slice(0, 30))));
  });

  test("bad input is refused before sending; a wrong key and a forged token by supportflow", async () => {
    const client = new SupportflowClient({ baseUrl: api, apiKey: keys.api_key });
    await assert.rejects(
      client.postChannelMessage({ channel: "sms", from: "4155550123", text: "hi" }),
      (err: unknown) => err instanceof ContractError && err.message.includes("/from"),
    );
    await assert.rejects(
      client.sendMessage({ channel: "email", from: "jo@shop.test", text: "hi" }),
      (err: unknown) => err instanceof SupportflowApiError && err.status === 422,
    );
    const wrongKey = new SupportflowClient({ baseUrl: api, apiKey: "sf_nope" });
    await assert.rejects(
      wrongKey.sendMessage({ channel: "chat", from: "v1", text: "hi" }),
      (err: unknown) => err instanceof SupportflowApiError && err.status === 401,
    );
    const noKey = new SupportflowClient({ baseUrl: api, chatKey: keys.chat_key });
    await assert.rejects(
      noKey.sendMessage({ channel: "chat", from: "v1", text: "hi" }),
      /needs the tenant's apiKey/,
    );
    const forged = signIdentityToken("not-the-secret-not-the-secret-!!", { sub: "cust-ts-1" });
    await assert.rejects(
      client.sendMessage({ channel: "chat", from: "v1", text: "hi", identityToken: forged }),
      (err: unknown) => err instanceof SupportflowApiError && err.status === 401,
    );
  });
});
