// livepipe overlay page: draws the cards the `overlay` sink streams over Server-Sent Events.
//
// URL parameters: style=default|bubble|compact, max=N (messages on screen), hide=danmaku,gift,sc,guard,medal
// (comma-separated), css=<CSS text, or an http(s) URL of a stylesheet>.
// Safety: every text from viewers goes into text nodes (textContent), never into HTML; image URLs must be
// http(s). The server's Content-Security-Policy also forbids inline scripts.
// window.overlayStats holds counters the tests and the benchmark read.
(() => {
  "use strict";

  const STYLES = ["default", "bubble", "compact"];
  const HIDE_NAMES = {
    danmaku: "danmaku", gift: "gift", gifts: "gift", sc: "sc", superchat: "sc", super_chat: "sc",
    guard: "guard", guards: "guard", medal: "medal", medals: "medal",
  };
  const GUARD_NAMES = { 1: "总督", 2: "提督", 3: "舰长" };
  // Super chat colour tiers by price (CNY), as Bilibili draws them: the class sc-tN picks the colours.
  const SC_TIERS = [[2000, 6], [1000, 5], [500, 4], [100, 3], [50, 2], [0, 1]];
  const SEEN_LIMIT = 5000;   // event ids remembered to drop repeats (after a reconnect)
  const MAX_PINNED = 10;     // super chats pinned at once
  const WATCHDOG_MS = 45000; // no message (the server pings every 15 s) for this long: reconnect

  const params = new URLSearchParams(location.search);
  const body = document.body;
  const list = document.getElementById("list");
  const pinned = document.getElementById("pinned");

  const stats = (window.overlayStats = {
    received: 0, rendered: 0, skipped: 0, hidden: 0, duplicates: 0, connects: 0, errors: 0, lastId: "",
  });

  // ---- settings from the URL -------------------------------------------------------------------
  let style = params.get("style") || body.dataset.defaultStyle;
  if (!STYLES.includes(style)) {
    if (params.has("style")) console.warn("overlay: unknown style", style, "- use one of", STYLES.join(", "));
    style = "default";
  }
  body.dataset.style = style;
  const max = Math.min(500, Math.max(1, parseInt(params.get("max") || body.dataset.defaultMax, 10) || 30));
  const hidden = new Set();
  for (const word of (params.get("hide") || "").split(",")) {
    const name = HIDE_NAMES[word.trim().toLowerCase()];
    if (name) hidden.add(name);
  }
  if (hidden.has("medal")) body.classList.add("hide-medal");
  const css = params.get("css");
  if (css) {
    if (/^https?:\/\//i.test(css)) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = css;
      document.head.appendChild(link);
    } else {
      const el = document.createElement("style");
      el.textContent = css; // CSS text, not HTML: it cannot add elements or scripts
      document.head.appendChild(el);
    }
  }

  // ---- building cards (DOM only, no HTML strings) ----------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\/[^\s"'<>\\`]+$/i.test(url);
  }

  function image(url, cls, alt) {
    const img = new Image();
    img.className = cls;
    img.alt = alt || "";
    img.referrerPolicy = "no-referrer"; // Bilibili's image hosts refuse other sites' referrers
    img.decoding = "async";
    img.addEventListener("error", () => img.classList.add("broken"));
    if (safeUrl(url)) img.src = url;
    return img;
  }

  function medalTier(level) {
    return level >= 21 ? 6 : level >= 17 ? 5 : level >= 13 ? 4 : level >= 9 ? 3 : level >= 5 ? 2 : 1;
  }

  function user(c) {
    const frag = document.createDocumentFragment();
    const guard = GUARD_NAMES[c.guard];
    if (guard) frag.appendChild(el("span", "guard-badge g" + c.guard, guard));
    if (c.medal && c.medal.level > 0) {
      const m = el("span", "medal mt" + medalTier(c.medal.level) + (c.medal.lit ? "" : " unlit"));
      m.appendChild(el("span", "medal-name", c.medal.name || ""));
      m.appendChild(el("span", "medal-level", c.medal.level));
      frag.appendChild(m);
    }
    if (c.admin) frag.appendChild(el("span", "admin-badge", "房管"));
    const name = el("span", "name" + (guard ? " name-g" + c.guard : ""), c.name || "");
    frag.appendChild(name);
    return frag;
  }

  // text with inline emoji: tokens like "[dog]" that the card maps to image URLs become images
  function richText(text, emots) {
    const span = el("span", "text");
    const tokens = emots ? Object.keys(emots).filter((t) => t && text.includes(t)) : [];
    if (!tokens.length) {
      span.textContent = text;
      return span;
    }
    let rest = text;
    while (rest) {
      let at = -1, token = "";
      for (const t of tokens) {
        const i = rest.indexOf(t);
        if (i >= 0 && (at < 0 || i < at)) { at = i; token = t; }
      }
      if (at < 0) { span.appendChild(document.createTextNode(rest)); break; }
      if (at > 0) span.appendChild(document.createTextNode(rest.slice(0, at)));
      const img = image(emots[token], "emot", token);
      img.title = token;
      span.appendChild(img);
      rest = rest.slice(at + token.length);
    }
    return span;
  }

  function scTier(price) {
    for (const [min, tier] of SC_TIERS) if (price >= min) return tier;
    return 1;
  }

  function money(coin) {
    const yuan = coin / 1000;
    return "¥" + (yuan >= 100 || Number.isInteger(yuan) ? yuan.toFixed(0) : yuan.toFixed(1));
  }

  const BUILD = {
    danmaku(c) {
      const row = el("div", "msg danmaku");
      row.appendChild(user(c));
      row.appendChild(el("span", "colon", ":"));
      if (c.reply) row.appendChild(el("span", "reply", "@" + c.reply));
      if (c.emote) {
        const span = el("span", "text");
        const img = image(c.emote.url, "emote", c.text);
        img.title = c.text || "";
        if (c.emote.h > 0) img.style.setProperty("--emote-ratio", String(c.emote.w / c.emote.h || 1));
        span.appendChild(img);
        row.appendChild(span);
        row.classList.add("has-emote");
      } else {
        row.appendChild(richText(c.text || "", c.emots));
      }
      return row;
    },
    gift(c) {
      const row = el("div", "msg gift" + (c.paid ? " paid" : ""));
      row.appendChild(user(c));
      row.appendChild(el("span", "action", c.action || "投喂"));
      if (c.img) row.appendChild(image(c.img, "gift-img", c.gift));
      row.appendChild(el("span", "gift-name", c.gift || ""));
      row.appendChild(el("span", "gift-num", "×" + c.num));
      if (c.paid && c.coin > 0) row.appendChild(el("span", "gift-value", money(c.coin)));
      return row;
    },
    sc(c) {
      const row = el("div", "msg sc sc-t" + scTier(c.price));
      if (c.sc_id) row.dataset.scId = String(c.sc_id);
      const head = el("div", "sc-head");
      head.appendChild(user(c));
      head.appendChild(el("span", "sc-price", "¥" + c.price));
      row.appendChild(head);
      row.appendChild(el("div", "sc-text", c.text || ""));
      if (c.trans) row.appendChild(el("div", "sc-trans", c.trans));
      return row;
    },
    guard(c) {
      const row = el("div", "msg guard g" + c.level);
      row.appendChild(user(c));
      row.appendChild(el("span", "action", "开通了"));
      row.appendChild(el("span", "guard-name", GUARD_NAMES[c.level] || ""));
      row.appendChild(el("span", "guard-num", "×" + c.num + (c.unit || "月")));
      return row;
    },
  };

  // ---- pinned super chats ----------------------------------------------------------------------
  function pin(c) {
    const left = c.end - Date.now() / 1000;
    if (!(left > 0) || hidden.has("sc")) return;
    const item = el("div", "pin sc-t" + scTier(c.price));
    if (c.sc_id) item.dataset.scId = String(c.sc_id);
    item.appendChild(el("span", "pin-name", c.name || ""));
    item.appendChild(el("span", "pin-price", "¥" + c.price));
    const bar = el("span", "pin-bar");
    bar.style.animationDuration = c.dur + "s";
    bar.style.animationDelay = -Math.max(0, c.dur - left) + "s"; // a pin from the history is partly used up
    item.appendChild(bar);
    pinned.appendChild(item);
    while (pinned.childElementCount > MAX_PINNED) pinned.firstElementChild.remove();
    setTimeout(() => item.remove(), left * 1000);
  }

  function unpin(ids) {
    for (const id of ids) {
      for (const node of document.querySelectorAll('[data-sc-id="' + Number(id) + '"]')) node.remove();
    }
  }

  // ---- receiving and drawing -------------------------------------------------------------------
  const seen = new Map();
  let pending = [];
  let scheduled = false;

  function receive(c) {
    stats.received += 1;
    if (seen.has(c.id)) {
      stats.duplicates += 1;
      return;
    }
    seen.set(c.id, true);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.keys().next().value);
    if (c.k === "sc_del") {
      unpin(c.ids || []);
      return;
    }
    if (!BUILD[c.k] || hidden.has(c.k)) {
      stats.hidden += 1;
      return;
    }
    if (c.k === "sc") pin(c);
    pending.push(c);
    if (pending.length > 2 * max) {
      // no frame for a while (OBS may pause a source that is not on screen): keep only what would show
      stats.skipped += pending.length - max;
      pending = pending.slice(pending.length - max);
    }
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  }

  // a busy room (more than BUSY_RATE cards a second) scrolls too fast to see messages slide in:
  // the page then drops the entry animation (body.busy), which saves the browser about a fifth of its work
  const BUSY_RATE = 20;
  let windowStart = 0, windowCount = 0;

  function measureRate(now, n) {
    windowCount += n;
    if (now - windowStart >= 1000) {
      body.classList.toggle("busy", (windowCount * 1000) / (now - windowStart) > BUSY_RATE);
      windowStart = now;
      windowCount = 0;
    }
  }

  // one batch per frame: cards that would scroll off at once are counted as skipped, not drawn
  function draw(now) {
    scheduled = false;
    measureRate(now, pending.length);
    let batch = pending;
    pending = [];
    if (batch.length > max) {
      stats.skipped += batch.length - max;
      batch = batch.slice(batch.length - max);
    }
    const frag = document.createDocumentFragment();
    for (const c of batch) {
      const node = BUILD[c.k](c);
      node.dataset.id = c.id;
      frag.appendChild(node);
    }
    list.appendChild(frag);
    let extra = list.childElementCount - max;
    while (extra-- > 0) list.firstElementChild.remove();
    stats.rendered += batch.length;
  }

  // ---- the connection --------------------------------------------------------------------------
  let source = null;
  let lastMessage = Date.now();
  let retryMs = 1000;

  function connect() {
    const url = "/events" + (stats.lastId ? "?last_id=" + encodeURIComponent(stats.lastId) : "");
    source = new EventSource(url);
    source.onopen = () => {
      stats.connects += 1;
      retryMs = 1000;
      lastMessage = Date.now();
      body.classList.remove("offline");
    };
    source.onmessage = (e) => {
      lastMessage = Date.now();
      if (e.lastEventId) stats.lastId = e.lastEventId;
      let c;
      try {
        c = JSON.parse(e.data);
      } catch (err) {
        console.warn("overlay: a message that is not JSON", err);
        return;
      }
      if (c && typeof c === "object" && typeof c.id === "string") receive(c);
    };
    source.addEventListener("ping", () => {
      lastMessage = Date.now();
    });
    source.onerror = () => {
      stats.errors += 1;
      body.classList.add("offline");
      // EventSource retries by itself; when it gives up (an HTTP error), start a new one later
      if (source.readyState === EventSource.CLOSED) reconnectLater();
    };
  }

  function reconnectLater() {
    if (source) source.close();
    source = null;
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  }

  setInterval(() => {
    if (source && Date.now() - lastMessage > WATCHDOG_MS) {
      console.warn("overlay: no message for", WATCHDOG_MS / 1000, "s; reconnecting");
      lastMessage = Date.now();
      reconnectLater();
    }
  }, 5000);

  connect();
})();
