// Live lists of auctions: the front page, "my bids", the admin dashboard
// and the admin auction detail.
//
// Every element with data-live-auction="ID" (and data-currency,
// data-status, data-my-alias, data-seq) is kept up to date from the
// WebSocket; fields inside it are marked with
// data-field="price|bids|bids-text|leader|reserve|reserve-label|you-lead|
// standing|my-max".
// Each new event is also announced as a "gavel:auction-changed" DOM event
// (detail: {id, seq}) for page-specific scripts.
//
// Sections marked data-live-list="NAME" also move lots between them: the
// page refetches itself (the same URL, so the same server-rendered rows)
// every few seconds and at once when a lot it shows starts, closes or is
// cancelled, and swaps in each section whose lots or counts changed. New
// lots appear, started ones move to "open", ended ones leave it, without a
// reload; rows that stay keep their live state.
(function () {
  "use strict";

  const Gavel = window.Gavel;
  if (!Gavel) return;

  const REFRESH_MS = 5000;

  let byId = new Map();
  const latest = new Map(); // id → { data, seq }: the newest state seen
  const seen = new Map(); // id → highest seq applied

  function index() {
    byId = new Map();
    document.querySelectorAll("[data-live-auction]").forEach(function (el) {
      const id = el.dataset.liveAuction;
      if (!byId.has(id)) byId.set(id, []);
      byId.get(id).push(el);
    });
  }
  index();

  const hasLists = document.querySelector("[data-live-list]") !== null;

  function isLive(el) {
    return el.dataset.status === "open" || el.dataset.status === "scheduled";
  }

  /** Auctions shown that can still change: worth a subscription. */
  function liveIds() {
    return Array.from(byId.keys()).filter(function (id) {
      return byId.get(id).some(isLive);
    });
  }

  if (liveIds().length === 0 && !hasLists) return;

  function setText(root, field, text) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) {
      if (el.textContent !== text) el.textContent = text;
    });
  }

  /** Applies a public state (a Snapshot or an event's data) to one view. */
  function applyTo(el, data, seq) {
    const currency = el.dataset.currency;
    const wasLive = isLive(el);
    const priceEl = el.querySelector('[data-field="price"]');
    const priceText = Gavel.money(data.current_price, currency);
    if (priceEl && priceEl.textContent !== priceText) {
      priceEl.textContent = priceText;
      priceEl.dataset.amount = String(data.current_price);
      priceEl.classList.remove("flash-up");
      void priceEl.offsetWidth; // restart the animation
      priceEl.classList.add("flash-up");
    }
    setText(el, "bids", String(data.bid_count));
    el.querySelectorAll('[data-field="min-next"]').forEach(function (minNext) {
      minNext.dataset.amount = String(data.min_next_bid);
      minNext.textContent = Gavel.money(data.min_next_bid, currency);
    });
    setText(el, "bids-text", Gavel.plural(data.bid_count, "bid"));
    setText(el, "leader", data.leader || "—");
    setText(el, "reserve", data.reserve_met ? "met" : "not met");
    el.querySelectorAll('[data-field="reserve-label"]').forEach(function (label) {
      const kind = label.dataset.hasReserve !== "true" ? "none" : data.reserve_met ? "met" : "not-met";
      const text = { none: "No reserve", met: "Reserve met", "not-met": "Reserve not met" }[kind];
      if (label.textContent !== text) label.textContent = text;
      label.className = "reserve-label reserve-" + kind;
    });
    const mine = !!el.dataset.myAlias && data.leader === el.dataset.myAlias;
    el.querySelectorAll('[data-field="you-lead"]').forEach(function (badge) {
      badge.hidden = !mine || data.status === "closed" || data.status === "cancelled";
    });
    el.querySelectorAll('[data-field="standing"]').forEach(function (badge) {
      let standing;
      if (data.status === "cancelled") standing = "cancelled";
      else if (data.status === "closed") standing = mine ? "won" : "lost";
      else standing = mine ? "leading" : "outbid";
      badge.textContent = standing.charAt(0).toUpperCase() + standing.slice(1);
      badge.className = "badge badge-" + standing;
    });
    // My maximum stands only while I lead (a refetch brings a new one).
    if (!mine || data.status !== "open") {
      el.querySelectorAll('[data-field="my-max"]').forEach(function (cell) {
        if (cell.textContent !== "—") cell.textContent = "—";
      });
      el.dataset.myMax = "";
    }
    el.dataset.status = data.status;
    el.dataset.seq = String(seq);
    el.querySelectorAll("[data-countdown]").forEach(function (countdown) {
      countdown.dataset.endsAt = data.ends_at;
      // The actual close time: in a snapshot, or the closing event's own
      // time (its server_time when it reaches us live).
      const ended = data.status === "closed" || data.status === "cancelled";
      if (ended && "closedAt" in countdown.dataset && !countdown.dataset.closedAt) {
        countdown.dataset.closedAt = data.closed_at || data.server_time || "";
      }
      if (data.starts_at) countdown.dataset.startsAt = data.starts_at;
      // The clock decides between scheduled and open; events only end auctions.
      if (data.status !== "scheduled") countdown.dataset.status = data.status;
      Gavel.updateCountdown(countdown, Gavel.serverNow());
    });
    // A lot that just ended belongs in another section.
    if (hasLists && wasLive && !isLive(el)) refreshSoon();
  }

  /** Applies a public state to every view of the auction. */
  function apply(id, data, seq) {
    const last = seen.get(id);
    if (last !== undefined && seq <= last) return;
    seen.set(id, seq);
    latest.set(id, { data: data, seq: seq });
    (byId.get(id) || []).forEach(function (el) {
      applyTo(el, data, seq);
    });
    document.dispatchEvent(
      new CustomEvent("gavel:auction-changed", { detail: { id: id, seq: seq } })
    );
  }

  const live = new Gavel.Live({
    onFrame: function (frame) {
      if (frame.type === "snapshot" && frame.auction) {
        apply(frame.auction.id, frame.auction, frame.auction.seq);
        live.noteSeq(frame.auction.id, frame.auction.seq);
      } else if (frame.type === "event" && frame.data) {
        apply(frame.auction_id, frame.data, frame.seq);
        live.noteSeq(frame.auction_id, frame.seq);
      }
    },
    onOpen: function () {
      // Lots may have come and gone while the socket was down.
      if (hasLists) refreshSoon();
    },
  });
  // First subscription without after_seq: a fresh snapshot of each.
  liveIds().forEach(function (id) {
    live.subscriptions.set(id, null);
  });
  live.start();

  if (!hasLists) return;

  // ---- moving lots between sections ---------------------------------------------
  /** What decides whether a section must be swapped: its lots in order
   *  with their status, and the counts it shows. */
  function signature(section) {
    const parts = [];
    section.querySelectorAll("[data-live-auction]").forEach(function (el) {
      parts.push(el.dataset.liveAuction + ":" + el.dataset.status + ":" + (el.dataset.myMax || ""));
    });
    section.querySelectorAll(".count, .stat-number, .empty").forEach(function (el) {
      parts.push(el.textContent.trim());
    });
    return parts.join("|");
  }

  /** Swaps `section`'s content for `fresh`'s, keeping newer live state and
   *  the keyboard focus (by link). */
  function swap(section, fresh) {
    const focused = document.activeElement;
    const focusHref = focused && section.contains(focused) ? focused.getAttribute("href") : null;
    section.innerHTML = fresh.innerHTML;
    // For the browser tests: sections swapped so far (steady lists swap none).
    Gavel.listSwaps = (Gavel.listSwaps || 0) + 1;
    Gavel.localize(section);
    section.querySelectorAll("[data-countdown]").forEach(function (countdown) {
      Gavel.updateCountdown(countdown, Gavel.serverNow());
    });
    if (focusHref) {
      const again = section.querySelector('a[href="' + focusHref + '"]');
      if (again) again.focus();
    }
  }

  let refreshing = false;
  let again = false;
  let soonTimer = null;

  function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch(location.pathname + location.search, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        const doc = new DOMParser().parseFromString(html, "text/html");
        let changed = false;
        document.querySelectorAll("[data-live-list]").forEach(function (section) {
          const fresh = doc.querySelector('[data-live-list="' + section.dataset.liveList + '"]');
          if (!fresh || signature(fresh) === signature(section)) return;
          swap(section, fresh);
          changed = true;
        });
        if (!changed) return;
        index();
        // A row rendered before an event we already applied gets it again.
        byId.forEach(function (els, id) {
          const known = latest.get(id);
          els.forEach(function (el) {
            if (known && Number(el.dataset.seq || 0) < known.seq) applyTo(el, known.data, known.seq);
          });
        });
        liveIds().forEach(function (id) {
          if (!live.subscriptions.has(id)) live.subscribe(id);
        });
      })
      .catch(function () {
        // Offline or the server restarting: the next round tries again.
      })
      .then(function () {
        refreshing = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function refreshSoon() {
    clearTimeout(soonTimer);
    soonTimer = setTimeout(refresh, 100);
  }

  // A scheduled lot whose countdown reached its start moves to "open"; the
  // server's clock decides, so ask again a moment later too.
  document.addEventListener("gavel:started", function () {
    refreshSoon();
    setTimeout(refresh, 1500);
  });
  setInterval(function () {
    if (document.visibilityState !== "hidden") refresh();
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refreshSoon();
  });
})();
