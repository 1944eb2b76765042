// agent-trace dashboard behaviour: local times, keyboard, live updates, lazy replay cards.
// No framework, no build step. HTML fragments come from our own server, which escapes every
// transcript-derived string; the strict CSP (script-src 'self') stops anything inline anyway.
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const page = document.body.dataset.page || "";

  // ---- local time ------------------------------------------------------------------------
  const formats = {
    datetime: new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }),
    time: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  };
  function localize(root) {
    for (const el of $$("time[datetime]", root)) {
      if (!el.dateTime) continue;
      const d = new Date(el.dateTime);
      if (Number.isNaN(d.getTime())) continue;
      el.textContent = (formats[el.dataset.fmt] || formats.datetime).format(d);
      el.title = d.toString();
    }
  }
  localize(document);

  // The cost page groups days in a time zone: tell the server the browser's (a cookie), and if
  // this page was drawn for another zone without one being asked for, draw it again once.
  let browserTz = "";
  try { browserTz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browserTz = ""; }
  if (/^[A-Za-z0-9_+\-\/]{1,64}$/.test(browserTz)) {
    document.cookie = "agent_trace_tz=" + browserTz + "; path=/; max-age=31536000; SameSite=Strict";
    const head = $(".cost-head");
    if (head && head.dataset.explicitTz === "0" && head.dataset.tz !== browserTz && !sessionStorage.getItem("tz-reloaded")) {
      sessionStorage.setItem("tz-reloaded", "1");
      location.reload();
    }
  }

  // ---- fetching fragments ----------------------------------------------------------------
  async function fetchHtml(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.text();
  }
  function parse(html) {
    // DOMParser never runs scripts; our fragments contain none in any case.
    return new DOMParser().parseFromString(html, "text/html");
  }

  // ---- selection and keyboard ------------------------------------------------------------
  function items() {
    if (page === "sessions") return $$("#sessions tbody tr.row");
    if (page === "replay") return $$("#cards article.card");
    return [];
  }
  function selected() { return items().find((el) => el.classList.contains("selected")); }
  function select(el) {
    for (const other of items()) other.classList.remove("selected");
    if (!el) return;
    el.classList.add("selected");
    if (page === "replay") el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    const list = items();
    if (!list.length) return;
    const at = list.indexOf(selected());
    const next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    select(list[next]);
  }
  function activate() {
    const el = selected();
    if (!el) return;
    if (page === "sessions") {
      const link = $("td.sid a", el);
      if (link) location.href = link.href;
    } else if (page === "replay") {
      const details = $(":scope > details", el);
      if (details) details.open = !details.open;
    }
  }
  async function toggleTools() {
    const el = selected() || (page === "replay" ? items()[0] : null);
    if (!el) return;
    const card = $(":scope > details", el);
    if (card && !card.open) {
      card.open = true;
      if (card.dataset.lazy) await loadLazy(card);
    }
    const tools = $$("details.tool", el);
    const openAll = tools.some((t) => !t.open);
    if (openAll) await loadBodies(el, tools.filter((t) => t.dataset.lazy));
    for (const t of tools) t.open = openAll;
  }
  // Lazy tool bodies of a card in batches of 100 (one request each, not one per tool call).
  async function loadBodies(card, lazy) {
    const sid = ($("#session-head") || {}).dataset ? $("#session-head").dataset.sessionId : "";
    for (let i = 0; i < lazy.length; i += 100) {
      const batch = lazy.slice(i, i + 100);
      const url = "/sessions/" + encodeURIComponent(sid) + "/tool-bodies?ids=" +
        batch.map((t) => encodeURIComponent(t.dataset.toolUseId)).join(",");
      try {
        const doc = parse(await fetchHtml(url));
        // A fragment that starts with <template> has it parsed into <head>: search the document.
        const bodies = new Map($$("template[data-for]", doc).map((t) => [t.dataset.for, t]));
        for (const details of batch) {
          const tpl = bodies.get(details.dataset.toolUseId);
          if (!tpl) continue;
          const body = $(":scope > .tool-body", details);
          body.replaceChildren(tpl.content.cloneNode(true));
          localize(body);
          delete details.dataset.lazy;
        }
      } catch (err) {
        // Whatever is still lazy loads on its own when opened.
      }
    }
  }
  function toggleHelp(force) {
    const help = $("#keys");
    if (help) help.hidden = force === undefined ? !help.hidden : !force;
  }
  let pendingG = false;
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (ev.key === "Escape") {
      toggleHelp(false);
      if (typing) t.blur();
      return;
    }
    if (typing) return;
    if (pendingG) {
      pendingG = false;
      if (ev.key === "s") { location.href = "/"; return; }
      if (ev.key === "c") { location.href = "/cost"; return; }
      if (ev.key === "f") { location.href = "/search"; return; }
    }
    switch (ev.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter":
        // Links, buttons and <summary> already act on Enter themselves.
        if (t && /^(A|BUTTON|SUMMARY)$/.test(t.tagName)) return;
        activate();
        break;
      case "e": toggleTools(); break;
      case "/": {
        const q = $("#q");
        if (q) { q.focus(); q.select(); } else { location.href = "/search"; }
        break;
      }
      case "?": toggleHelp(); break;
      case "g": pendingG = true; return;
      default: return;
    }
    ev.preventDefault();
  });
  document.addEventListener("click", (ev) => {
    const help = ev.target.closest("[data-action=help]");
    if (help) toggleHelp();
    const copy = ev.target.closest("button.copy");
    if (copy) copyFrom(copy);
  });

  // ---- filter value lists: fetched when a filter box is first used --------------------------
  let choicesLoaded = false;
  document.addEventListener("focusin", async (ev) => {
    const input = ev.target;
    if (choicesLoaded || !(input instanceof HTMLInputElement) || !input.getAttribute("list")) return;
    if (!$("datalist[data-lazy-choices]")) return;
    choicesLoaded = true;
    try {
      const doc = parse(await fetchHtml("/filter-choices"));
      for (const list of $$("datalist", doc)) {
        const mine = document.getElementById(list.id);
        if (mine) mine.replaceChildren(...list.childNodes);
      }
      document.body.dataset.choices = "loaded";
    } catch (err) {
      choicesLoaded = false;  // try again on the next focus
    }
  });

  // ---- copy buttons ----------------------------------------------------------------------
  // data-copy holds the text (a session id, a command, a full path); data-copy-code copies the
  // code block beside the button, without its line numbers.
  function copyText(button) {
    if (button.dataset.copy !== undefined) return button.dataset.copy;
    const box = button.closest(".code-block, .sec");
    const pre = box && $(".hl pre, pre", box);
    if (!pre) return "";
    const clone = pre.cloneNode(true);
    for (const n of $$(".linenos", clone)) n.remove();
    return clone.textContent;
  }
  async function copyFrom(button) {
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(copyText(button));
      button.textContent = "copied";
    } catch (err) {
      button.textContent = "copy failed";
    }
    setTimeout(() => { button.textContent = label; }, 1200);
  }
  if (location.hash === "#search" && $("#q")) $("#q").focus();

  // ---- sessions: live rows ---------------------------------------------------------------
  function liveState(text) {
    const el = $("#live-state");
    if (el) el.textContent = text;
  }
  // body[data-live] tells people (and tests) whether live updates are flowing.
  function watch(source) {
    source.addEventListener("open", () => { document.body.dataset.live = "open"; liveState("live"); });
    source.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; liveState("reconnecting…"); });
  }
  function startSessionsLive() {
    const table = $("#sessions");
    if (!table || !table.dataset.live || !window.EventSource) return;
    const firstPage = table.dataset.firstPage === "1";
    const descending = (table.dataset.sort || "-started").startsWith("-");
    const sort = table.dataset.sort || "-started";
    const url = table.dataset.live + (table.dataset.live.includes("?") ? "&" : "?") + "sort=" + encodeURIComponent(sort);
    const source = new EventSource(url);
    watch(source);
    source.addEventListener("session", (ev) => {
      const data = JSON.parse(ev.data);
      const tpl = document.createElement("template");
      tpl.innerHTML = data.html.trim();
      const row = tpl.content.firstElementChild;
      if (!row) return;
      localize(row);
      const body = $("tbody", table);
      const existing = $$("tr.row", body).find((r) => r.dataset.sessionId === data.session_id);
      if (existing) {
        if (existing.classList.contains("selected")) row.classList.add("selected");
        existing.replaceWith(row);
      } else {
        // A text order (user, repo) has no number to place a new row by: it shows on reload.
        if (!firstPage || /^[-+]?(user|repo)$/.test(sort)) return;
        const value = Number(data.sort);
        const before = $$("tr.row", body).find((r) => {
          const other = Number(r.dataset.sort);
          return descending ? other < value : other > value;
        });
        body.insertBefore(row, before || null);
      }
      row.classList.add("fresh");
      const empty = $("#empty");
      if (empty) empty.hidden = true;
    });
  }

  // ---- replay: lazy cards and tool bodies, "show more", live refresh ---------------------
  // A few fetches at a time: "unfold every tool call" on a big card must not fire hundreds.
  let running = 0;
  const queue = [];
  function limited(task) {
    return new Promise((resolve) => {
      const start = () => {
        running += 1;
        task().finally(() => {
          running -= 1;
          if (queue.length) queue.shift()();
          resolve();
        });
      };
      if (running < 4) start(); else queue.push(start);
    });
  }
  function loadLazy(details) {
    const url = details.dataset.lazy;
    if (!url || details.dataset.loading) return Promise.resolve();
    details.dataset.loading = "1";
    const body = $(":scope > .card-body, :scope > .tool-body", details);
    return limited(async () => {
      try {
        body.innerHTML = await fetchHtml(url);
        localize(body);
        delete details.dataset.lazy;
        for (const inner of $$("details[data-lazy][open]", body)) loadLazy(inner);
      } catch (err) {
        body.textContent = "could not load: " + err.message;
      } finally {
        delete details.dataset.loading;
      }
    });
  }
  // `toggle` does not bubble; listening in the capture phase sees every <details>, including
  // the ones fragments add later.
  document.addEventListener("toggle", (ev) => {
    const details = ev.target;
    if (details instanceof HTMLDetailsElement && details.open && details.dataset.lazy) loadLazy(details);
  }, true);
  function wireCards(root) {
    for (const details of $$("details[data-lazy][open]", root)) loadLazy(details);
  }
  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-more]");
    if (!button) return;
    button.disabled = true;
    try {
      const doc = parse(await fetchHtml(button.dataset.more));
      const itemsBox = button.parentElement.querySelector(".items");
      const chunk = $(".chunk", doc.body);
      if (itemsBox && chunk) {
        localize(chunk);
        while (chunk.firstChild) itemsBox.appendChild(chunk.firstChild);
      }
      const next = $("button[data-more]", doc.body);
      if (next) button.replaceWith(next); else button.remove();
    } catch (err) {
      button.disabled = false;
      button.textContent = "could not load more: " + err.message;
    }
  });

  function openState(card) {
    const open = new Set();
    for (const d of $$("details.tool[open]", card)) open.add(d.dataset.toolUseId);
    return open;
  }
  async function refreshReplay(head) {
    const doc = parse(await fetchHtml(head.dataset.refresh));
    const newHead = $("#session-head", doc.body);
    const current = $("#session-head");
    if (newHead && current) {
      localize(newHead);
      current.replaceWith(newHead);
    }
    const cardsBox = $("#cards");
    const fresh = $$("#cards article[data-index]", doc.body);
    const old = new Map($$("article[data-index]", cardsBox).map((c) => [c.dataset.index, c]));
    const selectedIndex = (selected() || {}).dataset ? selected().dataset.index : null;
    for (const card of fresh) {
      const was = old.get(card.dataset.index);
      if (was && was.dataset.rev === card.dataset.rev) continue;
      localize(card);
      if (was) {
        const wasDetails = $(":scope > details", was);
        const details = $(":scope > details", card);
        if (wasDetails && details) details.open = wasDetails.open;
        const openTools = openState(was);
        for (const d of $$("details.tool", card)) if (openTools.has(d.dataset.toolUseId)) d.open = true;
        was.replaceWith(card);
      } else {
        const empty = $(".empty", cardsBox);
        if (empty) empty.remove();
        cardsBox.appendChild(card);
      }
      if (card.dataset.index === selectedIndex) card.classList.add("selected");
      card.classList.add("fresh");
      wireCards(card);
    }
  }
  function startReplayLive() {
    const head = $("#session-head");
    if (!head || !head.dataset.live || !window.EventSource) return;
    let busy = false;
    let again = false;
    const run = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        do {
          again = false;
          await refreshReplay($("#session-head") || head);
        } while (again);
      } catch (err) {
        // The next change event retries; nothing to do now.
      } finally {
        busy = false;
      }
    };
    const source = new EventSource(head.dataset.live);
    watch(source);
    source.addEventListener("session", run);
  }

  // ---- replay: what was open survives Back and reload -----------------------------------
  // Pages are no-store (never from the back/forward cache), so the open cards and tool calls are
  // kept per page in sessionStorage and opened again when the page is drawn.
  const stateKey = "open:" + location.pathname + location.search;
  function saveOpen() {
    const cards = $$("#cards article[data-index] > details").filter((d) => d.open).map((d) => d.parentElement.dataset.index);
    const tools = $$("details.tool[open]").map((d) => d.dataset.toolUseId);
    try { sessionStorage.setItem(stateKey, JSON.stringify({ cards, tools, y: window.scrollY })); } catch (e) { /* full */ }
  }
  function restoreOpen() {
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(stateKey) || "null"); } catch (e) { saved = null; }
    if (!saved) return;
    const cards = new Set(saved.cards || []);
    for (const card of $$("#cards article[data-index]")) {
      const details = $(":scope > details", card);
      if (details && cards.has(card.dataset.index)) details.open = true;
    }
    const tools = new Set(saved.tools || []);
    let observer = null;
    const reopen = () => {
      for (const d of $$("details.tool")) {
        if (!tools.has(d.dataset.toolUseId)) continue;
        tools.delete(d.dataset.toolUseId);
        d.open = true;
      }
      if (!tools.size && observer) observer.disconnect();
    };
    reopen();
    // Tool calls inside cards that load lazily open once their card's body arrives.
    if (tools.size && $("#cards")) {
      observer = new MutationObserver(reopen);
      observer.observe($("#cards"), { childList: true, subtree: true });
    }
    if (!location.hash && saved.y) window.scrollTo(0, saved.y);
  }
  document.addEventListener("toggle", () => { if (page === "replay") saveOpen(); }, true);
  window.addEventListener("pagehide", () => { if (page === "replay") saveOpen(); });

  if (page === "sessions") startSessionsLive();
  // A link to one tool call (#t-<tool_use_id>, from search and the timeline): open it and its
  // ancestors, and scroll to it. (No id attribute per tool call: 2,000 of them are 90 kB.)
  function openLinked() {
    if (!location.hash.startsWith("#t-")) return;
    const wanted = decodeURIComponent(location.hash.slice(3));
    const target = $$("details.tool").find((d) => d.dataset.toolUseId === wanted);
    if (!target) return;
    for (let d = target; d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
    target.classList.add("linked");
    target.scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", openLinked);

  // The loop's evidence (the outcome panel lists those tool calls) is highlighted in the cards,
  // including cards and tool bodies loaded later.
  function markLoops() {
    const panel = $(".outcome-panel[data-loop-evidence]");
    const ids = new Set(((panel && panel.dataset.loopEvidence) || "").split(" ").filter(Boolean));
    if (!ids.size) return;
    for (const d of $$("details.tool[data-tool-use-id]")) {
      if (ids.has(d.dataset.toolUseId) && !d.classList.contains("loop")) d.classList.add("loop");
    }
  }
  if (page === "replay") {
    openLinked();
    restoreOpen();
    wireCards(document);
    startReplayLive();
    markLoops();
    new MutationObserver(markLoops).observe(document.body, { childList: true, subtree: true });
  }
})();
