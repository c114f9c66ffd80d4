// Replaces a dashboard section with the fragment its data-panel-url serves (the sequential
// design's looks and decision come from the analysis, which the studies pages do not run).
(function () {
  "use strict";
  document.querySelectorAll("[data-panel-url]").forEach(function (panel) {
    fetch(panel.dataset.panelUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        const fragment = new DOMParser().parseFromString(html, "text/html");
        const section = fragment.querySelector("section");
        if (section) panel.replaceChildren(...section.childNodes);
      })
      .catch(function () { /* the link to the report stays */ });
  });
})();
