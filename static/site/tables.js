// A table wider than its box scrolls sideways. Keyboard users must be able to reach that
// scroll too: such a box becomes focusable and is named after its table (WCAG 2.1.1).
(function () {
  function name(box) {
    const caption = box.querySelector("caption");
    if (caption) return caption.textContent.trim();
    let before = box.previousElementSibling;
    while (before && !/^H[1-6]$/.test(before.tagName)) before = before.previousElementSibling;
    return (before ? before.textContent.trim() + ": " : "") + "table, scrolls sideways";
  }
  function mark() {
    for (const box of document.querySelectorAll(".table-wrap")) {
      if (box.scrollWidth > box.clientWidth + 1 && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", name(box));
      }
    }
  }
  mark();
  window.addEventListener("resize", mark);
})();
