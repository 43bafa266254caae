// The auction page, live: price, leader, minimum next bid, countdown,
// history and chart follow the WebSocket; the bid box asks for a
// confirmation that says what will happen, sends the bid over the socket
// and shows the answer at once. The buy-now box does the same for buying at
// the buy-now price, and shows itself only while that is possible. Without
// a socket, the same forms post.
(function () {
  "use strict";

  const Gavel = window.Gavel;
  const root = document.getElementById("auction");
  if (!Gavel || !root) return;

  let state;
  let points;
  try {
    state = JSON.parse(root.dataset.auction);
    points = JSON.parse(root.dataset.points || "[]");
  } catch (_) {
    return;
  }
  const auctionId = state.id;
  const currency = state.currency;
  const myAlias = root.dataset.myAlias || "";
  const HISTORY_ROWS = 300;
  // Whether this viewer has bid here (then their standing is shown), and
  // their own maximum while they lead (known from the page or their bids).
  let iBid = root.dataset.iBid === "true";
  let myCeiling = root.dataset.myCeiling ? Number(root.dataset.myCeiling) : null;
  const baseTitle = document.title;
  // Whether the lot has a reserve (its amount stays private), and its
  // increment table ([{below, increment}], the last row unbounded).
  const hasReserve = root.dataset.hasReserve === "true";
  let increments = [];
  try {
    increments = JSON.parse(root.dataset.increments || "[]");
  } catch (_) {
    increments = [];
  }

  const $ = function (id) {
    return document.getElementById(id);
  };
  const el = {
    price: $("price"),
    leader: $("leader"),
    leaderLabel: $("leader-label"),
    standing: $("my-standing"),
    bidHeading: $("bid-heading"),
    myMaxLine: $("my-max-line"),
    myMax: $("my-max"),
    maxLabel: $("bid-max-label"),
    count: $("bid-count"),
    minNext: $("min-next"),
    minNextRow: $("min-next-row"),
    minHint: $("min-next-hint"),
    status: $("status"),
    countdown: $("countdown"),
    endsAt: $("ends-at"),
    endsLabel: $("ends-label"),
    reserve: $("reserve-note"),
    extended: $("extended-note"),
    result: $("result"),
    bidBox: $("bid-box"),
    answer: $("bid-answer"),
    form: $("bid-form"),
    amount: $("bid-amount"),
    max: $("bid-max"),
    formError: $("bid-form-error"),
    review: $("bid-review"),
    notYet: $("bid-not-yet"),
    confirm: $("bid-confirm"),
    confirmTitle: $("bid-confirm-title"),
    confirmText: $("bid-confirm-text"),
    yes: $("bid-confirm-yes"),
    no: $("bid-confirm-no"),
    buyBox: $("buy-now-box"),
    buyOffer: $("buy-now-offer"),
    buyForm: $("buy-now-form"),
    buyButton: $("buy-now-button"),
    buyConfirm: $("buy-now-confirm"),
    buyConfirmTitle: $("buy-now-confirm-title"),
    buyConfirmText: $("buy-now-confirm-text"),
    buyYes: $("buy-now-yes"),
    buyNo: $("buy-now-no"),
    buyAnswer: $("buy-now-answer"),
    history: $("history"),
    voidNote: $("void-note"),
    historyBody: $("history-body"),
    historyEmpty: $("history-empty"),
    chart: $("price-chart"),
    reserveLabel: $("reserve-label"),
    reserveJump: $("reserve-jump"),
    softCloseRule: $("soft-close-rule"),
    quickBids: $("quick-bids"),
  };

  const STATUS_LABEL = { scheduled: "Starting soon", open: "Open", closed: "Closed", cancelled: "Cancelled" };

  function money(amount) {
    return Gavel.money(amount, currency);
  }

  function leaderText(leader) {
    if (!leader) return "No bids yet";
    return myAlias && leader === myAlias ? "you" : leader;
  }

  function isLive() {
    return state.status === "open" || state.status === "scheduled";
  }

  function resultText() {
    if (state.status === "cancelled") return "This auction was cancelled. No one won it.";
    if (state.status !== "closed") return "";
    if (state.winner) {
      return myAlias && state.winner === myAlias
        ? "Sold to you for " + money(state.current_price) + ". Congratulations!"
        : "Sold to " + state.winner + " for " + money(state.current_price) + ".";
    }
    return state.bid_count > 0 ? "Not sold: the reserve was not met." : "Not sold: there were no bids.";
  }

  /** The increment at `price`, as the server's IncrementTable::increment_at. */
  function incrementAt(price) {
    for (let i = 0; i < increments.length; i++) {
      const step = increments[i];
      if (step.below === null || step.below === undefined || price < step.below) {
        return Math.max(1, step.increment);
      }
    }
    return increments.length ? Math.max(1, increments[increments.length - 1].increment) : 1;
  }

  /** The next three bids: the minimum, then one increment up each. */
  function quickAmounts() {
    const amounts = [];
    let amount = state.min_next_bid;
    for (let i = 0; i < 3; i++) {
      amounts.push(amount);
      amount += incrementAt(amount);
    }
    return amounts;
  }

  function renderReserve() {
    if (!el.reserveLabel) return;
    const kind = !hasReserve ? "none" : state.reserve_met ? "met" : "not-met";
    const text = { none: "No reserve", met: "Reserve met", "not-met": "Reserve not met" }[kind];
    if (el.reserveLabel.textContent !== text) el.reserveLabel.textContent = text;
    el.reserveLabel.className = "reserve-label reserve-" + kind;
  }

  function renderQuickBids() {
    if (!el.quickBids) return;
    el.quickBids.hidden = !isLive() || leading();
    const disabled = !el.review || el.review.disabled;
    const amounts = quickAmounts();
    el.quickBids.querySelectorAll("[data-quick-bid]").forEach(function (button, i) {
      if (i >= amounts.length) return;
      const text = money(amounts[i]);
      if (button.textContent !== text) button.textContent = text;
      button.dataset.quickBid = Gavel.moneyInput(amounts[i]);
      button.disabled = disabled;
    });
  }

  function leading() {
    return !!myAlias && state.status === "open" && state.leader === myAlias;
  }

  /**
   * The viewer's standing, from the state alone, so it follows every event:
   * { kind, text, title } or null when they have not bid.
   */
  function standing() {
    if (!iBid || !myAlias) return null;
    const price = money(state.current_price);
    switch (state.status) {
      case "open":
      case "scheduled":
        if (state.leader === myAlias) {
          return { kind: "leading", title: "Leading", text: "You are leading at " + price + "." };
        }
        return {
          kind: "outbid",
          title: "Outbid!",
          text: "You have been outbid. The price is now " + price + "; bid at least " +
            money(state.min_next_bid) + " to lead again.",
        };
      case "closed":
        if (state.winner === myAlias) {
          return { kind: "won", title: "Won", text: "You won this lot for " + price + "." };
        }
        if (state.winner) {
          return { kind: "lost", title: "Lost", text: "You did not win: it sold to " + state.winner + " for " + price + "." };
        }
        return { kind: "ended", title: "Not sold", text: "Not sold: " + (state.bid_count > 0 ? "the reserve was not met." : "there were no bids.") };
      case "cancelled":
        return { kind: "ended", title: "Cancelled", text: "This auction was cancelled; your bids no longer count." };
      default:
        return null;
    }
  }

  let shownStanding = null;

  function renderStanding() {
    const now = standing();
    const kind = now ? now.kind : null;
    if (el.standing) {
      el.standing.hidden = !now;
      el.standing.className = "standing" + (now ? " standing-" + now.kind : "");
      if (now && el.standing.textContent !== now.text) el.standing.textContent = now.text;
    }
    document.title = now ? now.title + " · " + baseTitle : baseTitle;
    // An answer that said "leading" is stale once the lead is gone.
    if (shownStanding === "leading" && kind !== "leading" && el.answer &&
        el.answer.classList.contains("answer-success") && pending.size === 0) {
      el.answer.textContent = "";
      el.answer.className = "answer";
    }
    shownStanding = kind;
  }

  /** The bid box offers a leader to raise their maximum, others to bid. */
  let bidMode = null;
  let offline = false;

  function reviewLabel() {
    const base = leading() ? "Review new maximum" : "Review bid";
    return offline ? base + " (offline: it will be queued)" : base;
  }

  function renderBidMode() {
    if (!el.bidBox) return;
    const raise = leading();
    const mode = raise ? "raise" : "bid";
    if (bidMode !== mode) {
      bidMode = mode;
      el.bidBox.dataset.mode = mode;
      if (el.bidHeading) el.bidHeading.textContent = raise ? "Raise your maximum" : "Place a bid";
      if (el.maxLabel) {
        el.maxLabel.textContent = raise ? "Your new maximum (" + currency + ")" : "Bid up to ";
        if (!raise) {
          const optional = document.createElement("span");
          optional.className = "optional";
          optional.textContent = "(optional)";
          el.maxLabel.appendChild(optional);
        }
      }
      if (el.review) el.review.textContent = reviewLabel();
    }
    if (el.myMaxLine) {
      el.myMaxLine.hidden = !(raise && myCeiling !== null);
      if (raise && myCeiling !== null && el.myMax) el.myMax.textContent = money(myCeiling);
    }
  }

  // ---- rendering the state -------------------------------------------------------
  let amountEdited = false;
  // Set when the server refused a buy now as no longer offered: that never
  // changes back, even if this page has not seen the bid that did it yet.
  let buyNowGone = false;

  let rendered = false;

  function render() {
    const priceText = money(state.current_price);
    if (el.price.textContent !== priceText) {
      el.price.textContent = priceText; // aria-live="polite" announces it
      if (rendered) {
        el.price.classList.remove("flash-up");
        void el.price.offsetWidth;
        el.price.classList.add("flash-up");
      }
    }
    if (state.status === "closed") {
      if (el.leaderLabel) el.leaderLabel.textContent = "Winner";
      el.leader.textContent = state.winner ? leaderText(state.winner) : "None";
    } else {
      if (el.leaderLabel) el.leaderLabel.textContent = "Leader";
      el.leader.textContent = leaderText(state.leader);
    }
    if (!isLive() && el.historyEmpty) el.historyEmpty.textContent = "No bids.";
    el.count.textContent = Gavel.plural(state.bid_count, "bid");
    el.minNext.textContent = money(state.min_next_bid);
    if (el.minHint) el.minHint.textContent = money(state.min_next_bid);
    if (el.amount && !amountEdited) el.amount.value = Gavel.moneyInput(state.min_next_bid);

    const countdown = el.countdown;
    countdown.dataset.endsAt = state.ends_at;
    countdown.setAttribute("datetime", state.ends_at);
    // While live, the clock moves a countdown from scheduled to open; the
    // state only overrides it when the server says the auction opened or ended.
    if (!isLive() || state.status === "open") countdown.dataset.status = state.status;
    Gavel.updateCountdown(countdown, Gavel.serverNow());
    // An ended auction has nothing live left to show: no "Live" badge.
    if (!isLive()) {
      document.querySelectorAll("[data-conn]").forEach(function (conn) {
        conn.dataset.ended = "true";
        conn.hidden = true;
      });
    }
    if (el.endsAt) {
      // Once ended, the actual close time (earlier than the planned end
      // after a buy now or an admin's close).
      const end = state.closed_at || state.ends_at;
      el.endsAt.setAttribute("datetime", end);
      el.endsAt.textContent = Gavel.preciseTime(end);
      if (el.endsLabel) el.endsLabel.textContent = state.closed_at ? "Closed at" : "Ends";
    }

    const shownStatus = countdown.dataset.status === "scheduled" ? "scheduled" : state.status;
    el.status.textContent = STATUS_LABEL[shownStatus] || shownStatus;
    el.status.className = "status-badge status-" + shownStatus;
    el.reserve.hidden = state.reserve_met || !isLive();
    if (el.minNextRow) el.minNextRow.hidden = !isLive();

    if (typeof state.buy_now_price === "number") {
      const buyNowText = money(state.buy_now_price);
      root.querySelectorAll("[data-buy-now-price]").forEach(function (node) {
        if (node.textContent !== buyNowText) node.textContent = buyNowText;
      });
    }

    const result = resultText();
    el.result.hidden = result === "";
    if (el.result.textContent !== result) el.result.textContent = result;

    updateBidAvailability();
    renderStanding();
    renderBidMode();
    renderReserve();
    renderQuickBids();
    if (el.softCloseRule) {
      el.softCloseRule.hidden = !isLive() || el.softCloseRule.textContent.trim() === "";
    }
    rendered = true;
  }

  /**
   * Whether buying now is possible, by the same rule as the server's: open
   * (by the server's clock), a buy-now price, and either no bid yet or the
   * reserve unmet (and buying would not lower the price).
   */
  function buyNowOffered() {
    const price = state.buy_now_price;
    if (typeof price !== "number" || buyNowGone) return false;
    const now = Gavel.serverNow();
    if (!isLive() || now < Date.parse(state.starts_at) || now >= Date.parse(state.ends_at)) return false;
    if (state.bid_count > 0 && state.reserve_met) return false;
    if (state.leader && state.current_price >= price) return false;
    return true;
  }

  function updateBuyNow() {
    if (!el.buyBox) return;
    const offered = buyNowOffered();
    if (!offered && buyPlanned) hideBuyConfirmation(false);
    el.buyOffer.hidden = !offered;
    // One purchase at a time: the button waits for the answer.
    if (el.buyButton) el.buyButton.disabled = !offered || buyNowPending();
    // The box stays while it has an answer to show.
    el.buyBox.hidden = !offered && el.buyAnswer.textContent === "";
  }

  function updateBidAvailability() {
    updateBuyNow();
    // Once the auction has ended, the bid box stays only to show an answer.
    if (el.bidBox) el.bidBox.hidden = !isLive() && (!el.answer || el.answer.textContent === "");
    if (!el.form) return;
    const now = Gavel.serverNow();
    const started = now >= Date.parse(state.starts_at);
    const ended = !isLive() || now >= Date.parse(state.ends_at);
    if (!isLive()) {
      el.form.hidden = true;
      if (el.confirm) el.confirm.hidden = true;
    }
    el.review.disabled = !started || ended;
    if (el.notYet) el.notYet.hidden = started;
  }

  // ---- history and chart -------------------------------------------------------------
  function addHistoryRow(bid, seq) {
    const row = document.createElement("tr");
    row.dataset.seq = String(seq);
    row.dataset.bidder = bid.bidder;
    row.dataset.kind = bid.kind || "bid";
    const mine = myAlias && bid.bidder === myAlias;
    if (mine) {
      row.classList.add("mine");
      iBid = true;
    }
    row.classList.add("new");

    const when = document.createElement("td");
    const time = document.createElement("time");
    time.setAttribute("datetime", bid.at);
    time.dataset.local = "bid";
    time.title = Gavel.localTime(bid.at);
    time.textContent = Gavel.bidTime(bid.at);
    when.appendChild(time);

    const who = document.createElement("td");
    who.textContent = bid.bidder + (mine ? " (you)" : "");
    if (bid.kind === "auto" || bid.kind === "buy_now") {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.title = bid.kind === "auto" ? "Placed automatically up to the bidder's maximum" : "Bought at the buy-now price";
      tag.textContent = bid.kind === "auto" ? "automatic" : "buy now";
      who.appendChild(document.createTextNode(" "));
      who.appendChild(tag);
    }

    const amount = document.createElement("td");
    amount.className = "num";
    amount.textContent = money(bid.amount);

    row.append(when, who, amount);
    el.historyBody.insertBefore(row, el.historyBody.firstChild);
    while (el.historyBody.rows.length > HISTORY_ROWS) el.historyBody.deleteRow(-1);
    el.history.hidden = false;
    el.historyEmpty.hidden = true;
  }

  /**
   * Marks the bids a void struck out (src/auction/history.rs decides the
   * same on the server): the bids it names, and each automatic bid before
   * it whose bidder's latest own bid before it is named. They stay in the
   * history, marked, and leave the chart.
   */
  function strikeVoided(voidSeq, seqs) {
    const named = new Set(seqs);
    const rows = Array.from(el.historyBody.rows)
      .filter(function (row) { return Number(row.dataset.seq) < voidSeq; })
      .sort(function (a, b) { return Number(a.dataset.seq) - Number(b.dataset.seq); });
    const latestOwn = new Map();
    const struck = new Set();
    rows.forEach(function (row) {
      const seq = Number(row.dataset.seq);
      if (row.dataset.kind !== "auto") {
        latestOwn.set(row.dataset.bidder, seq);
        if (named.has(seq)) struck.add(seq);
      } else if (named.has(latestOwn.get(row.dataset.bidder))) {
        struck.add(seq);
      }
    });
    rows.forEach(function (row) {
      if (!struck.has(Number(row.dataset.seq)) || row.classList.contains("voided")) return;
      row.classList.add("voided");
      const tag = document.createElement("span");
      tag.className = "tag tag-voided";
      tag.title = "Voided by the auction house: it no longer counts";
      tag.textContent = "voided";
      row.cells[1].appendChild(document.createTextNode(" "));
      row.cells[1].appendChild(tag);
    });
    points = points.filter(function (p) { return !struck.has(p[2]); });
    if (el.voidNote && struck.size > 0) el.voidNote.hidden = false;
  }

  // Same geometry as src/http/pages/chart.rs.
  const CHART = { left: 8, right: 592, top: 28, bottom: 172 };

  function drawChart() {
    const svg = el.chart;
    if (!svg) return;
    const line = svg.querySelector(".chart-line");
    const area = svg.querySelector(".chart-area");
    const dot = svg.querySelector(".chart-dot");
    const label = function (name) {
      return svg.querySelector('[data-label="' + name + '"]');
    };
    const desc = svg.querySelector("desc");
    if (points.length === 0) {
      svg.classList.add("is-empty");
      return;
    }
    svg.classList.remove("is-empty");
    const now = Gavel.serverNow();
    const endsAt = Date.parse(state.ends_at);
    const first = points[0];
    const last = points[points.length - 1];
    const end = Math.max(last[0], state.status === "open" ? Math.min(now, endsAt) : Math.min(endsAt, now));
    const t0 = first[0];
    const t1 = Math.max(end, t0 + 1);
    let low = state.starting_price;
    let high = state.starting_price;
    points.forEach(function (p) {
      low = Math.min(low, p[1]);
      high = Math.max(high, p[1]);
    });
    high = Math.max(high, low);
    const span = Math.max(high - low, 1);
    const lowV = low - span * 0.05;
    const highV = high + span * 0.1;
    const x = function (t) {
      return CHART.left + ((t - t0) / (t1 - t0)) * (CHART.right - CHART.left);
    };
    const y = function (price) {
      return CHART.bottom - ((price - lowV) / (highV - lowV)) * (CHART.bottom - CHART.top);
    };
    const f = function (v) {
      return v.toFixed(1);
    };
    let d = "M" + f(x(first[0])) + " " + f(y(first[1]));
    for (let i = 1; i < points.length; i++) {
      d += " H" + f(x(points[i][0])) + " V" + f(y(points[i][1]));
    }
    d += " H" + f(x(end));
    line.setAttribute("d", d);
    area.setAttribute("d", d + " V" + f(CHART.bottom) + " H" + f(x(first[0])) + " Z");
    dot.setAttribute("cx", f(x(end)));
    dot.setAttribute("cy", f(y(last[1])));
    label("high").textContent = money(high);
    label("low").textContent = money(low);
    const hm = new Intl.DateTimeFormat(document.documentElement.lang || "en", { hour: "2-digit", minute: "2-digit" });
    label("start").textContent = hm.format(new Date(t0));
    label("end").textContent = hm.format(new Date(end));
    desc.textContent =
      "Price over time: " + Gavel.plural(points.length, "bid") + ", from " + money(first[1]) + " to " + money(last[1]) + ".";
  }

  // ---- live events -------------------------------------------------------------------
  function announceExtension(previousEnd) {
    if (!el.extended) return;
    el.extended.textContent =
      "Soft close: a late bid moved the end to " + Gavel.clockTime(state.ends_at) + ".";
    el.extended.hidden = false;
    if (previousEnd) el.countdown.classList.add("extended");
  }

  function applyEvent(frame) {
    if (frame.seq <= state.seq) return; // seen already (replay overlap)
    const data = frame.data || {};
    const previousEnd = state.ends_at;
    const before = { reserveMet: state.reserve_met, minNext: state.min_next_bid };
    state.seq = frame.seq;
    ["current_price", "min_next_bid", "bid_count", "leader", "ends_at", "status", "reserve_met"].forEach(function (key) {
      if (key in data) state[key] = data[key];
    });
    if (frame.event === "bid" && data.bid) {
      addHistoryRow(data.bid, frame.seq);
      points.push([Date.parse(data.bid.at), data.bid.amount, frame.seq]);
      if (points.length > HISTORY_ROWS) points.shift();
    }
    if (frame.event === "closed") {
      state.status = "closed";
      state.winner = data.winner || null;
    }
    if (frame.event === "cancelled") state.status = "cancelled";
    if (frame.event === "voided" && data.voided) strikeVoided(frame.seq, data.voided.seqs || []);
    // A maximum at or above the reserve takes the price straight to it.
    if (frame.event === "bid" && hasReserve && !before.reserveMet && state.reserve_met &&
        data.bid && data.bid.amount > before.minNext && el.reserveJump) {
      el.reserveJump.textContent = "Reserve met at " + money(state.current_price) +
        ". The price jumped because a bidder's maximum reached the reserve: " +
        "Gavel then bids the reserve at once, never less.";
      el.reserveJump.hidden = false;
    }
    // The closing event's data has no close time of its own: its
    // server_time is when it was sent, live the moment it closed.
    if (!isLive() && !state.closed_at) state.closed_at = data.closed_at || data.server_time || null;
    if (frame.event === "extended" || Date.parse(state.ends_at) > Date.parse(previousEnd)) {
      announceExtension(previousEnd);
    }
    live.noteSeq(auctionId, frame.seq);
    render();
    drawChart();
  }

  function applySnapshot(snapshot) {
    if (snapshot.seq < state.seq) return;
    const missed = snapshot.seq > state.seq;
    Object.assign(state, snapshot);
    live.noteSeq(auctionId, snapshot.seq);
    render();
    if (missed) drawChart();
  }

  // ---- bidding ----------------------------------------------------------------------
  // request_id → { kind: "bid" | "buy_now", amount, max, tries, timer }
  const pending = new Map();
  const MAX_TRIES = 4;

  function newRequestId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function showAnswer(kind, text) {
    if (!el.answer) return;
    el.answer.className = "answer answer-" + kind;
    el.answer.textContent = text;
    if (el.bidBox && text) el.bidBox.hidden = false;
  }

  function buyNowPending() {
    for (const request of pending.values()) {
      if (request.kind === "buy_now") return true;
    }
    return false;
  }

  function showBuyAnswer(kind, text) {
    if (!el.buyAnswer) return;
    el.buyAnswer.className = "answer answer-" + kind;
    el.buyAnswer.textContent = text;
    updateBuyNow();
  }

  /** The answer area of a pending request. */
  function answerFor(request) {
    return request.kind === "buy_now" ? showBuyAnswer : showAnswer;
  }

  function showFormError(text) {
    el.formError.textContent = text;
    el.formError.hidden = !text;
  }

  function describePlan(amount, max) {
    if (leading()) {
      return "You raise your maximum to " + money(max) + ". You stay the leader at " + money(state.current_price) +
        " (unless the reserve needs a higher price); Gavel bids for you up to " + money(max) + " when someone else bids.";
    }
    let text = "";
    if (max !== null && max > amount) {
      text +=
        "You are bidding " + money(amount) + " and let Gavel bid for you up to " + money(max) +
        ": whenever someone outbids you, Gavel raises your bid by the smallest step, never above your maximum. " +
        "You pay the final price, not your maximum.";
    } else {
      text +=
        "You are bidding " + money(amount) +
        ". If nobody has a higher maximum, you lead at that price; if someone does, you are outbid at once and can bid again.";
    }
    return text;
  }

  function describeRejection(error) {
    switch (error && error.code) {
      case "below_minimum":
        return typeof error.min_next_bid === "number"
          ? "Your bid is below the minimum next bid of " + money(error.min_next_bid) + "."
          : "Your bid is below the minimum next bid.";
      case "auction_not_open":
        return "This auction is not open for bids.";
      case "already_leading":
        return myCeiling !== null
          ? "Your maximum is already " + money(myCeiling) + ": enter a higher one to raise it."
          : "You are already leading: enter a higher maximum to raise it.";
      case "banned":
        return "Your account is banned from bidding.";
      case "rate_limited":
        return "Too many bids in a short time. Wait a moment and try again.";
      case "unavailable":
        return "The auction could not take your bid just now. Please try again.";
      case "unauthenticated":
        return "Your session has ended. Log in again to bid.";
      case "invalid_amount":
        return "That amount is not valid" + (error.message ? ": " + error.message : ".");
      default: {
        const message = (error && error.message) || "The bid was refused";
        return message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? "" : ".");
      }
    }
  }

  /** A refused buy now in words (src/http/pages/bidder.rs says the same). */
  function describeBuyNowRejection(error) {
    switch (error && error.code) {
      case "buy_now_unavailable":
        return "Buy now is no longer available: the bidding has already gone past it. You can still place a bid.";
      case "auction_not_open":
        return "This auction is not open, so it cannot be bought now.";
      case "rate_limited":
        return "Too many requests in a short time. Wait a moment and try again.";
      case "unavailable":
        return "The auction could not take your purchase just now. Please try again.";
      case "unauthenticated":
        return "Your session has ended. Log in again to buy.";
      default:
        return describeRejection(error);
    }
  }

  let planned = null; // { amount, max } while the confirmation is shown

  function readForm() {
    if (leading()) {
      const maxText = el.max.value.trim();
      const max = maxText === "" ? null : Gavel.parseMoney(maxText);
      if (max === null) return { error: "Enter your new maximum as an amount, like 50.00." };
      if (myCeiling !== null && max <= myCeiling) {
        return { error: "Your maximum is already " + money(myCeiling) + ": enter a higher one." };
      }
      return { amount: max, max: max };
    }
    const amount = Gavel.parseMoney(el.amount.value);
    if (amount === null) return { error: "Enter your bid as an amount, like " + Gavel.moneyInput(state.min_next_bid) + "." };
    const maxText = el.max.value.trim();
    const max = maxText === "" ? null : Gavel.parseMoney(maxText);
    if (maxText !== "" && max === null) return { error: "Enter your “bid up to” maximum as an amount, like 50.00, or leave it empty." };
    if (max !== null && max < amount) return { error: "Your “bid up to” maximum must be at least your bid." };
    if (amount < state.min_next_bid && !(myAlias && state.leader === myAlias && max !== null)) {
      return { error: "Your bid must be at least " + money(state.min_next_bid) + "." };
    }
    return { amount: amount, max: max };
  }

  function showConfirmation(plan) {
    planned = plan;
    el.confirmText.textContent = describePlan(plan.amount, plan.max);
    el.form.hidden = true;
    el.confirm.hidden = false;
    el.confirmTitle.focus();
  }

  function hideConfirmation(focusAmount) {
    planned = null;
    el.confirm.hidden = true;
    el.form.hidden = !isLive();
    if (focusAmount && el.amount) el.amount.focus();
  }

  /** Without a socket, the plain form does the job (and confirms the same way). */
  function submitPlainForm(requestId, plan) {
    el.form.elements.namedItem("request_id").value = requestId;
    el.amount.value = Gavel.moneyInput(plan.amount);
    el.max.value = plan.max === null ? "" : Gavel.moneyInput(plan.max);
    const confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "yes";
    el.form.appendChild(confirmed);
    el.form.dataset.plain = "yes";
    el.form.submit();
  }

  /** Sends (or resends, with the same request_id) a pending bid or buy now. */
  function sendBid(requestId) {
    const bid = pending.get(requestId);
    if (!bid) return false;
    let frame;
    if (bid.kind === "buy_now") {
      frame = { type: "buy_now", auction_id: auctionId, request_id: requestId };
    } else {
      frame = { type: "bid", auction_id: auctionId, request_id: requestId, amount: bid.amount };
      if (bid.max !== null) frame.max_amount = bid.max;
    }
    bid.tries += 1;
    clearTimeout(bid.timer);
    bid.timer = setTimeout(function () {
      if (!pending.has(requestId)) return;
      answerFor(bid)(
        "info",
        bid.kind === "buy_now"
          ? "Still waiting for an answer… your purchase is safe to resend and will not count twice."
          : "Still waiting for an answer… your bid is safe to resend and will not count twice."
      );
    }, 8000);
    return live.send(frame);
  }

  function placeBid(plan) {
    const requestId = newRequestId();
    hideConfirmation(false);
    pending.set(requestId, { kind: "bid", amount: plan.amount, max: plan.max, tries: 0, timer: null });
    if (!live.isOpen()) {
      // Queued with its request_id and sent on reconnect: it counts once.
      showAnswer("info", "Not connected: your bid is queued and will be sent as soon as the connection is back (it counts only once).");
    } else {
      showAnswer("info", "Sending your bid…");
      sendBid(requestId);
    }
    amountEdited = false;
    if (el.max) el.max.value = "";
  }

  function settle(requestId) {
    const bid = pending.get(requestId);
    if (bid) clearTimeout(bid.timer);
    pending.delete(requestId);
  }

  function onBidResult(result) {
    const request = pending.get(result.request_id);
    if (!request) return;
    settle(result.request_id);
    iBid = true;
    if (result.status === "leading" && request.max !== null && request.max !== undefined) {
      myCeiling = Math.max(myCeiling || 0, request.max);
    } else if (result.status === "leading" && request.amount !== undefined) {
      myCeiling = Math.max(myCeiling || 0, request.amount);
    }
    if (request.kind === "buy_now") {
      showBuyAnswer("success", "You bought it for " + money(result.current_price) + ". The auction has ended.");
      return;
    }
    if (result.status === "leading") {
      showAnswer("success", "You are leading at " + money(result.current_price) + ".");
      // The state follows with the bid's event (answers come first).
      renderBidMode();
    } else {
      showAnswer(
        "error",
        "You were outbid at once: another bidder's maximum is higher. The price is now " +
          money(result.current_price) + "; the next bid must be at least " + money(result.min_next_bid) + "."
      );
    }
  }

  function onBidError(frame) {
    const bid = pending.get(frame.request_id);
    if (!bid) return;
    const code = frame.error && frame.error.code;
    if (code === "unavailable" && bid.tries < MAX_TRIES) {
      // Safe: the same request_id is never placed twice.
      answerFor(bid)("info", "The auction is busy; trying again…");
      setTimeout(function () {
        sendBid(frame.request_id);
      }, 400 * Math.pow(2, bid.tries) * (0.5 + Math.random() / 2));
      return;
    }
    settle(frame.request_id);
    if (bid.kind === "buy_now") {
      if (code === "buy_now_unavailable") buyNowGone = true;
      showBuyAnswer("error", describeBuyNowRejection(frame.error));
    } else {
      showAnswer("error", describeRejection(frame.error));
    }
  }

  // ---- buying now -------------------------------------------------------------------
  let buyPlanned = false; // while the buy-now confirmation is shown

  function showBuyConfirmation() {
    buyPlanned = true;
    // "You will buy <title> for <price> and the auction ends now."
    const title = document.createElement("strong");
    title.textContent = state.title;
    const price = document.createElement("strong");
    price.textContent = money(state.buy_now_price);
    el.buyConfirmText.replaceChildren(
      "You will buy ", title, " for ", price, " and the auction ends now."
    );
    el.buyForm.hidden = true;
    el.buyConfirm.hidden = false;
    el.buyConfirmTitle.focus();
  }

  function hideBuyConfirmation(focusButton) {
    buyPlanned = false;
    el.buyConfirm.hidden = true;
    el.buyForm.hidden = false;
    if (focusButton && el.buyButton && !el.buyButton.disabled) el.buyButton.focus();
  }

  /** Without a socket, the plain form does the job (already confirmed here). */
  function submitPlainBuyNow(requestId) {
    el.buyForm.elements.namedItem("request_id").value = requestId;
    const confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "yes";
    el.buyForm.appendChild(confirmed);
    el.buyForm.dataset.plain = "yes";
    el.buyForm.submit();
  }

  function placeBuyNow() {
    const requestId = newRequestId();
    hideBuyConfirmation(false);
    if (!buyNowOffered()) {
      showBuyAnswer("error", describeBuyNowRejection({ code: isLive() ? "buy_now_unavailable" : "auction_not_open" }));
      return;
    }
    pending.set(requestId, { kind: "buy_now", tries: 0, timer: null });
    updateBuyNow();
    if (!live.isOpen()) {
      showBuyAnswer("info", "Not connected: your purchase is queued and will be sent as soon as the connection is back (it counts only once).");
      return;
    }
    showBuyAnswer("info", "Buying…");
    sendBid(requestId);
  }

  if (el.buyForm) {
    el.buyForm.addEventListener("submit", function (event) {
      if (el.buyForm.dataset.plain === "yes") return; // the fallback post
      event.preventDefault();
      if (buyNowOffered() && !buyNowPending()) showBuyConfirmation();
    });
    el.buyYes.addEventListener("click", function () {
      if (buyPlanned) placeBuyNow();
    });
    el.buyNo.addEventListener("click", function () {
      hideBuyConfirmation(true);
    });
    el.buyConfirm.addEventListener("keydown", function (event) {
      if (event.key === "Escape") hideBuyConfirmation(true);
    });
  }

  if (el.form) {
    el.amount.addEventListener("input", function () {
      amountEdited = true;
      showFormError("");
    });
    el.max.addEventListener("input", function () {
      showFormError("");
    });
    el.form.addEventListener("submit", function (event) {
      if (el.form.dataset.plain === "yes") return; // the fallback post
      event.preventDefault();
      const plan = readForm();
      if (plan.error) {
        showFormError(plan.error);
        el.amount.focus();
        return;
      }
      showFormError("");
      showConfirmation(plan);
    });
    el.yes.addEventListener("click", function () {
      if (planned) placeBid(planned);
    });
    // A quick bid fills the form with its amount and asks to confirm.
    if (el.quickBids) {
      el.quickBids.addEventListener("click", function (event) {
        const button = event.target.closest("[data-quick-bid]");
        if (!button || button.disabled) return;
        el.amount.value = button.dataset.quickBid;
        amountEdited = true;
        el.max.value = "";
        showFormError("");
        if (typeof el.form.requestSubmit === "function") el.form.requestSubmit();
        else el.form.dispatchEvent(new Event("submit", { cancelable: true }));
      });
    }
    el.no.addEventListener("click", function () {
      hideConfirmation(true);
    });
    el.confirm.addEventListener("keydown", function (event) {
      if (event.key === "Escape") hideConfirmation(true);
    });
  }
  el.countdown.addEventListener("gavel:started", function () {
    if (state.status === "scheduled") state.status = "open";
    render();
  });

  /** While disconnected the review buttons say so (a bid is then queued). */
  function showOffline(isOffline) {
    offline = isOffline;
    if (el.review) el.review.textContent = reviewLabel();
    if (el.yes) el.yes.textContent = offline ? "Confirm (sent when back online)" : "Confirm bid";
  }

  // ---- start ------------------------------------------------------------------------
  const live = new Gavel.Live({
    onFrame: function (frame) {
      switch (frame.type) {
        case "snapshot":
          if (frame.auction && frame.auction.id === auctionId) applySnapshot(frame.auction);
          break;
        case "event":
          if (frame.auction_id === auctionId) applyEvent(frame);
          break;
        case "bid_result":
          if (frame.result) onBidResult(frame.result);
          break;
        case "bid_error":
          onBidError(frame);
          break;
        default:
          break;
      }
    },
    onOpen: function () {
      showOffline(false);
      // Bids sent (or queued) before a disconnect are sent with their
      // request_id: each is answered once and placed at most once.
      pending.forEach(function (request, requestId) {
        answerFor(request)("info", request.kind === "buy_now" ? "Buying…" : "Sending your bid…");
        sendBid(requestId);
      });
    },
    onClose: function () {
      showOffline(true);
    },
  });

  // The page's connection, for the browser console and the browser tests.
  Gavel.live = live;

  render();
  drawChart();
  setInterval(updateBidAvailability, 1000);
  setInterval(function () {
    if (state.status === "open") drawChart();
  }, 10000);
  if (isLive()) {
    // Resume after the state this page was rendered with: nothing is missed.
    live.subscribe(auctionId, state.seq);
    live.start();
  }
})();
