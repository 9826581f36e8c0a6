// The console's live parts. One WebSocket to /api/handoff/live (the session cookie logs it in); each event
// asks htmx to re-fetch the fragment it concerns, so the server stays the one place that renders. Without the
// socket the fragments still refresh on their own timers (hx-trigger "every …").
(function () {
  "use strict";
  const root = document.querySelector("[data-live]");
  if (!root) return;
  const watch = root.dataset.watch || null; // the conversation this page shows, if any
  const status = root.querySelector("[data-live-status]");
  let delay = 1000;

  function refresh(selector) {
    const element = document.querySelector(selector);
    if (element && window.htmx) window.htmx.trigger(element, "refresh");
  }

  function showLive(up) {
    if (!status) return;
    status.textContent = up ? "实时更新已连接" : "实时更新已断开，正在重连…";
    status.classList.toggle("up", up);
  }

  function onEvent(event) {
    if (!watch) {
      refresh("#queue-live"); // a queue change, a presence change: the queue fragment has them all
      return;
    }
    if (event.conversation_id && event.conversation_id !== watch) return;
    if (event.type === "turn") {
      refresh("#transcript");
      if (event.speaker === "citizen") refresh("#suggestions");
    } else if (event.type === "owner") {
      refresh("#conversation-state");
      refresh("#transcript");
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/api/handoff/live");
    socket.addEventListener("open", function () {
      delay = 1000;
      showLive(true);
      if (watch) socket.send(JSON.stringify({ watch: watch }));
    });
    socket.addEventListener("message", function (message) {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (event && typeof event === "object") onEvent(event);
    });
    socket.addEventListener("close", function () {
      showLive(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }
  connect();

  // The reply box: sent by htmx (no reload); cleared when sent, the refusal shown when not.
  const reply = document.getElementById("reply");
  const text = document.getElementById("reply-text");
  if (reply && text) {
    const said = reply.querySelector(".form-status");
    reply.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== reply) return;
      if (event.detail.successful) {
        text.value = "";
        said.textContent = "";
        refresh("#transcript");
      } else {
        said.textContent = event.detail.xhr.responseText || "发送失败，请重试";
      }
    });
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        reply.requestSubmit();
      }
    });
    // 参考答复: one click puts the passage and its source into the reply box.
    document.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-insert]");
      if (!button) return;
      text.value = text.value.trim() ? text.value.replace(/\s+$/, "") + "\n" + button.dataset.insert : button.dataset.insert;
      text.focus();
    });
  }

  // The transcript keeps its newest turn in view.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "transcript") event.detail.target.scrollTop = event.detail.target.scrollHeight;
  });
  const transcript = document.getElementById("transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;
})();
