// supportflow console: the one script of the console pages. Plain JavaScript, no build step.
// Every action goes through the JSON API with the session cookie and the CSRF header; the
// server checks permissions, this script only hides what a role cannot use. Text from
// customers, agents and settings is always put in the page as text, never as markup.
(() => {
  "use strict";

  const body = document.body;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const me = {
    tenantId: body.dataset.tenantId || "",
    operatorId: body.dataset.operatorId || "",
    role: body.dataset.role || "",
  };

  // ---------------------------------------------------------------- DOM helpers
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);

  function showError(box, message) {
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  let toastTimer = null;
  function toast(message, kind) {
    const box = $("toast");
    if (!box) return;
    box.textContent = message;
    box.className = "toast" + (kind === "error" ? " toast-error" : "");
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
  }

  // ---------------------------------------------------------------- formatting
  function fmtDuration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
    const hrs = Math.floor(m / 60);
    if (hrs < 48) return `${hrs}h ${String(m % 60).padStart(2, "0")}m`;
    return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
  }
  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
      : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function fmtAgo(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return fmtDuration((Date.now() - d.getTime()) / 1000) + " ago";
  }
  function fmtMoney(amount) {
    if (amount === null || amount === undefined || amount === "") return "—";
    const n = Number(amount);
    return Number.isFinite(n)
      ? n.toLocaleString([], { minimumFractionDigits: 2, maximumFractionDigits: 2 })
      : String(amount);
  }
  function personName(user) {
    const n = user.name;
    if (typeof n === "string") return n;
    if (n && typeof n === "object") return [n.first_name, n.last_name].filter(Boolean).join(" ");
    return [user.first_name, user.last_name].filter(Boolean).join(" ");
  }
  function orderTotal(o) {
    if (o.total !== undefined && o.total !== null) return o.total;
    if (!Array.isArray(o.items)) return null;
    return o.items.reduce((sum, i) => sum + (Number(i.price) || 0), 0);
  }
  function sentence(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }
  function humanise(word) {
    return String(word || "").replace(/_/g, " ");
  }
  const REASONS = { handoff: "Handoff", approval: "Approval", stuck: "Stuck", sla: "SLA breach" };
  function reasonBadge(reason) {
    const known = Object.hasOwn(REASONS, reason);
    return h("span", { class: `badge badge-${known ? reason : "muted"}` }, known ? REASONS[reason] : humanise(reason));
  }
  function holderText(heldBy) {
    if (!heldBy) return "Unclaimed";
    return heldBy === me.operatorId ? "You" : heldBy;
  }

  // ---------------------------------------------------------------- the API
  function goToLogin() {
    const next = location.pathname + location.search;
    location.assign(`/console/login?next=${encodeURIComponent(next)}`);
  }

  // Returns {ok, status, data}; a network failure is status 0. A 401 (the session ended)
  // sends the operator to the sign-in page, back here after.
  async function api(method, path, payload) {
    const headers = { Accept: "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrfMeta) headers["X-CSRF-Token"] = csrfMeta.content;
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        cache: "no-store",
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "Cannot reach the server. Check your connection." } };
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = { detail: text.slice(0, 300) }; }
    }
    if (res.status === 401 && body.dataset.page !== "login") {
      goToLogin();
    }
    return { ok: res.ok, status: res.status, data };
  }

  // A readable sentence from an error answer (a string detail, or FastAPI's field list).
  function errorText(res, fallback) {
    const detail = res && res.data ? res.data.detail : null;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((e) => {
        const loc = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : "";
        return loc ? `${loc}: ${e.msg}` : e.msg;
      }).join("\n");
    }
    if (res && res.status === 0) return "Cannot reach the server. Check your connection.";
    return fallback || `Something went wrong (HTTP ${res ? res.status : "?"}).`;
  }

  // Runs fn now and then every `ms` after each run ends (never two at once); paused while
  // the tab is hidden, resumed at once when it shows again.
  function every(ms, fn) {
    let timer = null;
    let running = false;
    async function tick() {
      clearTimeout(timer);
      if (running) return;
      running = true;
      try { await fn(); } finally {
        running = false;
        if (!document.hidden) timer = setTimeout(tick, ms);
      }
    }
    document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
    tick();
    return { now: tick };
  }

  // ---------------------------------------------------------------- every signed-in page
  function setupChrome() {
    const logout = $("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        logout.disabled = true;
        await api("POST", "/v1/auth/logout");
        location.assign("/console/login");
      });
    }
  }

  // ---------------------------------------------------------------- login
  function loginPage() {
    const form = $("login-form");
    const tenant = $("login-tenant");
    const email = $("login-email");
    const password = $("login-password");
    const error = $("login-error");
    const submit = $("login-submit");
    if (!tenant.value) tenant.value = localStorage.getItem("sf_console_tenant") || "";
    (tenant.value ? email : tenant).focus();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError(error, "");
      for (const [input, name] of [[tenant, "your tenant ID"], [email, "your email"], [password, "your password"]]) {
        if (!input.value.trim()) {
          showError(error, `Enter ${name}.`);
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        input.removeAttribute("aria-invalid");
      }
      submit.disabled = true;
      submit.textContent = "Signing in…";
      const res = await api("POST", "/v1/auth/login", {
        tenant_id: tenant.value.trim(), email: email.value.trim(), password: password.value,
      });
      if (res.ok) {
        localStorage.setItem("sf_console_tenant", tenant.value.trim());
        location.assign(form.dataset.next || "/console/inbox");
        return;
      }
      submit.disabled = false;
      submit.textContent = "Sign in";
      if (res.status === 401) showError(error, "Wrong email or password.");
      else if (res.status === 429) showError(error, errorText(res, "Too many attempts. Wait a few minutes and try again."));
      else if (res.status === 422) showError(error, "Check the tenant ID, email and password.");
      else showError(error, errorText(res));
      password.value = "";
      password.focus();
    });
  }

  // ---------------------------------------------------------------- inbox
  function inboxDetail(item) {
    const a = item.approval;
    const parts = [];
    if (a) {
      parts.push(`${humanise(a.action)} ${a.order_id || ""}`.trim() + (a.amount !== null && a.amount !== undefined ? ` · ${fmtMoney(a.amount)}` : ""));
      if (a.escalated) parts.push("escalated");
    }
    if (item.detail) parts.push(item.detail);
    if (Array.isArray(item.sla_breaches) && item.sla_breaches.length) {
      parts.push("SLA: " + item.sla_breaches.map((b) => humanise(typeof b === "string" ? b : b.kind || b.timer || "breach")).join(", "));
    }
    return parts.join(" — ");
  }

  // Routing (issue 14): who the management agent gave the line to; anyone may still claim it.
  function assigneeCell(item) {
    if (!item.assigned_to) return h("span", { class: "muted" }, "—");
    if (item.assigned_to === me.operatorId) return h("span", { class: "badge badge-ok" }, "You");
    return h("span", { class: "badge", title: item.assigned_to }, item.assigned_email || item.assigned_to);
  }

  function inboxPage() {
    const form = $("inbox-filters");
    const rows = $("inbox-rows");
    const table = $("inbox-table");
    const empty = $("inbox-empty");
    const emptyText = $("inbox-empty-text");
    const loading = $("inbox-loading");
    const status = $("inbox-status");
    const fields = {
      reason: $("f-reason"), channel: $("f-channel"), q: $("f-q"),
      unclaimed: $("f-unclaimed"), mine: $("f-mine"), assigned: $("f-assigned"),
    };
    const defaultEmpty = emptyText.textContent;
    // The filters live in the URL, so a reload or a shared link keeps them.
    const initial = new URLSearchParams(location.search);
    fields.reason.value = initial.get("reason") || "";
    fields.channel.value = initial.get("channel") || "";
    fields.q.value = initial.get("q") || "";
    fields.unclaimed.checked = initial.get("unclaimed") === "true";
    fields.mine.checked = initial.get("mine") === "true";
    fields.assigned.checked = initial.get("assigned_to_me") === "true";

    function query() {
      const q = new URLSearchParams();
      if (fields.reason.value) q.set("reason", fields.reason.value);
      if (fields.channel.value) q.set("channel", fields.channel.value);
      if (fields.q.value.trim()) q.set("q", fields.q.value.trim());
      if (fields.unclaimed.checked) q.set("unclaimed", "true");
      if (fields.mine.checked) q.set("mine", "true");
      if (fields.assigned.checked) q.set("assigned_to_me", "true");
      return q;
    }
    let fetchedAt = Date.now();
    let items = [];

    function render() {
      rows.replaceChildren(...items.map((item) => {
        const href = `/console/conversations/${encodeURIComponent(item.customer_id)}`;
        const waitingCell = h("td", { class: "waiting", dataset: { seconds: item.waiting_seconds ?? "" } }, fmtDuration(item.waiting_seconds || 0));
        return h("tr", { class: "clickable", dataset: { href, customerId: item.customer_id } },
          h("td", null, reasonBadge(item.reason), (item.approval && item.approval.escalated) || item.escalated_at ? [" ", h("span", { class: "badge badge-sla" }, "Escalated")] : null),
          h("td", null, h("a", { class: "cell-link mono", href }, item.customer_id)),
          h("td", null, humanise(item.channel || "—")),
          waitingCell,
          h("td", null, item.held_by ? h("span", { class: item.held_by === me.operatorId ? "badge badge-ok" : "badge" }, holderText(item.held_by)) : h("span", { class: "muted" }, "Unclaimed")),
          h("td", { class: "assignee" }, assigneeCell(item)),
          h("td", { class: "detail" }, inboxDetail(item)),
        );
      }));
      table.hidden = items.length === 0;
      empty.hidden = items.length !== 0;
      const filtered = [...query().keys()].length > 0;
      emptyText.textContent = filtered ? "Nothing matches these filters." : defaultEmpty;
    }

    async function load() {
      const q = query();
      const res = await api("GET", `/v1/inbox?${q.toString()}${q.toString() ? "&" : ""}limit=200`);
      loading.hidden = true;
      if (!res.ok) {
        status.textContent = `Could not load the inbox: ${errorText(res)}`;
        return;
      }
      items = Array.isArray(res.data.items) ? res.data.items : [];
      fetchedAt = Date.now();
      render();
      const n = items.length;
      status.textContent = n === 0 ? "Nothing waiting" : `${n} conversation${n === 1 ? "" : "s"} waiting`;
    }
    const poller = every(4000, load);

    let debounce = null;
    function changed() {
      history.replaceState(null, "", `${location.pathname}${query().toString() ? "?" + query().toString() : ""}`);
      clearTimeout(debounce);
      debounce = setTimeout(poller.now, 250);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); poller.now(); });
    rows.addEventListener("click", (ev) => {
      if (ev.target.closest("a")) return;
      const row = ev.target.closest("tr[data-href]");
      if (row) location.assign(row.dataset.href);
    });
    // Waiting times tick between fetches.
    setInterval(() => {
      const extra = (Date.now() - fetchedAt) / 1000;
      for (const cell of rows.querySelectorAll("td.waiting")) {
        const base = Number(cell.dataset.seconds);
        if (Number.isFinite(base)) cell.textContent = fmtDuration(base + extra);
      }
    }, 1000);
  }

  // ---------------------------------------------------------------- conversation
  function conversationPage() {
    const customerId = $("conversation").dataset.customerId;
    const base = `/v1/conversations/${encodeURIComponent(customerId)}`;
    const transcript = $("transcript");
    const transcriptEmpty = $("transcript-empty");
    const holder = $("convo-holder");
    const banner = $("handover-banner");
    const error = $("convo-error");
    const claim = $("claim");
    const takeOver = $("take-over");
    const release = $("release");
    const temporal = $("temporal-link");
    const form = $("reply-form");
    const text = $("reply-text");
    const send = $("reply-send");
    const seen = new Set();
    let current = null;
    let busy = false;

    function entryNode(e) {
      const role = ["customer", "agent", "operator"].includes(e.role) ? e.role : "agent";
      const who = e.author === me.operatorId ? "you" : e.author;
      return h("li", { class: `entry entry-${role}`, dataset: { seq: e.seq, role } },
        h("span", { class: "entry-meta" },
          h("span", { class: "role-tag" }, role === "operator" ? "Operator" : role === "agent" ? "Agent" : "Customer"),
          role === "operator" && who ? h("span", null, `· ${who}`) : null,
          e.channel ? h("span", null, `· ${humanise(e.channel)}`) : null,
          e.at ? h("time", { datetime: e.at, title: new Date(e.at).toLocaleString() }, `· ${fmtTime(e.at)}`) : null,
        ),
        h("span", { class: "entry-text" }, e.text || ""),
      );
    }

    function addEntries(entries) {
      const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
      let added = 0;
      for (const e of entries.slice().sort((a, b) => a.seq - b.seq)) {
        // Entries recorded before numbering all have seq 0: those are told apart by message.
        const key = e.seq ? `s${e.seq}` : `m${e.message_id}:${e.role}:${e.at}`;
        if (seen.has(key)) continue;
        seen.add(key);
        transcript.append(entryNode(e));
        added += 1;
      }
      transcriptEmpty.hidden = seen.size > 0;
      if (added && (atBottom || added === seen.size)) transcript.scrollTop = transcript.scrollHeight;
    }

    function renderState(c) {
      current = c;
      const mine = c.held_by && c.held_by === me.operatorId;
      if (c.held_by) holder.textContent = mine ? "You hold this conversation: the agent will not answer on its own." : `Held by ${c.held_by}.`;
      else holder.textContent = c.handover ? "Waiting for a person. Claim it to reply." : "The agent is handling this conversation.";
      if (claim) claim.hidden = Boolean(c.held_by);
      if (takeOver) takeOver.hidden = !(c.held_by && !mine);
      release.hidden = !mine;
      text.disabled = !mine;
      send.disabled = !mine || busy;
      text.placeholder = mine ? "Write to the customer…" : c.held_by ? "Another operator holds this conversation" : "Claim the conversation to reply";
      if (c.temporal_url) { temporal.href = c.temporal_url; temporal.hidden = false; }
      const ho = c.handover;
      if (ho) {
        const breaches = Array.isArray(ho.breaches) && ho.breaches.length;
        banner.className = "banner" + (breaches ? " banner-sla" : "");
        banner.replaceChildren(
          h("span", null, reasonBadge(breaches ? "sla" : ho.reason), " ",
            ho.detail && ho.detail !== ho.reason ? `${humanise(ho.detail)} · ` : "",
            breaches ? `late: ${ho.breaches.map(humanise).join(", ")} · ` : "",
            ho.since ? `waiting since ${fmtTime(ho.since)} (${fmtAgo(ho.since)})` : "",
            ho.first_response_at ? ` · first answer ${fmtTime(ho.first_response_at)}` : ""),
        );
        banner.hidden = false;
      } else {
        banner.hidden = true;
      }
      renderCases(c.cases || [], c.open_case);
      renderApprovals(c.approvals || []);
      renderActions(c.actions || []);
    }

    function renderActions(actions) {
      const box = $("convo-actions");
      if (!actions.length) { box.replaceChildren(h("p", { class: "muted" }, "No actions yet.")); return; }
      box.replaceChildren(h("ul", { class: "mini-list" }, actions.map((a) => {
        const who = a.actor_kind === "agent" ? "the agent"
          : a.actor_id === me.operatorId ? "you" : `${humanise(a.actor_kind)} ${a.actor_id}`;
        return h("li", null,
          h("div", { class: "line" }, h("strong", null, sentence(humanise(a.action.replace(".", " ")))),
            a.target ? h("span", { class: "small mono" }, a.target) : null),
          h("div", { class: "small muted" }, `${fmtTime(a.at)} · by ${who}`),
        );
      })));
    }

    function renderCases(cases, open) {
      const box = $("cases");
      if (!cases.length) { box.replaceChildren(h("p", { class: "muted" }, "No cases yet.")); return; }
      const now = open ? h("p", { class: "small", id: "open-case" },
        h("strong", null, "Now: "),
        `${humanise(open.procedure)}${open.order_id ? " " + open.order_id : ""} — ${humanise(open.step)}`,
        open.awaiting ? ` (waiting for ${humanise(open.awaiting)})` : "") : null;
      box.replaceChildren(now || "", h("ul", { class: "mini-list" }, cases.map((c) => {
        const title = sentence(humanise(c.procedure || c.kind || c.intent || c.action || "case"));
        const steps = Array.isArray(c.steps) ? c.steps : [];
        return h("li", null,
          h("div", { class: "line" }, h("strong", null, title), c.status ? h("span", { class: "badge" }, humanise(c.status)) : null),
          c.case_id ? h("div", { class: "muted small mono wrap-anywhere", title: c.case_id }, c.case_id.split("/").slice(-2).join("/")) : null,
          c.order_id ? h("div", { class: "small" }, `Order ${c.order_id}`) : null,
          c.reason ? h("div", { class: "small muted" }, humanise(c.reason)) : null,
          steps.length ? h("ol", { class: "small" }, steps.map((s) => h("li", null,
            typeof s === "string" ? s : `${humanise(s.name || s.step || s.action || "step")}${s.status ? " — " + humanise(s.status) : ""}`))) : null,
        );
      })));
    }

    function renderApprovals(approvals) {
      const box = $("convo-approvals");
      if (!approvals.length) { box.replaceChildren(h("p", { class: "muted" }, "No approval requests.")); return; }
      box.replaceChildren(h("ul", { class: "mini-list" }, approvals.map((a) => h("li", null,
        h("div", { class: "line" },
          h("strong", null, sentence(`${humanise(a.action)} ${a.order_id || ""}`.trim())),
          h("span", { class: `badge ${a.status === "pending" ? "badge-approval" : a.status === "approved" ? "badge-ok" : "badge-muted"}` }, humanise(a.status))),
        h("div", { class: "small" }, `Amount ${fmtMoney(a.amount)} · requested ${fmtAgo(a.requested_at)}`),
        a.decided_by ? h("div", { class: "small muted" }, `Decided by ${a.decided_by === me.operatorId ? "you" : a.decided_by}${a.note ? `: “${a.note}”` : ""}`) : null,
        a.status === "pending" ? h("a", { class: "small", href: `/console/approvals#${encodeURIComponent(a.approval_id)}` }, "Decide in Approvals") : null,
      ))));
    }

    function renderProfile(p) {
      const user = p.user;
      const profile = $("profile");
      if (!user) {
        profile.replaceChildren(h("p", { class: "muted" }, "Not linked to a store account (the customer has not proved who they are)."));
      } else {
        const name = personName(user);
        if (name) $("convo-name").textContent = name;
        const facts = [];
        if (name) facts.push(["Name", name]);
        const preferred = ["email", "phone", "user_id", "id"];
        const keys = Object.keys(user).filter((k) => user[k] !== null && typeof user[k] !== "object" && k !== "name");
        keys.sort((a, b) => (preferred.indexOf(a) + 1 || 99) - (preferred.indexOf(b) + 1 || 99));
        for (const k of keys.slice(0, 8)) facts.push([humanise(k), String(user[k])]);
        const address = user.address && typeof user.address === "object"
          ? [user.address.city, user.address.state, user.address.country].filter(Boolean).join(", ") : "";
        if (address) facts.push(["Location", address]);
        profile.replaceChildren(h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])));
      }
      const orders = $("orders");
      const list = Array.isArray(p.orders) ? p.orders : [];
      if (!list.length) { orders.replaceChildren(h("p", { class: "muted" }, "No orders.")); return; }
      orders.replaceChildren(h("ul", { class: "mini-list" }, list.map((o) => h("li", null,
        h("div", { class: "line" }, h("strong", { class: "mono" }, o.order_id), h("span", { class: "badge" }, humanise(o.status))),
        h("div", { class: "small muted" }, `${Array.isArray(o.items) ? o.items.length : 0} item${Array.isArray(o.items) && o.items.length === 1 ? "" : "s"} · total ${fmtMoney(orderTotal(o))}`),
      ))));
    }

    async function load() {
      const res = await api("GET", base);
      if (!res.ok) {
        if (res.status === 404) holder.textContent = "No conversation with this customer.";
        else showError(error, `Could not load the conversation: ${errorText(res)}`);
        return;
      }
      showError(error, "");
      addEntries(Array.isArray(res.data.entries) ? res.data.entries : []);
      renderState(res.data);
    }
    async function loadProfile() {
      const res = await api("GET", `${base}/profile`);
      if (!res.ok) {
        const msg = h("p", { class: "muted" }, res.status === 404 ? "No store profile." : `Could not read the store: ${errorText(res)}`);
        $("profile").replaceChildren(msg);
        $("orders").replaceChildren(h("p", { class: "muted" }, "—"));
        return;
      }
      renderProfile(res.data);
    }
    const poller = every(2500, load);
    loadProfile();

    async function act(button, path, payload, done) {
      showError(error, "");
      button.disabled = true;
      const res = await api("POST", `${base}/${path}`, payload);
      button.disabled = false;
      if (!res.ok) {
        let msg = errorText(res);
        if (res.status === 409 && path === "claim" && takeOver) msg = `${msg} You can take it over.`;
        showError(error, msg);
        await poller.now();
        return false;
      }
      // The answer says who holds it now: shown at once, before the next poll.
      if (current && res.data && "held_by" in res.data) {
        renderState({ ...current, held_by: res.data.held_by, handover: res.data.handover });
      }
      if (done) done(res.data);
      poller.now();
      return true;
    }
    if (claim) claim.addEventListener("click", () => act(claim, "claim", { take_over: false }, () => { toast("You hold this conversation now."); text.focus(); }));
    if (takeOver) takeOver.addEventListener("click", () => act(takeOver, "claim", { take_over: true }, () => { toast("You took over this conversation."); text.focus(); }));
    release.addEventListener("click", () => act(release, "release", { force: false }, () => toast("Released: the agent answers again.")));

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const value = text.value.trim();
      if (!value || busy) return;
      busy = true;
      send.disabled = true;
      showError(error, "");
      const res = await api("POST", `${base}/replies`, { text: value, reply_id: "r-" + crypto.randomUUID() });
      busy = false;
      if (res.ok) {
        text.value = "";
        if (res.data && typeof res.data.seq === "number") addEntries([res.data]);
      } else {
        showError(error, errorText(res));
      }
      if (current) renderState(current);
      text.focus();
      poller.now();
    });
    text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
    });
  }

  // ---------------------------------------------------------------- approvals
  function approvalsPage() {
    const list = $("approval-list");
    const empty = $("approvals-empty");
    const loading = $("approvals-loading");
    const status = $("approvals-status");
    const cards = new Map(); // approval_id -> card element (kept, so a typed note survives a refresh)

    function decidedText(decision, data) {
      const verb = decision === "approve" ? "Approved" : "Denied";
      const after = decision === "approve" ? "The agent is carrying it out." : "The customer is told.";
      return `${verb}${data && data.status && data.status !== (decision === "approve" ? "approved" : "denied") ? ` (${humanise(data.status)})` : ""}. ${after}`;
    }

    function card(item) {
      const a = item.approval;
      const id = a.approval_id;
      const noteId = `note-${id}`;
      const shareId = `share-${id}`;
      const errorBox = h("div", { class: "form-error", role: "alert", hidden: true });
      const okBox = h("div", { class: "form-ok", role: "status", hidden: true });
      const note = h("textarea", { id: noteId, rows: 2, maxlength: 1000, placeholder: "Why you decided so (optional)" });
      const share = h("input", { type: "checkbox", id: shareId });
      const approve = h("button", { type: "button", class: "btn btn-ok", dataset: { decision: "approve" } }, "Approve");
      const deny = h("button", { type: "button", class: "btn btn-danger", dataset: { decision: "deny" } }, "Deny");
      const node = h("article", { class: "card approval-card", id, "aria-labelledby": `title-${id}`, dataset: { approvalId: id } },
        h("div", { class: "card-head" },
          h("h2", { id: `title-${id}` }, sentence(`${humanise(a.action)} ${a.order_id || ""}`.trim())),
          h("span", null, a.escalated ? h("span", { class: "badge badge-sla" }, "Escalated") : h("span", { class: "badge badge-approval" }, "Pending")),
        ),
        h("div", { class: "amount" }, fmtMoney(a.amount)),
        h("dl", { class: "facts" },
          h("dt", null, "Customer"), h("dd", null, h("a", { href: `/console/conversations/${encodeURIComponent(item.customer_id)}` }, item.customer_id)),
          h("dt", null, "Order"), h("dd", { class: "mono" }, a.order_id || "—"),
          h("dt", null, "Reason"), h("dd", null, sentence(humanise(item.detail || a.rule_id || "the policy asks for approval"))),
          a.rule_id && a.rule_id !== item.detail ? [h("dt", null, "Rule"), h("dd", { class: "mono" }, a.rule_id)] : null,
          h("dt", null, "Requested"), h("dd", null, a.requested_at ? h("time", { datetime: a.requested_at, title: new Date(a.requested_at).toLocaleString() }, fmtAgo(a.requested_at)) : "—"),
          item.held_by ? [h("dt", null, "Held by"), h("dd", null, holderText(item.held_by))] : null,
        ),
        h("div", { class: "field" }, h("label", { for: noteId }, "Note"), note),
        h("label", { class: "check", for: shareId }, share, " Share the note with the customer"),
        errorBox, okBox,
        h("div", { class: "decide" }, deny, approve),
      );
      async function decide(decision, button) {
        showError(errorBox, "");
        approve.disabled = deny.disabled = true;
        const res = await api("POST", `/v1/approvals/${encodeURIComponent(id)}`, {
          decision, note: note.value.trim(), share_note: share.checked,
        });
        if (res.ok) {
          okBox.textContent = decidedText(decision, res.data);
          okBox.hidden = false;
          node.classList.add("decided");
          node.dataset.decided = decision;
          note.disabled = share.disabled = true;
          toast(okBox.textContent);
          return;
        }
        let msg = errorText(res);
        if (res.status === 403) msg = `Not allowed: ${msg}`;
        else if (res.status === 409) msg = `Too late: ${msg}`;
        else if (res.status === 404) msg = "This request no longer exists.";
        showError(errorBox, msg);
        approve.disabled = deny.disabled = res.status === 409 || res.status === 404;
        button.focus();
      }
      approve.addEventListener("click", () => decide("approve", approve));
      deny.addEventListener("click", () => decide("deny", deny));
      return node;
    }

    async function load() {
      const res = await api("GET", "/v1/approvals");
      loading.hidden = true;
      if (!res.ok) {
        status.textContent = `Could not load approvals: ${errorText(res)}`;
        return;
      }
      const items = (Array.isArray(res.data.items) ? res.data.items : []).filter((i) => i.approval);
      const live = new Set(items.map((i) => i.approval.approval_id));
      for (const [id, node] of cards) {
        // A card decided here stays until the page reloads, so the outcome can be read. One
        // decided elsewhere (or expired) goes, unless the operator is working in it: then it
        // says so and its buttons stop, and it goes on a later refresh.
        if (live.has(id) || node.dataset.decided) continue;
        if (node.contains(document.activeElement) && !node.dataset.stale) {
          node.dataset.stale = "1";
          node.classList.add("decided");
          for (const control of node.querySelectorAll("button, textarea, input")) control.disabled = true;
          const gone = node.querySelector(".form-ok");
          gone.textContent = "No longer waiting: a colleague decided it, or it expired.";
          gone.hidden = false;
          continue;
        }
        node.remove();
        cards.delete(id);
      }
      for (const item of items) {
        const id = item.approval.approval_id;
        if (!cards.has(id)) {
          const node = card(item);
          cards.set(id, node);
          list.append(node);
        }
      }
      const pending = items.length;
      empty.hidden = pending !== 0;
      status.textContent = pending === 0 ? "Nothing waiting" : `${pending} waiting`;
      if (location.hash && cards.has(decodeURIComponent(location.hash.slice(1)))) {
        const target = cards.get(decodeURIComponent(location.hash.slice(1)));
        if (!target.dataset.scrolled) { target.dataset.scrolled = "1"; target.scrollIntoView({ block: "center" }); }
      }
    }
    every(5000, load);
  }

  // ---------------------------------------------------------------- audit
  function auditPage() {
    const form = $("audit-filters");
    const rows = $("audit-rows");
    const table = $("audit-table");
    const empty = $("audit-empty");
    const loading = $("audit-loading");
    const more = $("audit-more");
    const error = $("audit-error");
    const exportLink = $("audit-export");
    let cursor = null;

    function filters() {
      const q = new URLSearchParams();
      for (const name of ["actor_kind", "action", "target", "workflow_id"]) {
        const v = form.elements[name].value.trim();
        if (v) q.set(name, v);
      }
      for (const name of ["since", "until"]) {
        const v = form.elements[name].value;
        if (v) {
          const d = new Date(v);
          if (!Number.isNaN(d.getTime())) q.set(name, d.toISOString());
        }
      }
      return q;
    }
    function row(e) {
      const details = e.details && Object.keys(e.details).length ? JSON.stringify(e.details) : "";
      return h("tr", null,
        h("td", { class: "mono muted" }, e.seq),
        h("td", null, h("time", { datetime: e.at, title: e.at }, fmtTime(e.at))),
        h("td", null, h("span", { class: "badge" }, humanise(e.actor_kind)), " ", h("span", { class: "mono small" }, e.actor_id === me.operatorId ? "you" : e.actor_id)),
        h("td", { class: "mono" }, e.action),
        h("td", { class: "mono small" }, e.target || "", e.workflow_id ? h("div", { class: "muted" }, e.workflow_id) : null),
        h("td", { class: "details-json" }, details, e.idempotency_key ? h("div", { class: "muted" }, `key ${e.idempotency_key}`) : null),
      );
    }
    async function load(append) {
      showError(error, "");
      const q = filters();
      exportLink.href = `/v1/audit/export${q.toString() ? "?" + q.toString() : ""}`;
      q.set("limit", "50");
      if (append && cursor) q.set("cursor", String(cursor));
      const res = await api("GET", `/v1/audit?${q.toString()}`);
      loading.hidden = true;
      if (!res.ok) {
        showError(error, res.status === 403 ? `Not allowed: ${errorText(res)}` : errorText(res));
        if (!append) rows.replaceChildren();
        table.hidden = !rows.children.length;
        more.hidden = true;
        return;
      }
      const entries = Array.isArray(res.data.entries) ? res.data.entries : [];
      if (append) rows.append(...entries.map(row));
      else rows.replaceChildren(...entries.map(row));
      cursor = res.data.next_cursor;
      more.hidden = !cursor;
      table.hidden = rows.children.length === 0;
      empty.hidden = rows.children.length !== 0;
    }
    form.addEventListener("submit", (ev) => { ev.preventDefault(); cursor = null; load(false); });
    more.addEventListener("click", () => load(true));
    load(false);
  }

  // ---------------------------------------------------------------- settings: policy
  function policyPage() {
    const form = $("policy-form");
    const area = $("policy-json");
    const error = $("policy-error");
    const save = $("policy-save");
    const reload = $("policy-reload");
    async function load() {
      const res = await api("GET", "/v1/policy");
      if (!res.ok) { showError(error, `Could not load the policy: ${errorText(res)}`); return; }
      area.value = JSON.stringify(res.data, null, 2);
      area.removeAttribute("aria-invalid");
      showError(error, "");
    }
    load();
    if (reload) reload.addEventListener("click", load);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!save) return;
      let doc;
      try {
        doc = JSON.parse(area.value);
      } catch (err) {
        area.setAttribute("aria-invalid", "true");
        showError(error, `This is not valid JSON: ${err.message}`);
        area.focus();
        return;
      }
      if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        area.setAttribute("aria-invalid", "true");
        showError(error, "The policy is a JSON object: { ... }.");
        return;
      }
      save.disabled = true;
      const res = await api("PUT", "/v1/policy", doc);
      save.disabled = false;
      if (!res.ok) {
        area.setAttribute("aria-invalid", "true");
        showError(error, res.status === 403 ? `Not allowed: ${errorText(res)}` : `The policy was not saved. ${errorText(res)}`);
        area.focus();
        return;
      }
      area.value = JSON.stringify(res.data, null, 2);
      area.removeAttribute("aria-invalid");
      showError(error, "");
      toast("Policy saved. New cases follow it.");
    });
  }

  // ---------------------------------------------------------------- settings: templates
  function templatesPage() {
    const list = $("template-list");
    const editable = list.dataset.canEdit === "true";
    function item(t) {
      const id = `tpl-${t.name}`;
      const area = h("textarea", { id, rows: 4, readonly: !editable, spellcheck: "true" });
      area.value = t.override ?? t.default;
      const errorBox = h("div", { class: "form-error", role: "alert", hidden: true });
      const state = h("span", { class: `badge ${t.override !== null && t.override !== undefined ? "badge-handoff" : "badge-muted"}` }, t.override !== null && t.override !== undefined ? "Customised" : "Default");
      const save = editable ? h("button", { type: "submit", class: "btn btn-primary btn-small" }, "Save") : null;
      const reset = editable && t.override !== null && t.override !== undefined
        ? h("button", { type: "button", class: "btn btn-small" }, "Reset to default") : null;
      const form = h("form", null,
        h("label", { for: id }, `Wording of ${humanise(t.name)}`),
        area,
        t.variables && t.variables.length ? h("p", { class: "small muted" }, "Values: ", t.variables.map((v, i) => [i ? ", " : "", h("code", null, `{{ ${v} }}`)])) : null,
        errorBox,
        editable ? h("div", { class: "form-actions" }, reset, save) : null,
      );
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        showError(errorBox, "");
        const res = await api("PUT", `/v1/templates/${encodeURIComponent(t.name)}`, { source: area.value });
        if (!res.ok) { showError(errorBox, errorText(res)); area.focus(); return; }
        toast(`Saved “${humanise(t.name)}”.`);
        load();
      });
      if (reset) {
        reset.addEventListener("click", async () => {
          const res = await api("DELETE", `/v1/templates/${encodeURIComponent(t.name)}`);
          if (!res.ok) { showError(errorBox, errorText(res)); return; }
          toast(`“${humanise(t.name)}” uses the default again.`);
          load();
        });
      }
      return h("details", { class: "card", dataset: { template: t.name } },
        h("summary", null, h("strong", null, humanise(t.name)), " ", state),
        form);
    }
    async function load() {
      const open = new Set([...list.querySelectorAll("details[open]")].map((d) => d.dataset.template));
      const res = await api("GET", "/v1/templates");
      if (!res.ok) { list.replaceChildren(h("div", { class: "form-error", role: "alert" }, errorText(res))); return; }
      const nodes = res.data.map(item);
      for (const n of nodes) if (open.has(n.dataset.template)) n.open = true;
      list.replaceChildren(...nodes);
    }
    load();
  }

  // ---------------------------------------------------------------- settings: knowledge
  function knowledgePage() {
    const list = $("knowledge-list");
    const editable = list.dataset.canEdit === "true";
    const defaults = $("knowledge-defaults");
    const error = $("knowledge-error");
    const form = $("knowledge-form");
    async function load() {
      const res = await api("GET", "/v1/knowledge");
      if (!res.ok) { showError(error, errorText(res)); list.replaceChildren(); return; }
      defaults.hidden = !res.data.using_defaults;
      const articles = res.data.articles || [];
      if (!articles.length) {
        list.replaceChildren(h("div", { class: "card empty" }, h("p", { class: "empty-title" }, "No articles yet"), h("p", { class: "muted" }, "Add the first one below.")));
        return;
      }
      list.replaceChildren(...articles.map((a) => {
        const actions = editable && !a.default ? h("div", { class: "actions" },
          h("button", { type: "button", class: "btn btn-small", onclick: () => edit(a) }, "Edit"),
          h("button", { type: "button", class: "btn btn-small btn-danger", onclick: (ev) => remove(a, ev.currentTarget) }, "Delete"),
        ) : null;
        return h("article", { class: "card", dataset: { articleId: a.id } },
          h("div", { class: "card-head" }, h("h3", null, a.title), actions),
          h("p", { class: "small muted" }, (a.tags || []).map((t) => h("span", { class: "badge" }, t)), a.updated_at ? ` Updated ${fmtAgo(a.updated_at)}` : a.default ? " Default article" : ""),
          h("p", { class: "entry-text" }, a.body),
        );
      }));
    }
    function edit(a) {
      $("kb-id").value = a.id;
      $("kb-title").value = a.title;
      $("kb-body").value = a.body;
      $("kb-tags").value = (a.tags || []).join(", ");
      $("knowledge-form-title").textContent = "Edit article";
      $("kb-save").textContent = "Save article";
      $("kb-cancel").hidden = false;
      $("kb-title").focus();
    }
    function resetForm() {
      form.reset();
      $("kb-id").value = "";
      $("knowledge-form-title").textContent = "New article";
      $("kb-save").textContent = "Add article";
      $("kb-cancel").hidden = true;
      showError($("kb-form-error"), "");
    }
    async function remove(a, button) {
      // Two steps instead of a dialog: the second press within 5 s deletes.
      if (button.dataset.armed !== "1") {
        button.dataset.armed = "1";
        button.textContent = "Press again to delete";
        setTimeout(() => { button.dataset.armed = ""; button.textContent = "Delete"; }, 5000);
        return;
      }
      const res = await api("DELETE", `/v1/knowledge/${encodeURIComponent(a.id)}`);
      if (!res.ok) { showError(error, errorText(res)); return; }
      toast(`Deleted “${a.title}”.`);
      load();
    }
    if (form) {
      $("kb-cancel").addEventListener("click", resetForm);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const id = $("kb-id").value;
        const payload = {
          title: $("kb-title").value,
          body: $("kb-body").value,
          tags: $("kb-tags").value.split(",").map((t) => t.trim()).filter(Boolean),
        };
        const res = await api(id ? "PUT" : "POST", id ? `/v1/knowledge/${encodeURIComponent(id)}` : "/v1/knowledge", payload);
        if (!res.ok) { showError($("kb-form-error"), errorText(res)); return; }
        toast(id ? "Article saved." : "Article added.");
        resetForm();
        load();
      });
    }
    const importButton = $("knowledge-import");
    if (importButton) {
      importButton.addEventListener("click", async () => {
        const res = await api("POST", "/v1/knowledge/import-defaults");
        if (!res.ok) { showError(error, errorText(res)); return; }
        toast("The default articles are yours to edit now.");
        load();
      });
    }
    load();
  }

  // ---------------------------------------------------------------- settings: operators
  function operatorsPage() {
    const rows = $("operator-rows");
    if (!rows) return; // not an admin: the page says so, and the API would refuse anyway
    const error = $("operators-error");
    const loading = $("operators-loading");
    const form = $("operator-form");
    function row(o) {
      const active = o.status === "active";
      let action = null;
      if (active && o.operator_id !== me.operatorId) {
        action = h("button", { type: "button", class: "btn btn-small btn-danger", "aria-label": `Disable ${o.email}` }, "Disable");
        action.addEventListener("click", () => disable(o, action));
      }
      return h("tr", { dataset: { operatorId: o.operator_id } },
        h("td", null, o.email, o.operator_id === me.operatorId ? h("span", { class: "muted" }, " (you)") : null),
        h("td", null, h("span", { class: "badge" }, o.role)),
        h("td", null, o.role === "admin" ? "Any amount" : o.approval_limit !== null && o.approval_limit !== undefined ? fmtMoney(o.approval_limit) : o.role === "supervisor" ? "Any amount" : "No money"),
        h("td", null, h("span", { class: `badge ${active ? "badge-ok" : "badge-muted"}` }, active ? "Active" : "Disabled")),
        h("td", null, fmtTime(o.created_at)),
        h("td", null, action),
      );
    }
    async function load() {
      const res = await api("GET", "/v1/operators");
      loading.hidden = true;
      if (!res.ok) { showError(error, errorText(res)); return; }
      rows.replaceChildren(...res.data.map(row));
    }
    async function disable(o, button) {
      if (button.dataset.armed !== "1") {
        button.dataset.armed = "1";
        button.textContent = "Press again to disable";
        setTimeout(() => { button.dataset.armed = ""; button.textContent = "Disable"; }, 5000);
        return;
      }
      const res = await api("POST", `/v1/operators/${encodeURIComponent(o.operator_id)}/disable`);
      if (!res.ok) { showError(error, errorText(res)); return; }
      toast(`${o.email} can no longer sign in.`);
      load();
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const formError = $("op-form-error");
      showError(formError, "");
      const email = $("op-email").value.trim();
      const limit = $("op-limit").value.trim();
      if (!email) { showError(formError, "Enter the operator's email."); $("op-email").focus(); return; }
      if (limit && !/^\d+(\.\d{1,2})?$/.test(limit)) {
        showError(formError, "The approval limit is an amount such as 100 or 99.50.");
        $("op-limit").focus();
        return;
      }
      const res = await api("POST", "/v1/operators", { email, role: $("op-role").value, approval_limit: limit || null });
      if (!res.ok) { showError(formError, errorText(res)); return; }
      $("op-created-email").textContent = res.data.operator.email;
      $("op-created-tenant").textContent = me.tenantId;
      $("op-created-password").textContent = res.data.password;
      $("op-created-token").textContent = res.data.api_token;
      $("op-created").hidden = false;
      $("op-created").focus();
      form.reset();
      load();
    });
    load();
  }

  // ---------------------------------------------------------------- metrics (issue 14)
  // The figures and charts come drawn by the server; this only lifts a guard (a POST with
  // the CSRF header), then shows the page again.
  function metricsPage() {
    const error = $("guard-error");
    for (const button of document.querySelectorAll("[data-lift-guard]")) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        const res = await api("POST", `/v1/guards/${encodeURIComponent(button.dataset.liftGuard)}/lift`);
        if (!res.ok) {
          button.disabled = false;
          showError(error, `The guard was not lifted. ${errorText(res)}`);
          return;
        }
        toast("Guard lifted: agents follow the policy as written again.");
        location.reload();
      });
    }
  }
  // ---------------------------------------------------------------- end metrics

  // ---------------------------------------------------------------- start
  const pages = {
    login: loginPage,
    inbox: inboxPage,
    conversation: conversationPage,
    approvals: approvalsPage,
    audit: auditPage,
    metrics: metricsPage, // management agent (issue 14)
    "settings-policy": policyPage,
    "settings-templates": templatesPage,
    "settings-knowledge": knowledgePage,
    "settings-operators": operatorsPage,
  };
  setupChrome();
  const start = pages[body.dataset.page];
  if (start) start();
})();
