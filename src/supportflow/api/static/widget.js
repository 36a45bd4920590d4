/* supportflow chat widget: one tag on a merchant's pages.

     <script src="https://API/widget.js" data-chat-key="sf_chat_..." async></script>

   Optional on the tag: data-identity-token="..." (the identity token the store's server signed
   for a signed-in shopper) and data-open="true" (start with the panel open). From the page:
   SupportflowChat("identify", token) or SupportflowChat.identify(token) when the shopper
   signs in, SupportflowChat("reset") when they sign out, "open" and "close". Calls made
   before this script has loaded are queued by the stub

     window.SupportflowChat = window.SupportflowChat || function () {
       (window.SupportflowChat.q = window.SupportflowChat.q || []).push(arguments); };

   Plain JavaScript, no dependencies, no requests to anyone but the API this script came from.
   It renders in a shadow root, so the store's CSS cannot reach it. Text from the agent, a
   person or the shopper only ever reaches the page through textContent: it is never parsed
   as HTML. */
(() => {
  "use strict";

  const script =
    document.currentScript ||
    document.querySelector('script[data-chat-key][src*="widget.js"]');
  if (!script) return;
  const previous = window.SupportflowChat;
  if (previous && previous.loaded) return; // the tag twice on one page: one widget
  const KEY = (script.dataset.chatKey || "").trim();
  if (!/^sf_chat_[A-Za-z0-9_-]{1,128}$/.test(KEY)) {
    console.warn("supportflow chat: data-chat-key is missing or is not a chat key");
    return;
  }

  // The API is where this script came from (a path prefix included).
  const BASE = new URL(".", script.src);
  const WS_BASE = new URL(BASE.href);
  WS_BASE.protocol = BASE.protocol === "https:" ? "wss:" : "ws:";
  const HISTORY_KEPT = 50; // messages kept in this browser for the next page view
  const ACTIVE_MS = 24 * 3600 * 1000; // after a day quiet, no socket until the panel opens
  const MAX_CHARS = 4000; // within the API's 16 KiB per message, whatever the script

  // -- storage: this browser, this chat key; memory only where storage is refused -----------
  const NS = "supportflow:" + KEY + ":";
  const memory = new Map();
  const store = {
    get(name) {
      try {
        const v = window.localStorage.getItem(NS + name);
        if (v !== null) return v;
      } catch (_) { /* storage disabled: memory only */ }
      return memory.has(name) ? memory.get(name) : null;
    },
    set(name, value) {
      memory.set(name, value);
      try { window.localStorage.setItem(NS + name, value); } catch (_) { /* memory only */ }
    },
    remove(name) {
      memory.delete(name);
      try { window.localStorage.removeItem(NS + name); } catch (_) { /* memory only */ }
    },
  };
  function readJson(name, fallback) {
    try {
      const v = JSON.parse(store.get(name));
      return v === null || v === undefined ? fallback : v;
    } catch (_) {
      return fallback;
    }
  }
  function randomId(prefix) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  const isText = (v) => typeof v === "string" && v.length > 0;
  const ROLES = ["customer", "agent", "operator"];

  function loadState() {
    const history = readJson("history", []);
    const pending = readJson("pending", {});
    return {
      visitor: store.get("visitor"),
      // What was said, oldest first: {role, text, id?, seq?, failed?}.
      history: Array.isArray(history)
        ? history.filter((m) => m && ROLES.includes(m.role) && isText(m.text))
        : [],
      // The agent's and people's messages this browser has, by number: ask for later ones.
      lastSeq: Math.max(0, Number(store.get("seq")) || 0),
      // The shopper's messages not answered yet: message id -> {text, held?}.
      pending: pending && typeof pending === "object" && !Array.isArray(pending) ? pending : {},
      activeAt: Number(store.get("active")) || 0,
    };
  }
  let state = loadState();
  let identity = null; // the signed identity token: memory only, the page hands it over
  let disabled = false;
  let isOpen = false;
  let unread = 0;

  function save() {
    state.history = state.history.slice(-HISTORY_KEPT);
    store.set("history", JSON.stringify(state.history));
    store.set("seq", String(state.lastSeq));
    const pending = {};
    for (const [id, p] of Object.entries(state.pending)) pending[id] = { text: p.text, held: !!p.held };
    store.set("pending", JSON.stringify(pending));
    store.set("active", String(state.activeAt));
  }

  // -- the DOM: built with createElement and textContent, never from markup strings ---------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children); // strings become text nodes
    return node;
  }
  function icon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"
    );
    svg.append(path);
    return svg;
  }

  const CSS = `
/* !important on the host: the page's rules for it (say "* { color: red !important }")
   yield to these, which come from inside the shadow root. */
:host { all: initial !important; display: block !important; position: fixed !important;
  right: 20px !important; bottom: 20px !important; z-index: 2147483000 !important;
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif !important;
  color: #111827 !important; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; cursor: pointer; }
button:focus-visible, input:focus-visible, .log:focus-visible {
  outline: 3px solid #f59e0b; outline-offset: 2px; }
.launcher { position: relative; display: grid; place-items: center; width: 56px; height: 56px;
  margin-left: auto; border: 0; border-radius: 50%; background: #14532d; color: #fff;
  box-shadow: 0 4px 14px rgba(0, 0, 0, .25); }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px;
  padding: 0 5px; border-radius: 10px; background: #b91c1c; color: #fff; font-size: 12px;
  line-height: 20px; text-align: center; }
.panel { position: absolute; right: 0; bottom: 72px; display: flex; flex-direction: column;
  width: min(370px, calc(100vw - 40px)); height: min(540px, calc(100vh - 120px));
  overflow: hidden; border-radius: 12px; background: #fff;
  box-shadow: 0 8px 30px rgba(0, 0, 0, .25); }
.head { display: flex; align-items: center; justify-content: space-between; padding: 12px 16px;
  background: #14532d; color: #fff; }
h2 { margin: 0; font-size: 16px; font-weight: 600; }
.close { padding: 2px 8px; border: 0; border-radius: 4px; background: transparent;
  color: #fff; font-size: 22px; line-height: 1; }
.log { flex: 1; display: flex; flex-direction: column; gap: 8px; overflow-y: auto;
  padding: 12px; background: #f9fafb; }
.msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.customer { align-self: flex-end; border-bottom-right-radius: 4px; background: #14532d;
  color: #fff; }
.agent { align-self: flex-start; border-bottom-left-radius: 4px; background: #e5e7eb; }
.operator { align-self: flex-start; border-bottom-left-radius: 4px; background: #dcfce7; }
.operator::before { content: "Support team"; display: block; font-size: 12px;
  font-weight: 600; color: #166534; }
.holding { font-style: italic; }
.failed { opacity: .75; }
.error { align-self: stretch; max-width: 100%; background: #fee2e2; color: #7f1d1d;
  font-size: 14px; }
.error button { margin-left: 8px; padding: 2px 10px; border: 1px solid #7f1d1d;
  border-radius: 6px; background: #fff; color: #7f1d1d; }
.status { margin: 0; padding: 4px 16px; color: #4b5563; font-size: 13px; }
.dots span { animation: blink 1.2s infinite; }
.dots span:nth-child(2) { animation-delay: .2s; }
.dots span:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 80%, 100% { opacity: .2; } 40% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) { .dots span { animation: none; } }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; }
input { flex: 1; min-width: 0; padding: 8px 10px; border: 1px solid #6b7280;
  border-radius: 8px; background: #fff; color: #111827; font: inherit; }
.send { padding: 8px 14px; border: 0; border-radius: 8px; background: #14532d; color: #fff; }
.send:disabled { opacity: .5; cursor: default; }
.hint { margin: 0; padding: 0 12px 8px; color: #374151; font-size: 13px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
@media (max-width: 480px) {
  .panel { position: fixed; inset: 0; width: auto; height: auto; border-radius: 0; } }
`;

  // An element of its own name: a store's rules for div (or any other tag) do not match it.
  const host = el("supportflow-chat", { id: "supportflow-chat", "data-connection": "idle" });
  const root = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in root && "replaceSync" in CSSStyleSheet.prototype) {
    // A constructed sheet: no <style> element, so a page's Content-Security-Policy that
    // forbids inline styles does not stop it.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(el("style", { text: CSS }));
  }

  const badge = el("span", { class: "badge", "aria-hidden": "true", hidden: "" });
  const launcher = el(
    "button",
    { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "sf-panel",
      "aria-label": "Open chat" },
    icon(),
    badge
  );
  const closeButton = el("button", { class: "close", type: "button", "aria-label": "Close chat",
    text: "\u00d7" });
  const log = el("div", { id: "log", class: "log", role: "log", "aria-live": "polite",
    "aria-label": "Conversation", tabindex: "0" });
  const typing = el(
    "p",
    { class: "status typing", role: "status", hidden: "" },
    "The assistant is working on your message",
    el("span", { class: "dots", "aria-hidden": "true" }, el("span", { text: "." }),
      el("span", { text: "." }), el("span", { text: "." }))
  );
  const connection = el("p", { class: "status conn", role: "status", hidden: "" });
  const input = el("input", { id: "text", type: "text", autocomplete: "off",
    maxlength: String(MAX_CHARS), enterkeyhint: "send", placeholder: "Type your message" });
  const sendButton = el("button", { class: "send", type: "submit", text: "Send" });
  const hint = el("p", { id: "hint", class: "hint", hidden: "" });
  const form = el(
    "form",
    { id: "form" },
    el("label", { for: "text", class: "sr", text: "Message" }),
    input,
    sendButton
  );
  const panel = el(
    "section",
    { id: "sf-panel", class: "panel", role: "dialog", "aria-labelledby": "sf-title", hidden: "" },
    el("div", { class: "head" }, el("h2", { id: "sf-title", text: "Chat with us" }), closeButton),
    log,
    typing,
    connection,
    form,
    hint
  );
  root.append(panel, launcher);

  // -- what is shown --------------------------------------------------------------------------
  const answered = new Map(); // the shopper's message id -> the reply text shown for it
  const seen = new Set(); // numbers of the agent's and people's messages shown
  const bubbles = new Map(); // the shopper's message id -> its bubble

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function render(m) {
    const bubble = el("div", { class: `msg ${m.role}${m.holding ? " holding" : ""}`, text: m.text });
    log.append(bubble);
    if (m.role === "customer" && m.id) {
      bubbles.set(m.id, bubble);
      if (m.failed) showFailure(m.id, m.failed);
    }
    scrollDown();
  }

  function remember(m) {
    if (m.seq) seen.add(m.seq);
    if (m.role === "agent" && m.id && !m.holding) answered.set(m.id, m.text);
  }

  function addMessage(m) {
    remember(m);
    render(m);
    if (!m.holding) state.history.push(m);
    state.activeAt = Date.now();
    save();
    if (m.role !== "customer") {
      suggestInput(m.text);
      if (!isOpen) {
        unread += 1;
        showUnread();
      }
    }
  }

  function showUnread() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    const news = unread === 1 ? "1 new message" : `${unread} new messages`;
    launcher.setAttribute(
      "aria-label",
      isOpen ? "Close chat" : unread ? `Open chat, ${news}` : "Open chat"
    );
  }

  // After the agent asks for the one-time code (or an email address), the keyboard a phone
  // shows fits the answer: digits, with the code the OS read from the mail offered.
  function suggestInput(text) {
    const code =
      /\bcode\b/i.test(text) &&
      /\b(type|enter)\b|doesn['\u2019]t match|on its way/i.test(text);
    const email = !code && /\bemail address\b/i.test(text) && text.includes("?");
    input.setAttribute("inputmode", code ? "numeric" : email ? "email" : "text");
    input.setAttribute("autocomplete", code ? "one-time-code" : email ? "email" : "off");
    input.placeholder = code ? "6-digit code" : email ? "Your email address" : "Type your message";
    hint.textContent = code ? "Type the code from the email we sent you." : "";
    hint.hidden = !code;
    if (code) input.setAttribute("aria-describedby", "hint");
    else input.removeAttribute("aria-describedby");
  }

  function updateTyping() {
    typing.hidden = Object.keys(state.pending).length === 0;
    if (!typing.hidden) scrollDown();
  }

  let everOpen = false; // a socket was open on this page: a later "connecting" is a reconnect
  function setConnection(value) {
    host.dataset.connection = value;
    if (value === "open") everOpen = true;
    if (value === "idle") everOpen = false;
    const down = value === "closed" || (value === "connecting" && everOpen);
    const trouble = down && hasConversation();
    connection.textContent = trouble ? "Connection lost. Reconnecting\u2026" : "";
    connection.hidden = !trouble;
  }

  function renderHistory() {
    log.replaceChildren();
    answered.clear();
    seen.clear();
    bubbles.clear();
    for (const m of state.history) {
      remember(m);
      render(m);
    }
    const last = [...state.history].reverse().find((m) => m.role !== "customer");
    if (last) suggestInput(last.text);
    updateTyping();
  }

  // -- failures -------------------------------------------------------------------------------
  function failureText(status, retryAfter) {
    if (status === 401) return "We couldn't confirm you're signed in. Please reload the page and try again.";
    if (status === 413) return "That message is too long to send.";
    if (status === 429) {
      return `Too many messages. Please wait ${retryAfter || 60} seconds, then try again.`;
    }
    return "That message could not be sent.";
  }

  function showFailure(id, text) {
    const bubble = bubbles.get(id);
    if (!bubble) return;
    bubble.classList.add("failed");
    const retry = el("button", { type: "button", text: "Retry" });
    const note = el("div", { class: "msg error", role: "alert" }, text, retry);
    retry.addEventListener("click", () => {
      note.remove();
      bubble.classList.remove("failed");
      const m = state.history.find((h) => h.id === id);
      if (!m) return;
      delete m.failed;
      state.pending[id] = { text: m.text };
      save();
      updateTyping();
      transmit(id);
      input.focus();
    });
    bubble.after(note);
    scrollDown();
  }

  function onFailure(id, status, retryAfter) {
    if (!id || !state.pending[id]) return;
    if (!status || status >= 500) {
      // The agent is unavailable for now: the message stays pending and is sent again.
      state.pending[id].at = Date.now();
      return;
    }
    const text = failureText(status, retryAfter);
    delete state.pending[id];
    const m = state.history.find((h) => h.id === id);
    if (m) m.failed = text;
    save();
    updateTyping();
    showFailure(id, text);
  }

  function disable(text) {
    disabled = true;
    input.disabled = true;
    sendButton.disabled = true;
    hint.textContent = text;
    hint.hidden = false;
    if (ws) ws.close();
  }

  // -- replies and later messages ---------------------------------------------------------------
  function onReply(id, text) {
    if (state.pending[id]) delete state.pending[id];
    save();
    updateTyping();
    // No text: a person holds the conversation and answers through the updates.
    if (!isText(text) || answered.get(id) === text) return;
    addMessage({ role: "agent", text, id });
  }

  function onHolding(id, holding) {
    const p = state.pending[id];
    if (!p || p.held) return;
    p.held = true;
    save();
    // What the API says to show meanwhile: the message is safe and will be answered.
    if (isText(holding)) addMessage({ role: "agent", text: holding, id, holding: true });
  }

  // Something the agent or a person said (a reply, a person's answer, an approval's outcome),
  // pushed on the socket or polled: each shown once, by its number, and a reply once
  // whether it came as an answer or as an update.
  function onUpdate(m) {
    if (!m || typeof m.seq !== "number" || !isText(m.text)) return;
    state.lastSeq = Math.max(state.lastSeq, m.seq);
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    if (m.role === "operator") {
      addMessage({ role: "operator", text: m.text, id: m.message_id, seq: m.seq });
      return;
    }
    if (m.message_id && state.pending[m.message_id]) {
      delete state.pending[m.message_id];
      updateTyping();
    }
    if (answered.get(m.message_id) === m.text) return;
    addMessage({ role: "agent", text: m.text, id: m.message_id, seq: m.seq });
  }

  // -- the API over HTTP ------------------------------------------------------------------------
  async function call(method, path, body) {
    const init = { method, headers: { "X-Chat-Key": KEY }, credentials: "omit",
      cache: "no-store", mode: "cors" };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(new URL(path, BASE), init);
    let data = {};
    try { data = await r.json(); } catch (_) { /* no body */ }
    return { status: r.status, data: data || {}, retryAfter: Number(r.headers.get("Retry-After")) || 0 };
  }

  function frame(id) {
    const f = { message_id: id, text: state.pending[id].text };
    if (identity) f.identity_token = identity;
    return f;
  }

  async function postOverHttp(id) {
    const p = state.pending[id];
    if (!p || p.posting) return;
    p.posting = true;
    p.at = Date.now();
    try {
      const r = await call("POST", "v1/chat/messages", { visitor_id: state.visitor, ...frame(id) });
      if (r.status === 200) onReply(id, r.data.reply);
      else if (r.status === 202) onHolding(id, r.data.holding);
      else if (r.status === 401 && !identity) disable("The chat is not available on this page.");
      else onFailure(id, r.status, r.retryAfter);
    } catch (_) {
      // The network: sent again when the socket reopens, or by the poll.
      if (state.pending[id]) state.pending[id].lost = true;
    } finally {
      if (state.pending[id]) {
        state.pending[id].posting = false;
        state.pending[id].at = Date.now();
      }
    }
  }

  // -- the WebSocket: replies and later messages pushed; reconnects with back-off --------------
  let ws = null;
  let wsAttempts = 0;
  let wsTimer = null;
  let wsOpenedAt = 0;
  let wsFloor = 0; // the least wait before the next attempt (longer after a refusal)
  let viaSocket = []; // ids sent on the socket, each answered (reply or error) in order
  let outbox = []; // ids waiting for the socket to open

  const socketOpen = () => ws !== null && ws.readyState === WebSocket.OPEN;

  function connect() {
    if (disabled || !state.visitor || ws || wsTimer) return;
    const url = new URL("v1/chat/stream", WS_BASE);
    url.searchParams.set("chat_key", KEY);
    url.searchParams.set("visitor_id", state.visitor);
    url.searchParams.set("after", String(state.lastSeq));
    setConnection("connecting");
    let sock;
    try {
      sock = new WebSocket(url.href);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = () => {
      wsOpenedAt = Date.now();
      setConnection("open");
      const waiting = outbox;
      outbox = [];
      waiting.forEach(transmit);
      // Sent while the connection was down: again now (the same id, so answered once).
      for (const [id, p] of Object.entries(state.pending)) {
        if (p.lost && !p.posting && !waiting.includes(id)) transmit(id);
      }
    };
    sock.onmessage = (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (_) { return; }
      if (data && typeof data === "object") onFrame(data);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      // What the socket took and did not answer is asked for (and sent again if it never
      // arrived: the same message id, so never twice) by the poll, now.
      for (const id of viaSocket) {
        if (state.pending[id]) Object.assign(state.pending[id], { at: 0, lost: true });
      }
      viaSocket = [];
      const waiting = outbox;
      outbox = [];
      waiting.forEach(postOverHttp);
      if (wsOpenedAt && Date.now() - wsOpenedAt > 10000) wsAttempts = 0; // it was healthy
      wsOpenedAt = 0;
      if (ev.code === 1008) wsFloor = 30000; // refused (rate limit): wait a while
      setConnection("closed");
      scheduleReconnect();
      pollSoon();
    };
  }

  function scheduleReconnect() {
    if (disabled || wsTimer || !live()) return;
    // Exponential back-off with jitter: 0.5 s, 1 s, 2 s ... up to 30 s, so a restarted API
    // is not met by every open page at once.
    const ceiling = Math.min(30000, 500 * 2 ** wsAttempts);
    const delay = Math.max(wsFloor, ceiling / 2 + (Math.random() * ceiling) / 2);
    wsAttempts += 1;
    wsFloor = 0;
    wsTimer = setTimeout(() => {
      wsTimer = null;
      connect();
    }, delay);
  }

  function onFrame(data) {
    if (data.type === "reply") {
      viaSocket = viaSocket.filter((id) => id !== data.message_id);
      if (data.status === "answered") onReply(data.message_id, data.reply);
      else onHolding(data.message_id, data.holding);
    } else if (data.type === "message") {
      onUpdate(data);
      save();
    } else if (data.type === "error") {
      // An error names its message, or answers the oldest one the socket has not answered.
      let id = data.message_id;
      if (id) viaSocket = viaSocket.filter((x) => x !== id);
      else id = viaSocket.shift();
      onFailure(id, data.status, data.retry_after);
    }
  }

  function transmit(id) {
    const p = state.pending[id];
    if (!p) return;
    p.at = Date.now();
    p.lost = false;
    if (socketOpen()) {
      ws.send(JSON.stringify(frame(id)));
      viaSocket.push(id);
      return;
    }
    connect();
    if (ws && ws.readyState === WebSocket.CONNECTING) {
      outbox.push(id);
      // A socket that will not open in a few seconds: send over HTTP instead.
      setTimeout(() => {
        if (!outbox.includes(id)) return;
        outbox = outbox.filter((x) => x !== id);
        postOverHttp(id);
      }, 4000);
      return;
    }
    postOverHttp(id);
  }

  // -- the poll: the safety net under the socket, and the only channel while it is down ---------
  let pollTimer = null;
  let polling = false;
  let pollFailures = 0;

  function hasConversation() {
    return !!state.visitor && (state.history.length > 0 || state.lastSeq > 0 ||
      Object.keys(state.pending).length > 0);
  }
  function live() {
    return hasConversation() && (isOpen || Object.keys(state.pending).length > 0 ||
      Date.now() - state.activeAt < ACTIVE_MS);
  }

  function schedulePoll(delay) {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, delay);
  }
  function pollSoon() {
    if (!polling) schedulePoll(300);
  }

  async function poll() {
    pollTimer = null;
    if (disabled || !hasConversation()) return;
    polling = true;
    let delay = socketOpen() ? 10000 : 3000;
    try {
      const visitor = encodeURIComponent(state.visitor);
      const r = await call("GET", `v1/chat/updates?visitor_id=${visitor}&after=${state.lastSeq}`);
      if (r.status === 200 && Array.isArray(r.data.messages)) {
        r.data.messages.forEach(onUpdate);
        state.lastSeq = Math.max(state.lastSeq, Number(r.data.last_seq) || 0);
        save();
      } else if (r.status === 401) {
        disable("The chat is not available on this page.");
        return;
      } else if (r.status === 429) {
        delay = Math.max(delay, (r.retryAfter || 15) * 1000);
      }
      await checkPending();
      pollFailures = 0;
    } catch (_) {
      pollFailures += 1;
      delay = Math.min(30000, 3000 * 2 ** pollFailures);
    } finally {
      polling = false;
    }
    if (document.hidden) delay *= 3;
    if (live()) {
      schedulePoll(delay);
      if (!ws) connect();
    }
  }

  // A reply not pushed: ask for it. Not found means the message never arrived (it went
  // down with a socket): send it again, same id, which the agent answers once.
  async function checkPending() {
    const wait = socketOpen() ? 15000 : 4000;
    for (const id of Object.keys(state.pending)) {
      const p = state.pending[id];
      if (!p || p.posting || outbox.includes(id) || Date.now() - (p.at || 0) < wait) continue;
      p.at = Date.now();
      const visitor = encodeURIComponent(state.visitor);
      const r = await call("GET", `v1/chat/messages/${encodeURIComponent(id)}?visitor_id=${visitor}`);
      if (r.status === 200) onReply(id, r.data.reply);
      else if (r.status === 202) onHolding(id, r.data.holding);
      else if (r.status === 404) transmit(id);
      else if (r.status === 429) break;
    }
  }

  // -- sending ----------------------------------------------------------------------------------
  function send(text) {
    if (!state.visitor) {
      state.visitor = randomId("v-");
      store.set("visitor", state.visitor);
    }
    const id = randomId("m-");
    state.pending[id] = { text };
    addMessage({ role: "customer", text, id });
    updateTyping();
    transmit(id);
    if (pollTimer === null && !polling) schedulePoll(3000);
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || disabled) return;
    input.value = "";
    send(text);
  });

  // -- opening and closing ----------------------------------------------------------------------
  function setOpen(open, focus = true) {
    isOpen = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      unread = 0;
      scrollDown();
      if (focus) input.focus();
      if (hasConversation()) {
        connect();
        if (pollTimer === null && !polling) schedulePoll(0);
      }
    } else if (focus) {
      launcher.focus();
    }
    showUnread();
  }
  launcher.addEventListener("click", () => setOpen(!isOpen));
  closeButton.addEventListener("click", () => setOpen(false));
  root.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && isOpen) {
      ev.stopPropagation();
      setOpen(false);
    }
  });
  window.addEventListener("online", () => {
    if (wsTimer) {
      clearTimeout(wsTimer);
      wsTimer = null;
    }
    wsAttempts = 0;
    connect();
    pollSoon();
  });

  // -- who the shopper is -------------------------------------------------------------------------
  // Only to notice another shopper signing in on this browser (not to trust: the API checks
  // the token's signature): a short fingerprint of the token's subject, kept with the history.
  function subjectOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
      return `${claims.sub || ""}|${claims.email || ""}`;
    } catch (_) {
      return null;
    }
  }
  function fingerprint(text) {
    let h = 0x811c9dc5; // FNV-1a
    for (let i = 0; i < text.length; i += 1) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(16);
  }

  function identify(token) {
    const subject = isText(token) ? subjectOf(token) : null;
    if (subject === null) {
      console.warn("supportflow chat: identify() needs the identity token your server signed");
      return;
    }
    const who = fingerprint(subject);
    const before = store.get("who");
    if (before && before !== who) reset(); // not this shopper's conversation
    store.set("who", who);
    identity = token;
  }

  // The shopper signed out: forget the conversation in this browser (a new visitor next).
  function reset() {
    if (ws) {
      const old = ws;
      ws = null;
      old.close();
    }
    if (wsTimer) {
      clearTimeout(wsTimer);
      wsTimer = null;
    }
    if (pollTimer !== null) {
      clearTimeout(pollTimer);
      pollTimer = null;
    }
    viaSocket = [];
    outbox = [];
    identity = null;
    for (const name of ["visitor", "history", "seq", "pending", "active", "who"]) store.remove(name);
    state = loadState();
    unread = 0;
    showUnread();
    renderHistory();
    setConnection("idle");
  }

  // -- start ---------------------------------------------------------------------------------------
  const api = function (command, ...args) {
    const fn = api[command];
    if (typeof fn === "function" && ["identify", "open", "close", "reset"].includes(command)) {
      return fn(...args);
    }
    console.warn("supportflow chat: unknown command", String(command));
    return undefined;
  };
  api.loaded = true;
  api.identify = identify;
  api.open = () => setOpen(true);
  api.close = () => setOpen(false, false);
  api.reset = reset;

  // Who the shopper is comes first: another shopper's history is dropped before it is shown.
  window.SupportflowChat = api;
  if (script.dataset.identityToken) identify(script.dataset.identityToken);
  for (const args of previous && Array.isArray(previous.q) ? previous.q : []) {
    api(...Array.from(args));
  }

  function start() {
    renderHistory();
    document.body.append(host);
    if (script.dataset.open === "true" && !isOpen) setOpen(true, false);
    if (live()) {
      connect();
      schedulePoll(0);
    }
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
