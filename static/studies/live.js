// The dashboard's counts refresh themselves while the page is open.
(function () {
  "use strict";
  const live = document.getElementById("live");
  if (!live) return;
  const refresh = function () {
    if (document.hidden) return;
    const playing = Array.from(live.querySelectorAll("audio")).some(function (a) { return !a.paused; });
    if (playing) return;  // a refresh would cut off the clip being heard
    fetch(live.dataset.liveUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        // Keep open <details> open across refreshes.
        const open = Array.from(live.querySelectorAll("details[open] table")).map(function (t) { return t.dataset.testid; });
        if (fresh) {
          live.replaceChildren.apply(live, Array.from(fresh.childNodes));
          open.forEach(function (id) {
            const table = live.querySelector('table[data-testid="' + id + '"]');
            if (table) table.closest("details").open = true;
          });
        }
      })
      .catch(function () {});
  };
  setInterval(refresh, 15000);
})();
