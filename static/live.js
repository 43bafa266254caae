// Gavel's live client, shared by every page (no build step, no library).
//
// - The clock: countdowns use the server's time, never the browser's alone.
//   offset = server_time - Date.now() at receipt, from the time the page was
//   rendered, then refined with GET /api/v1/time (half the round trip).
// - Money: minor units shown with Intl.NumberFormat in the auction's currency.
// - Countdowns: every [data-countdown] element, ticking four times a second.
// - Gavel.Live: one WebSocket (/api/v1/ws) with subscriptions that survive
//   reconnects. It reconnects with exponential backoff and jitter and
//   resumes every subscription with after_seq = the last seq it saw.
(function () {
  "use strict";

  const Gavel = (window.Gavel = window.Gavel || {});

  // ---- the server's clock -------------------------------------------------
  let offset = 0;
  const meta = document.querySelector('meta[name="gavel-server-time"]');
  if (meta) {
    const rendered = Date.parse(meta.content);
    if (!Number.isNaN(rendered)) offset = rendered - Date.now();
  }

  /** The server's time now, in milliseconds since the epoch. */
  Gavel.serverNow = function () {
    return Date.now() + offset;
  };

  /** Asks the server for its time; keeps the estimate with the best round trip. */
  let bestRoundTrip = Infinity;
  Gavel.syncClock = async function () {
    try {
      const sent = Date.now();
      const response = await fetch("/api/v1/time", { cache: "no-store", credentials: "same-origin" });
      const received = Date.now();
      if (!response.ok) return;
      const body = await response.json();
      const server = Date.parse(body.now);
      const roundTrip = received - sent;
      if (Number.isNaN(server)) return;
      // A stale estimate (older than a minute) is replaced whatever its quality.
      if (roundTrip <= bestRoundTrip * 1.5 || received - (Gavel._syncedAt || 0) > 60000) {
        offset = server - (sent + received) / 2;
        bestRoundTrip = Math.min(bestRoundTrip, roundTrip);
        Gavel._syncedAt = received;
      }
    } catch (_) {
      // Offline: keep the estimate we have.
    }
  };

  // ---- formatting --------------------------------------------------------
  // Money and times in the reader's own locale (a Dutch reader sees
  // "€ 1.234,50", an American "€1,234.50"), the page's language otherwise.
  const lang = (navigator.languages && navigator.languages[0]) || navigator.language ||
    document.documentElement.lang || "en";
  Gavel.locale = lang;
  const moneyFormats = new Map();

  /** 12550, "EUR" → "€125.50" (always two decimals: amounts are cents). */
  Gavel.money = function (amount, currency) {
    if (!moneyFormats.has(currency)) {
      let format = null;
      try {
        format = new Intl.NumberFormat(lang, {
          style: "currency",
          currency: currency,
          minimumFractionDigits: 2,
          maximumFractionDigits: 2,
        });
      } catch (_) {
        format = null;
      }
      moneyFormats.set(currency, format);
    }
    const format = moneyFormats.get(currency);
    const major = amount / 100;
    return format ? format.format(major) : currency + " " + major.toFixed(2);
  };

  /** Minor units as a form value: 12550 → "125.50". */
  let decimalMark = ".";
  try {
    const part = new Intl.NumberFormat(lang).formatToParts(1.5).find(function (p) {
      return p.type === "decimal";
    });
    if (part && (part.value === "," || part.value === ".")) decimalMark = part.value;
  } catch (_) {
    // keep the dot
  }

  /** 12550 → "125.50" (or "125,50" where the reader writes a decimal comma). */
  Gavel.moneyInput = function (amount) {
    return Math.floor(amount / 100) + decimalMark + String(amount % 100).padStart(2, "0");
  };

  /**
   * What a reader types → minor units, or null. Either a dot or a comma may
   * mark the cents (one or two digits after the last one); the other, or
   * spaces and apostrophes, may group thousands: "12", "12.5", "12,50",
   * "1 234.00", "1.234,56", "1,234.56", "1'234".
   */
  Gavel.parseMoney = function (text) {
    const cleaned = String(text).replace(/[\s_'\u2019\u00a0\u202f]/g, "");
    const parts = /^(.*?)(?:([.,])(\d{1,2}))?$/.exec(cleaned);
    if (!cleaned || !parts) return null;
    let whole = parts[1];
    const decimal = parts[2];
    const cents = parts[3];
    if (whole === "" && cents === undefined) return null;
    if (/[.,]/.test(whole)) {
      // Thousands groups: one kind of separator, other than the decimal one.
      const group = /^\d{1,3}(([.,])\d{3})(\2\d{3})*$/.exec(whole);
      if (!group || group[2] === decimal) return null;
      whole = whole.replace(/[.,]/g, "");
    }
    if (!/^\d{0,13}$/.test(whole)) return null;
    const amount = parseInt(whole || "0", 10) * 100 + (cents === undefined ? 0 : parseInt(cents.padEnd(2, "0"), 10));
    return amount >= 1 && amount <= 1e12 ? amount : null;
  };

  Gavel.plural = function (count, noun) {
    return count === 1 ? "1 " + noun : count + " " + noun + "s";
  };

  /** Milliseconds → "2d 4h", "1h 02m", "4m 09s", "9s". */
  Gavel.remainingText = function (ms) {
    const secs = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(secs / 86400);
    const h = Math.floor(secs / 3600) % 24;
    const m = Math.floor(secs / 60) % 60;
    const s = secs % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + two(m) + "m";
    if (m > 0) return m + "m " + two(s) + "s";
    return s + "s";
  };

  const timeFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const clockFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const preciseFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });

  /** An absolute time in the reader's own time zone. */
  Gavel.localTime = function (iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? iso : timeFormat.format(new Date(t));
  };
  /** The same with seconds (an end time, which a late bid moves by seconds). */
  Gavel.preciseTime = function (iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? iso : preciseFormat.format(new Date(t));
  };
  Gavel.clockTime = function (iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? iso : clockFormat.format(new Date(t));
  };

  /** A bid's time: with seconds, and with the date only when not today. */
  Gavel.bidTime = function (iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso;
    const when = new Date(t);
    return when.toDateString() === new Date(Gavel.serverNow()).toDateString()
      ? clockFormat.format(when)
      : timeFormat.format(when);
  };

  /**
   * Rewrites every <time data-local datetime="…"> in the reader's time zone
   * (data-local="bid": to the second; "precise": date and time to the
   * second), and every [data-amount][data-currency]
   * in the reader's money format, so server text and live text agree.
   */
  Gavel.localize = function (root) {
    const scope = root || document;
    scope.querySelectorAll("time[data-local]").forEach(function (el) {
      const iso = el.getAttribute("datetime");
      const text = el.dataset.local === "bid"
        ? Gavel.bidTime(iso)
        : el.dataset.local === "precise"
          ? Gavel.preciseTime(iso)
          : Gavel.localTime(iso);
      if (el.textContent !== text) el.textContent = text;
      if (!el.title) el.title = Gavel.localTime(iso);
    });
    scope.querySelectorAll("[data-amount][data-currency]").forEach(function (el) {
      const amount = Number(el.dataset.amount);
      if (Number.isFinite(amount)) el.textContent = Gavel.money(amount, el.dataset.currency);
    });
  };

  // ---- countdowns -------------------------------------------------------------
  /**
   * Updates one countdown from its data attributes (status, starts-at,
   * ends-at), by the server's clock. Sets data-remaining-secs for styling
   * and tests; fires "gavel:started" once when a scheduled auction opens.
   */
  Gavel.updateCountdown = function (el, now) {
    const status = el.dataset.status;
    const starts = Date.parse(el.dataset.startsAt);
    const ends = Date.parse(el.dataset.endsAt);
    let text;
    let remaining = null;
    // Lists carry the actual close time (data-closed-at); the lot page
    // shows it in its facts instead.
    const closedAt = el.dataset.closedAt;
    if (status === "cancelled") {
      text = closedAt ? "Cancelled at " + Gavel.localTime(closedAt) : "Cancelled";
    } else if (status === "closed") {
      text = closedAt ? "Closed at " + Gavel.localTime(closedAt) : "Ended";
    } else if (now < starts) {
      remaining = starts - now;
      text = "Starts in " + Gavel.remainingText(remaining);
    } else if (now < ends) {
      remaining = ends - now;
      text = "Ends in " + Gavel.remainingText(remaining);
      if (status === "scheduled") {
        el.dataset.status = "open";
        el.dispatchEvent(new CustomEvent("gavel:started", { bubbles: true }));
      }
    } else {
      remaining = 0;
      text = "Ending…";
    }
    if (el.textContent !== text) el.textContent = text;
    el.dataset.remainingSecs = remaining === null ? "" : String(Math.round(remaining / 1000));
    el.classList.toggle("soon", remaining !== null && now >= starts && remaining < 60000);
  };

  function tick() {
    const now = Gavel.serverNow();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      Gavel.updateCountdown(el, now);
    });
  }

  // ---- the WebSocket ------------------------------------------------------------
  const STATE_TEXT = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    offline: "Offline: waiting for the network",
  };

  /** Shows the connection state in every [data-conn] indicator, except those
   *  of a page whose auction ended (`data-ended`). */
  Gavel.showConnection = function (state, detail, retryNow) {
    document.querySelectorAll("[data-conn]").forEach(function (el) {
      if (el.dataset.ended === "true") return;
      el.hidden = false;
      el.dataset.state = state;
      const text = el.querySelector(".conn-text");
      if (text) text.textContent = detail || STATE_TEXT[state] || state;
      el.title = state === "live" ? "Prices update live" : "Prices may be out of date";
      // "Retry now" while waiting to reconnect.
      let retry = el.querySelector(".conn-retry");
      if (retryNow && !retry) {
        retry = document.createElement("button");
        retry.type = "button";
        retry.className = "conn-retry link-button";
        retry.textContent = "Retry now";
        el.appendChild(retry);
      }
      if (retry) {
        retry.hidden = !retryNow;
        retry.onclick = retryNow || null;
      }
    });
  };

  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 30000;
  /** A connection that has stayed up this long resets the backoff. */
  const STABLE_AFTER_MS = 5000;

  /**
   * One WebSocket with subscriptions and automatic reconnection.
   * options.onFrame(frame): every parsed server frame.
   * options.onOpen(): after (re)connecting and resubscribing.
   * options.onClose(): when the connection is lost (a reconnect follows).
   */
  Gavel.Live = function (options) {
    this.onFrame = options.onFrame || function () {};
    this.onOpen = options.onOpen || function () {};
    this.onClose = options.onClose || function () {};
    this.countdownTimer = null;
    this.subscriptions = new Map(); // auction id → last seen seq (null: none yet)
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.stableTimer = null;
  };

  Gavel.Live.prototype.start = function () {
    const live = this;
    window.addEventListener("online", function () {
      live.reconnectNow();
    });
    window.addEventListener("offline", function () {
      Gavel.showConnection("offline");
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        Gavel.syncClock();
        live.reconnectNow();
      }
    });
    this.connect();
  };

  /** Subscribes to an auction; `afterSeq` resumes after that event (replay). */
  Gavel.Live.prototype.subscribe = function (auctionId, afterSeq) {
    this.subscriptions.set(auctionId, afterSeq === undefined ? null : afterSeq);
    this.sendSubscribe(auctionId);
  };

  /** Records the last seq seen of an auction (where a reconnect resumes). */
  Gavel.Live.prototype.noteSeq = function (auctionId, seq) {
    const last = this.subscriptions.get(auctionId);
    if (this.subscriptions.has(auctionId) && (last === null || seq > last)) {
      this.subscriptions.set(auctionId, seq);
    }
  };

  Gavel.Live.prototype.sendSubscribe = function (auctionId) {
    const seq = this.subscriptions.get(auctionId);
    const frame = { type: "subscribe", auction_id: auctionId };
    if (seq !== null && seq !== undefined) frame.after_seq = seq;
    this.send(frame);
  };

  Gavel.Live.prototype.isOpen = function () {
    return !!this.socket && this.socket.readyState === WebSocket.OPEN;
  };

  /** Sends a frame when connected; false when not (the caller decides). */
  Gavel.Live.prototype.send = function (frame) {
    if (!this.isOpen()) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  };

  Gavel.Live.prototype.connect = function () {
    const live = this;
    clearTimeout(this.retryTimer);
    if (!navigator.onLine) {
      Gavel.showConnection("offline");
      return; // the "online" event reconnects
    }
    Gavel.showConnection(this.attempt === 0 ? "connecting" : "reconnecting");
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws";
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (_) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = function () {
      if (live.socket !== socket) return;
      Gavel.syncClock();
      live.subscriptions.forEach(function (_, auctionId) {
        live.sendSubscribe(auctionId);
      });
      Gavel.showConnection("live");
      clearTimeout(live.stableTimer);
      live.stableTimer = setTimeout(function () {
        live.attempt = 0;
      }, STABLE_AFTER_MS);
      live.onOpen();
    };
    socket.onmessage = function (message) {
      if (live.socket !== socket) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (frame.type === "error" && frame.error && frame.error.code === "unavailable") {
        // The server could not make a subscription: start over after a pause
        // (the close below schedules the reconnect, with backoff).
        try {
          socket.close();
        } catch (_) {
          // already closing
        }
        return;
      }
      live.onFrame(frame);
    };
    socket.onclose = function () {
      if (live.socket !== socket) return;
      live.socket = null;
      clearTimeout(live.stableTimer);
      live.onClose();
      live.scheduleReconnect();
    };
    socket.onerror = function () {
      // A close event follows; reconnecting happens there.
    };
  };

  /** Exponential backoff with "equal jitter": half fixed, half random. */
  Gavel.Live.prototype.scheduleReconnect = function () {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, this.attempt));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt = Math.min(this.attempt + 1, 16);
    const live = this;
    const due = Date.now() + delay;
    const retryNow = function () {
      live.reconnectNow();
    };
    // Count down to the next attempt, second by second.
    const show = function () {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      Gavel.showConnection("reconnecting", "Reconnecting in " + seconds + " s…", retryNow);
    };
    show();
    clearInterval(this.countdownTimer);
    this.countdownTimer = setInterval(show, 250);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () {
      clearInterval(live.countdownTimer);
      live.connect();
    }, delay);
  };

  Gavel.Live.prototype.reconnectNow = function () {
    clearInterval(this.countdownTimer);
    if (this.isOpen()) return;
    if (this.socket) {
      const old = this.socket;
      this.socket = null;
      try {
        old.close();
      } catch (_) {
        // already closing
      }
    }
    this.connect();
  };

  // ---- start ----------------------------------------------------------------------
  function start() {
    Gavel.localize();
    tick();
    setInterval(tick, 250);
    Gavel.syncClock();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
