// A merchant's Node back end talking to supportflow's HTTP API: the web chat channel
// (POST /v1/chat/messages with the tenant's chat key, then GET /v1/chat/messages/{id} until
// the reply is there), a customer's message on any channel (POST /v1/messages with the
// tenant's API key, then GET /v1/messages/{id}) and a customer's transcript
// (GET /v1/customers/{id}/transcript with the API key). Wire format: contract/chat_*,
// message*.schema.json and transcript.schema.json.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ChatReplyOut,
  type ChatUpdatesOut,
  type MessageReplyOut,
  parseChatMessage,
  parseMessage,
  type TranscriptView,
} from "./contract";

export interface SupportflowClientOptions {
  /** Where supportflow's API listens, e.g. ``https://support.example.com``. */
  baseUrl: string;
  /** The tenant's public chat key (X-Chat-Key): needed to send messages. */
  chatKey?: string;
  /** The tenant's API key (X-Api-Key): needed to send on any channel (``ChannelMessage``) and
   * to read transcripts. Keep it server-side. */
  apiKey?: string;
  /** A fetch implementation; the global one by default. */
  fetch?: typeof fetch;
}

export interface ChatMessage {
  /** The visitor's stable id on the chat channel (letters, digits, ``_.:@-``). */
  visitorId: string;
  text: string;
  /** The caller's id for this message, unique per visitor; a new UUID by default. Sending the
   * same id again returns the first answer (``duplicate``), never a second turn. */
  messageId?: string;
  /** An email the visitor claims (supportflow sends it a one-time code, nothing more). */
  email?: string;
  /** A signed identity token (``signIdentityToken``): the message comes from that customer. */
  identityToken?: string;
}

/** A customer's message on any channel, sent with the tenant's API key (``POST /v1/messages``).
 * It goes the way that channel's own messages go: by email or SMS the answer is also sent to
 * the customer on that channel (the tenant's mail relay or Twilio number). */
export interface ChannelMessage {
  channel: "chat" | "email" | "sms";
  /** Who wrote: the chat visitor id, the customer's email address, or an E.164 number. On its
   * own it proves nothing (the agent asks the customer to prove who they are). */
  from: string;
  text: string;
  /** The caller's id for this message (a new UUID by default): the same id again returns the
   * first answer (``duplicate``), never a second turn. Give your own to retry safely. */
  messageId?: string;
  /** Email only: the subject of the customer's mail. */
  subject?: string;
  /** A signed identity token (``signIdentityToken``): the message comes from that customer. */
  identityToken?: string;
}

export interface AwaitOptions {
  /** How long to wait for the reply in all, in milliseconds (default 60 000). */
  timeoutMs?: number;
  /** The first pause between polls, growing to 5 s (default 500 ms). */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

export type AnsweredReply = ChatReplyOut & { status: "answered" };
export type AnsweredMessageReply = MessageReplyOut & { status: "answered" };

/** supportflow answered with an error status; ``detail`` is its explanation. */
export class SupportflowApiError extends Error {
  override readonly name = "SupportflowApiError";
  constructor(
    readonly status: number,
    readonly detail: unknown,
  ) {
    super(
      `supportflow answered ${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`,
    );
  }
}

/** No reply within the time allowed; the message is safe and will be answered later. */
export class ReplyTimeoutError extends Error {
  override readonly name = "ReplyTimeoutError";
  constructor(readonly pending: ChatReplyOut | MessageReplyOut) {
    super(`no reply to message ${pending.message_id} yet`);
  }
}

export class SupportflowClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: SupportflowClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** Send one customer message and wait for the agent's reply: on the web chat with the chat
   * key (``ChatMessage``), or on any channel with the API key (``ChannelMessage``). */
  sendMessage(message: ChatMessage, wait?: AwaitOptions): Promise<AnsweredReply>;
  sendMessage(message: ChannelMessage, wait?: AwaitOptions): Promise<AnsweredMessageReply>;
  async sendMessage(
    message: ChatMessage | ChannelMessage,
    wait: AwaitOptions = {},
  ): Promise<AnsweredReply | AnsweredMessageReply> {
    if ("channel" in message) return this.sendOnChannel(message, wait);
    const deadline = Date.now() + (wait.timeoutMs ?? 60_000);
    let reply = await this.postMessage(message, wait.signal);
    let pause = wait.pollIntervalMs ?? 500;
    while (reply.status !== "answered") {
      if (Date.now() + pause > deadline) throw new ReplyTimeoutError(reply);
      await sleep(pause, undefined, { signal: wait.signal });
      pause = Math.min(pause * 1.5, 5_000);
      reply = await this.getReply(reply.message_id, message.visitorId, wait.signal);
    }
    return reply as AnsweredReply;
  }

