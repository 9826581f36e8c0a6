/*
 * 12320 卫生健康热线 · 在线咨询 — the embeddable chat widget.
 *
 *   <script src="https://GATEWAY/widget.js" async></script>
 *
 * One tag, on any page of a site listed in the gateway's HOTLINE_WIDGET_ORIGINS. Plain JavaScript, no
 * dependencies. Everything renders inside a shadow root: the page's CSS cannot reach in, and the widget's
 * cannot reach out. The gateway is found from this script's own address.
 *
 * The conversation follows the web page's contract (bot/static/index.html, bot/api/chat.py, chat_live.py):
 * POST /api/chat without an id starts a conversation and the server issues its id; the id is kept in this
 * site's sessionStorage, so a reload continues it and its history is read back (GET …/messages?after=0).
 * Between turns a WebSocket brings what an operator says; when it drops the widget polls and reconnects with
 * backoff, and when WebSockets are blocked altogether it keeps polling.
 */
(() => {
  "use strict";

  const TAG = "hotline-widget";
  const script = document.currentScript
    || Array.from(document.scripts).find((s) => /\/widget\.js(?:[?#]|$)/.test(s.src));
  if (!script || !script.src || document.querySelector(TAG)) return;  // one widget, even if the tag is there twice

  const base = new URL(".", script.src);  // the gateway: where widget.js came from
  const api = (path) => new URL(path, base).href;

  // --- storage: this site's, namespaced by gateway; a browser that refuses storage still chats -------------------
  const memory = new Map();
  function store(kind) {
    const prefix = "hotline-widget:" + base.href + ":";
    return {
      get(name) { try { return window[kind].getItem(prefix + name); } catch (e) { return memory.get(kind + name) ?? null; } },
      set(name, value) { try { window[kind].setItem(prefix + name, value); } catch (e) { memory.set(kind + name, value); } },
      remove(name) { try { window[kind].removeItem(prefix + name); } catch (e) { memory.delete(kind + name); } },
    };
  }
  const session = store("sessionStorage");  // the conversation: this tab, across reloads
  const prefs = store("localStorage");      // the large-text choice: remembered on this site

  // --- the shadow root ----------------------------------------------------------------------------------------
  const CSS = `
    :host { all: initial !important; display: block !important; position: static !important;
            contain: none !important; transform: none !important; filter: none !important; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    .root { font: 15px/1.6 system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
            color: #1f2933; -webkit-text-size-adjust: 100%; }
    .root.large { font-size: 20px; }
    button, input { font: inherit; color: inherit; margin: 0; }
    :focus-visible { outline: 3px solid #f1a208; outline-offset: 2px; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: flex; align-items: center;
                gap: 8px; padding: 12px 18px; border: 0; border-radius: 28px; background: #0b5394; color: #fff;
                font-size: 1.05em; box-shadow: 0 4px 16px rgba(0,0,0,.25); cursor: pointer; }
    .launcher svg { width: 1.4em; height: 1.4em; fill: currentColor; }
    .launcher .badge { min-width: 1.2em; padding: 0 .35em; border-radius: .6em; background: #c0392b; font-size: .75em;
                       line-height: 1.2em; text-align: center; }

    .panel { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 380px; height: 620px;
             max-height: calc(100vh - 40px); display: flex; flex-direction: column; background: #f4f6f8;
             border-radius: 12px; overflow: hidden; box-shadow: 0 8px 32px rgba(0,0,0,.3); }
    .root.large .panel { width: 460px; }
    header { display: flex; align-items: center; gap: 6px; padding: 10px 12px; background: #0b5394; color: #fff; }
    header .titles { flex: 1; min-width: 0; }
    header h2 { margin: 0; font-size: 1.05em; font-weight: 600; }
    header p { margin: 0; font-size: .8em; opacity: .9; }
    header button { flex: none; min-width: 44px; min-height: 44px; padding: 0 8px; border: 1px solid rgba(255,255,255,.6);
                    border-radius: 8px; background: transparent; color: #fff; cursor: pointer; }
    header button[aria-pressed="true"] { background: #fff; color: #0b5394; }
    header .close { font-size: 1.4em; line-height: 1; }

    .state { padding: 6px 12px; background: #fff8e1; color: #7f6000; font-size: .85em; border-bottom: 1px solid #f1c232; }
    .log { flex: 1; overflow-y: auto; padding: 12px; }
    .msg { margin: 8px 0; padding: 10px 12px; border-radius: 10px; max-width: 88%; white-space: pre-wrap;
           overflow-wrap: anywhere; }
    .msg p { margin: 0; }
    .msg p + p, .msg p + .card, .msg .card + p { margin-top: 8px; }
    .user { margin-left: auto; background: #d9ead3; }
    .bot { background: #fff; border: 1px solid #dde3ea; }
    .agent { background: #fff8e1; border: 1px solid #f1c232; }
    .who { display: block; font-size: .8em; color: #7f6000; }
    .sys, .notice { text-align: center; font-size: .85em; color: #555; margin: 6px 0; }
    .notice { color: #a61c00; }
    .error { background: #fdecea; border: 1px solid #e6a59f; color: #8a1c12; }
    .pending { color: #666; font-style: italic; }
    .cite { margin-top: 8px; font-size: .85em; color: #555; white-space: normal; }
    a { color: #0b5394; }
    .row { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; white-space: normal; }
    .row button { min-height: 36px; padding: 4px 12px; border: 1px solid #0b5394; border-radius: 18px; background: #fff;
                  color: #0b5394; cursor: pointer; text-align: left; }
    .row button:hover { background: #e8f0fa; }

    .card { white-space: normal; border: 1px solid #c9d6e3; border-radius: 8px; background: #f8fbff; padding: 8px 10px; }
    .card h3 { margin: 0 0 6px; font-size: 1em; color: #0b5394; }
    .card dl { margin: 0; }
    .card dt { font-weight: 600; margin-top: 6px; }
    .card dd { margin: 2px 0 0; }
    .card details { margin-top: 8px; }
    .card summary { cursor: pointer; color: #0b5394; padding: 4px 0; }

    .rating { background: #fff; border: 1px solid #0b5394; border-radius: 10px; padding: 10px 12px; margin: 8px 0;
              white-space: normal; }
    .rating .row button { min-width: 44px; justify-content: center; text-align: center; border-radius: 8px; }
    .rating input { width: 100%; margin-top: 8px; padding: 6px 8px; border: 1px solid #bbb; border-radius: 6px; background: #fff; }

    form { display: flex; gap: 8px; padding: 10px 12px; background: #fff; border-top: 1px solid #dde3ea; }
    form input { flex: 1; min-width: 0; min-height: 44px; padding: 8px 10px; border: 1px solid #aab4bf; border-radius: 8px;
                 background: #fff; font-size: max(16px, 1em); }
    form button { flex: none; min-height: 44px; padding: 0 16px; border: 0; border-radius: 8px; background: #0b5394;
                  color: #fff; cursor: pointer; }

    @media (max-width: 480px) {
      .panel, .root.large .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }
      .launcher { right: 12px; bottom: 12px; }
    }
    @media (prefers-reduced-motion: no-preference) { .log { scroll-behavior: smooth; } }
  `;

  const host = document.createElement(TAG);
  host.setAttribute("style", "all: initial !important; display: block !important;");
  const shadow = host.attachShadow({mode: "open"});
  const style = document.createElement("style");
  style.textContent = CSS;
  shadow.appendChild(style);

  function el(name, attributes, ...children) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else if (value !== false && value != null) node.setAttribute(key, value);
    }
    node.append(...children.filter((c) => c != null));
    return node;
  }

  const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"/></svg>';
  const badge = el("span", {class: "badge", hidden: true});
  const launcher = el("button", {type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "panel",
                                 "aria-haspopup": "dialog"}, el("span", {}, "在线咨询"), badge);
  launcher.insertAdjacentHTML("afterbegin", ICON);
  const largeToggle = el("button", {type: "button", class: "large-toggle", "aria-pressed": "false",
                                    title: "适老化大字模式"}, "大字");
  const closeButton = el("button", {type: "button", class: "close", "aria-label": "关闭在线咨询"}, "×");
  const stateText = el("span");
  const typing = el("span", {hidden: true}, "人工客服正在输入…");
  const state = el("div", {class: "state", role: "status", hidden: true}, stateText, " ", typing);
  const log = el("div", {class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
                         "aria-label": "对话记录", tabindex: "0"});
  const input = el("input", {id: "text", type: "text", autocomplete: "off", enterkeyhint: "send", maxlength: "4000",
                             placeholder: "请输入您的问题，例如：出生医学证明怎么办理"});
  const form = el("form", {}, el("label", {class: "sr-only", for: "text"}, "输入您的问题"), input,
                  el("button", {type: "submit"}, "发送"));
  const panel = el("section", {id: "panel", class: "panel", role: "dialog", "aria-modal": "false",
                               "aria-labelledby": "title", hidden: true},
    el("header", {},
      el("div", {class: "titles"}, el("h2", {id: "title"}, "12320 卫生健康热线"),
         el("p", {}, "在线咨询 · 紧急情况请直接拨打120或110")),
      largeToggle, closeButton),
    state, log, form);
  const root = el("div", {class: "root", lang: "zh-CN"}, launcher, panel);
  shadow.appendChild(root);

  // --- the log ------------------------------------------------------------------------------------------------
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  let quiet = false;  // while the history is read back: nothing in it is new

  function bubble(kind, ...children) {
    const node = el("div", {class: "msg " + kind}, ...children);
    log.appendChild(node);
    scrollDown();
    if (panel.hidden && !quiet && kind !== "user") {  // said while closed: the launcher says so
      badge.hidden = false;
      badge.textContent = "新";
      launcher.setAttribute("aria-label", "在线咨询（有新消息）");
    }
    return node;
  }

  function notice(text, kind = "notice") { return bubble(kind, text); }

  function safeUrl(url) {
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  // The sources, once, as links (the answer's text does not repeat them).
  function citations(list) {
    const seen = new Set();
    const links = [];
    for (const c of list || []) {
      const label = "《" + c.title + "》" + (c.section && c.section !== "全文" ? " " + c.section : "");
      if (seen.has(label)) continue;
      seen.add(label);
      const url = c.url && safeUrl(c.url);
      links.push(url ? el("a", {href: url, target: "_blank", rel: "noopener noreferrer"}, label) : el("span", {}, label));
    }
    if (!links.length) return null;
    const line = el("div", {class: "cite"}, "来源：");
    links.forEach((link, i) => line.append(...(i ? ["；", link] : [link])));
    return line;
  }

  // 一次告知: the key fields (材料, 时限, 地点) first, the rest folded.
  function card(c) {
    const fields = (list) => el("dl", {}, ...list.flatMap((f) => [el("dt", {}, f.label), el("dd", {}, f.value)]));
    const key = c.fields.filter((f) => f.key);
    const rest = c.fields.filter((f) => !f.key);
    return el("div", {class: "card"},
      el("h3", {}, c.title),
      key.length ? fields(key) : null,
      rest.length ? el("details", {}, el("summary", {}, "更多办理信息（" + rest.length + "项）"), fields(rest)) : null);
  }

  function buttonRow(list, onPick) {
    if (!list || !list.length) return null;
    return el("div", {class: "row"}, ...list.map((b) =>
      el("button", {type: "button", onclick: () => onPick(b)}, b.title)));
  }

  function showBot(message) {
    const parts = [];
    if (message.card) {
      if (message.card.intro) parts.push(el("p", {}, message.card.intro));
      parts.push(card(message.card));
      if (message.card.outro) parts.push(el("p", {}, message.card.outro));
    } else {
      parts.push(el("p", {}, message.text));
    }
    return bubble("bot", ...parts, citations(message.citations),
                  buttonRow(message.buttons, (b) => pick(b.payload, b.title)));
  }

  function showOperator(text) {
    setTyping(false);
    return bubble("agent", el("span", {class: "who"}, "人工客服"), text);
  }

  // --- the welcome: the same as the web page's (GET /api/chat/welcome) ------------------------------------------
  let welcomed = null;
  function welcome() {
    if (welcomed) return welcomed;
    welcomed = fetch(api("api/chat/welcome")).then((r) => {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then((w) => {
      const chips = buttonRow(w.suggestions.map((s) => ({title: s, payload: s})), (b) => pick(b.payload));
      log.querySelectorAll(".welcome").forEach((old) => old.remove());
      log.prepend(el("div", {class: "msg bot welcome"}, el("p", {}, w.text), chips));
    }).catch(() => {
      welcomed = null;  // tried again at the next opening
      if (log.querySelector(".welcome")) return;
      log.prepend(el("div", {class: "msg error welcome"},
        "暂时无法连接在线咨询服务，请稍后再试，或直接拨打12320卫生健康热线。"));
    });
    return welcomed;
  }

  // --- opening and closing ----------------------------------------------------------------------------------------
  function open(focus = true) {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    badge.hidden = true;
    launcher.removeAttribute("aria-label");
    session.set("open", "1");
    if (!log.querySelector(".welcome:not(.error)")) welcome();
    scrollDown();
    if (focus) input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    session.remove("open");
    launcher.focus();
  }

  launcher.addEventListener("click", () => open());
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });

  function setLarge(on) {
    root.classList.toggle("large", on);
    largeToggle.setAttribute("aria-pressed", String(on));
    if (on) prefs.set("large", "1"); else prefs.remove("large");
  }
  largeToggle.addEventListener("click", () => { setLarge(!root.classList.contains("large")); scrollDown(); });
  setLarge(prefs.get("large") === "1");

  // --- turns ----------------------------------------------------------------------------------------------------
  let conversationId = session.get("conversation");
  const shown = new Set();  // transcript seqs on screen: each turn once, whether it came by response, socket or poll
  let cursor = 0;           // polling asks for the turns after this one
  let sending = 0;          // turns in flight hold polling back (a poll could show their replies first)

  function seen(seq) {
    if (seq == null) return false;
    if (shown.has(seq)) return true;
    shown.add(seq);
    return false;
  }
  function advance(seq) { if (seq != null && seq > cursor) cursor = seq; }

  async function postTurn(text) {
    const body = conversationId ? {conversation_id: conversationId, text} : {text};
    const response = await fetch(api("api/chat"), {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
    });
    if (response.status === 404 && conversationId) {
      // The server no longer knows this conversation: start a new one.
      forget();
      notice("已开始新的会话");
      return postTurn(text);
    }
    const reply = await response.json().catch(() => ({}));  // e.g. a proxy's error page
    if (response.ok && reply.conversation_id) {
      (reply.seqs || []).forEach(seen);
      if (reply.conversation_id !== conversationId) {
        conversationId = reply.conversation_id;
        session.set("conversation", conversationId);
      }
      startLive();
    }
    return {response, reply};
  }

  async function send(text, label) {
    text = String(text || "").trim();
    if (!text) return;
    await ready;
    bubble("user", label || text);
    const pending = bubble("bot pending", "正在回复…");
    sending++;
    try {
      const {response, reply} = await postTurn(text);
      pending.remove();
      if (!response.ok) {
        bubble("bot error", typeof reply.detail === "string" ? reply.detail : "消息没有发送成功，请重试。");
        return;
      }
      reply.messages.forEach(showBot);
      if (reply.handoff) { notice("已转人工客服"); setOwner("queue"); }
      if (reply.ticket_id) notice("工单号：" + reply.ticket_id);
    } catch (err) {
      pending.remove();
      bubble("bot error", "网络异常，消息没有发送成功，请重试。");
      if (!input.value && !label) input.value = text;
    } finally {
      sending--;
    }
  }

  // A chip or a button: sent as if typed; the keyboard goes on from the input.
  function pick(text, label) {
    input.focus();
    return send(text, label);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
    input.focus();
  });

  // --- who has the conversation -----------------------------------------------------------------------------------
  function setOwner(owner, place) {
    if (owner === "operator") stateText.textContent = "人工客服正在为您服务";
    else if (owner === "queue") stateText.textContent = place || stateText.textContent || "正在为您转接人工客服，请稍候。";
    else stateText.textContent = "";
    if (owner !== "operator") setTyping(false);
    state.hidden = !stateText.textContent && typing.hidden;
  }

  let typingTimer = null;
  function setTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => setTyping(false), 6000);
    state.hidden = !stateText.textContent && typing.hidden;
  }

  // --- 满意度: one tap, 1–5 ---------------------------------------------------------------------------------------
  function showRating(text) {
    if (log.querySelector(".rating")) return;
    const comment = el("input", {type: "text", maxlength: "500", placeholder: "意见或建议（可不填）", "aria-label": "评价意见"});
    const box = el("div", {class: "rating", role: "group", "aria-label": "满意度评价"}, el("p", {}, text));
    const scores = el("div", {class: "row"}, ...[1, 2, 3, 4, 5].map((score) =>
      el("button", {type: "button", "aria-label": score + "分", onclick: () => rate(box, score, comment.value.trim())},
         String(score))));
    box.append(scores, comment);
    log.appendChild(box);
    scrollDown();
  }

  async function rate(box, score, comment) {
    const buttons = box.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const response = await fetch(api("api/chat/" + encodeURIComponent(conversationId) + "/rating"), {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(comment ? {score, comment} : {score}),
      });
      const body = await response.json().catch(() => ({}));
      box.replaceChildren(response.ok ? "感谢您的评价！（" + score + "分）" : (body.detail || "评价没有提交成功"));
      box.setAttribute("tabindex", "-1");
      box.focus();
    } catch (err) {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // --- live: socket, polling, reconnecting ------------------------------------------------------------------------
  // One event from the socket or a polled turn (both have type, speaker, text, seq).
  function showLive(event) {
    if (event.type === "typing") { setTyping(true); return; }
    if (event.type === "place") { setOwner("queue", event.text); return; }
    if (event.type === "ready") return;
    if (seen(event.seq)) return;
    if (event.type === "owner") setOwner(event.owner);
    if (event.type === "rating_request") { if (event.open !== false) showRating(event.text); return; }
    if (event.speaker === "operator") showOperator(event.text);
    else if (event.speaker === "bot") showBot({text: event.text, citations: event.citations, card: event.card});
    else if (event.speaker === "citizen") bubble("user", event.text);
    else notice(event.text, "sys");
  }

  let socket = null, pollTimer = null, reconnectTimer = null, attempts = 0, liveFor = null;

  function applyView(view) {
    for (const turn of view.turns) {
      showLive(turn.type === "rating_request" ? {...turn, open: view.rating_open} : turn);
      advance(turn.seq);
    }
    setOwner(view.owner, view.place ? view.place.text : "");
  }

  async function poll() {
    const id = conversationId;
    if (!id || sending) return;
    let response;
    try {
      response = await fetch(api("api/chat/" + encodeURIComponent(id) + "/messages?after=" + cursor));
    } catch (err) { return; }  // offline: the next poll tries again
    if (id !== conversationId) return;
    if (response.status === 404) { forget(); return; }  // unknown to the server: the next turn starts anew
    if (!response.ok) return;
    applyView(await response.json());
  }

  function startPolling() {
    if (!pollTimer) pollTimer = setInterval(poll, 3000);
    poll();
  }
  function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

  function connect() {
    const id = conversationId;
    clearTimeout(reconnectTimer); reconnectTimer = null;
    let ws;
    try {
      ws = new WebSocket(api("api/chat/" + encodeURIComponent(id) + "/live").replace(/^http/, "ws"));
    } catch (err) { startPolling(); scheduleReconnect(id); return; }  // e.g. refused by the page's policy
    socket = ws;
    ws.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      if (event.type === "ready") {
        attempts = 0;
        stopPolling();
        poll();  // what came while the socket was down
        return;
      }
      showLive(event);
      advance(event.seq);
    };
    ws.onclose = (closed) => {
      if (socket !== ws) return;  // replaced or stopped on purpose
      socket = null;
      if (closed.code === 1008) { forget(); return; }  // not a conversation the server issued
      startPolling();
      scheduleReconnect(id);
    };
  }

  // Backoff with jitter, 1 s doubling to 30 s: a gateway coming back is not stormed by every page at once.
  function scheduleReconnect(id) {
    if (reconnectTimer || liveFor !== id) return;
    const delay = Math.min(30000, 1000 * 2 ** attempts) * (0.5 + Math.random() / 2);
    attempts++;
    reconnectTimer = setTimeout(() => { reconnectTimer = null; if (liveFor === id && !socket) connect(); }, delay);
  }

  function startLive() {
    if (!conversationId || liveFor === conversationId) return;
    stopLive();
    liveFor = conversationId;
    attempts = 0;
    connect();
  }

  function stopLive() {
    liveFor = null;
    stopPolling();
    clearTimeout(reconnectTimer); reconnectTimer = null;
    if (socket) { const old = socket; socket = null; old.close(); }
  }

  function forget() {
    stopLive();
    conversationId = null;
    session.remove("conversation");
    shown.clear();
    cursor = 0;
    setOwner("bot");
  }

  window.addEventListener("online", () => {  // back on the network: try at once, not at the end of the backoff
    if (liveFor && !socket) { attempts = 0; connect(); }
  });

  // --- start: this tab's conversation, as it was before the reload ------------------------------------------------
  async function restore() {
    if (!conversationId) return;
    try {
      const response = await fetch(api("api/chat/" + encodeURIComponent(conversationId) + "/messages?after=0&citizen=true"));
      if (response.status === 404) { forget(); return; }
      if (response.ok) { quiet = true; applyView(await response.json()); }
    } catch (err) { /* offline: live polling catches up */ } finally { quiet = false; }
    startLive();
  }

  const ready = restore();
  (document.body || document.documentElement).appendChild(host);
  if (session.get("open") === "1") open(false);  // reloaded open: open again, without taking the page's focus
})();
