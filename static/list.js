// Live prices for lists of auctions: the front page, "my bids", the admin
// dashboard and the admin auction detail. Every element with
// data-live-auction="ID" (and data-currency, data-status, data-my-alias)
// is kept up to date from the WebSocket; fields inside it are marked with
// data-field="price|bids|bids-text|leader|reserve|you-lead|standing".
// Each new event is also announced as a "gavel:auction-changed" DOM event
// (detail: {id, seq}) for page-specific scripts.
(function () {
  "use strict";

  const Gavel = window.Gavel;
  if (!Gavel) return;

  const byId = new Map();
  document.querySelectorAll("[data-live-auction]").forEach(function (el) {
    const id = el.dataset.liveAuction;
    if (!byId.has(id)) byId.set(id, []);
    byId.get(id).push(el);
  });

  // Only auctions that can still change are worth a subscription.
  const watched = Array.from(byId.keys()).filter(function (id) {
    return byId.get(id).some(function (el) {
      return el.dataset.status === "open" || el.dataset.status === "scheduled";
    });
  });

  if (watched.length === 0) return;

  const seen = new Map(); // id → highest seq applied

  function setText(root, field, text) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) {
      if (el.textContent !== text) el.textContent = text;
    });
  }

  /** Applies a public state (a Snapshot or an event's data) to every view of it. */
  function apply(id, data, seq) {
    const last = seen.get(id);
    if (last !== undefined && seq <= last) return;
    seen.set(id, seq);
    (byId.get(id) || []).forEach(function (el) {
      const currency = el.dataset.currency;
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
      el.dataset.status = data.status;
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
  });
  // First subscription without after_seq: a fresh snapshot of each.
  watched.forEach(function (id) {
    live.subscriptions.set(id, null);
  });
  live.start();
})();