  private async sendOnChannel(
    message: ChannelMessage,
    wait: AwaitOptions,
  ): Promise<AnsweredMessageReply> {
    const deadline = Date.now() + (wait.timeoutMs ?? 60_000);
    // supportflow waits for the reply itself for a while (never longer than its chat reply
    // wait); the rest of the time allowed is spent polling.
    const waitSeconds = Math.max(0, (deadline - Date.now()) / 1000);
    let reply = await this.postChannelMessage(message, { waitSeconds, signal: wait.signal });
    let pause = wait.pollIntervalMs ?? 500;
    while (reply.status !== "answered") {
      if (Date.now() + pause > deadline) throw new ReplyTimeoutError(reply);
      await sleep(pause, undefined, { signal: wait.signal });
      pause = Math.min(pause * 1.5, 5_000);
      reply = await this.getMessageReply(reply.message_id, reply.channel, reply.from, wait.signal);
    }
    return reply as AnsweredMessageReply;
  }

  /** One ``POST /v1/messages``: the reply when the agent answered within ``waitSeconds``
   * (supportflow's own wait when not given, and never longer), else "pending". */
  async postChannelMessage(
    message: ChannelMessage,
    options: { waitSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<MessageReplyOut> {
    const body = parseMessage({
      channel: message.channel,
      from: message.from,
      text: message.text,
      message_id: message.messageId ?? randomUUID(),
      ...(message.subject === undefined ? {} : { subject: message.subject }),
      ...(message.identityToken === undefined ? {} : { identity_token: message.identityToken }),
    });
    const query =
      options.waitSeconds === undefined ? "" : `?wait=${Math.max(0, options.waitSeconds)}`;
    return this.request<MessageReplyOut>(
      "POST",
      `/v1/messages${query}`,
      this.apiHeaders("sending on a channel"),
      body,
      options.signal,
    );
  }

  /** The reply to an earlier ``ChannelMessage`` (``from`` as the answer gave it back). */
  async getMessageReply(
    messageId: string,
    channel: ChannelMessage["channel"],
    from: string,
    signal?: AbortSignal,
  ): Promise<MessageReplyOut> {
    const query = new URLSearchParams({ channel, from });
    const path = `/v1/messages/${encodeURIComponent(messageId)}?${query}`;
    return this.request<MessageReplyOut>(
      "GET",
      path,
      this.apiHeaders("reading a reply"),
      undefined,
      signal,
    );
  }

  /** One POST: the reply when the agent answered within supportflow's wait, else "pending". */
  async postMessage(message: ChatMessage, signal?: AbortSignal): Promise<ChatReplyOut> {
    const body = parseChatMessage({
      visitor_id: message.visitorId,
      message_id: message.messageId ?? randomUUID(),
      text: message.text,
      ...(message.email === undefined ? {} : { email: message.email }),
      ...(message.identityToken === undefined ? {} : { identity_token: message.identityToken }),
    });
    return this.request<ChatReplyOut>(
      "POST",
      "/v1/chat/messages",
      this.chatHeaders(),
      body,
      signal,
    );
  }

  /** The reply to an earlier message: status "answered" with it, or "pending". */
  async getReply(
    messageId: string,
    visitorId: string,
    signal?: AbortSignal,
  ): Promise<ChatReplyOut> {
    const path = `/v1/chat/messages/${encodeURIComponent(messageId)}?visitor_id=${encodeURIComponent(visitorId)}`;
    return this.request<ChatReplyOut>("GET", path, this.chatHeaders(), undefined, signal);
  }

  /** What the agent and the store's people said to the visitor after entry ``after``. */
  async updates(visitorId: string, after = 0, signal?: AbortSignal): Promise<ChatUpdatesOut> {
    const path = `/v1/chat/updates?visitor_id=${encodeURIComponent(visitorId)}&after=${after}`;
    return this.request<ChatUpdatesOut>("GET", path, this.chatHeaders(), undefined, signal);
  }

  /** A customer's conversation (``customer_id`` as the chat replies name it). */
  async transcript(customerId: string, signal?: AbortSignal): Promise<TranscriptView> {
    const path = `/v1/customers/${encodeURIComponent(customerId)}/transcript`;
    return this.request<TranscriptView>(
      "GET",
      path,
      this.apiHeaders("reading a transcript"),
      undefined,
      signal,
    );
  }

  private apiHeaders(what: string): Record<string, string> {
    if (!this.options.apiKey) throw new Error(`${what} needs the tenant's apiKey`);
    return { "x-api-key": this.options.apiKey };
  }

  private chatHeaders(): Record<string, string> {
    if (!this.options.chatKey) throw new Error("the chat channel needs the tenant's chatKey");
    return { "x-chat-key": this.options.chatKey };
  }

  private async request<T>(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    for (;;) {
      const response = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers: {
          accept: "application/json",
          ...headers,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      if (response.status === 429) {
        // Rate limited: wait as told (at most 30 s), then try again.
        const seconds = Number(response.headers.get("retry-after") ?? "1");
        await response.arrayBuffer();
        await sleep(Math.min(Number.isFinite(seconds) ? seconds : 1, 30) * 1000, undefined, {
          signal,
        });
        continue;
      }
      const parsed: unknown = await response.json().catch(() => undefined);
      if (!response.ok) {
        const detail = (parsed as { detail?: unknown } | undefined)?.detail ?? response.statusText;
        throw new SupportflowApiError(response.status, detail);
      }
      return parsed as T;
    }
  }
}
