// The admin auction page's bid log, live: whenever list.js applies a state
// of this auction newer than the log's (its data-seq) it announces
// "gavel:auction-changed"; the log is then fetched again as server-rendered HTML (usernames and maxima are admin-only,
// so they are not in the public events) and swapped in. One fetch at a time;
// events that arrive meanwhile cause one more.
(function () {
  "use strict";

  const Gavel = window.Gavel;
  const section = document.getElementById("bid-log-section");
  if (!Gavel || !section) return;
  const auctionId = section.dataset.auction;
  /** The seq the log on screen is known to include. */
  let shownSeq = Number(section.dataset.seq) || 0;

  let inFlight = false;
  let again = false;

  async function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      do {
        again = false;
        const response = await fetch(window.location.pathname, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
        });
        if (!response.ok) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("bid-log-section");
        const current = document.getElementById("bid-log-section");
        if (!fresh || !current) return;
        const adopted = document.importNode(fresh, true);
        current.replaceWith(adopted);
        Gavel.localize(adopted);
        shownSeq = Math.max(shownSeq, Number(adopted.dataset.seq) || 0);
      } while (again);
    } catch (error) {
      // Offline for a moment: the next event tries again.
    } finally {
      inFlight = false;
    }
  }

  document.addEventListener("gavel:auction-changed", function (event) {
    if (event.detail && event.detail.id === auctionId && event.detail.seq > shownSeq) refresh();
  });
})();
