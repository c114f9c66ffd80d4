// A long list of checkboxes (config.forms.CheckboxList) gets a filter field: typing keeps the
// choices whose label contains the text; ticked ones always stay in view.
(function () {
  for (const list of document.querySelectorAll(".checkbox-list")) {
    const choices = Array.from(list.querySelectorAll("label"));
    if (choices.length <= 8) continue;
    const filter = document.createElement("input");
    filter.type = "search";
    filter.className = "checkbox-filter";
    filter.placeholder = "Filter " + choices.length + " choices";
    const legend = list.closest("fieldset") && list.closest("fieldset").querySelector("legend");
    filter.setAttribute("aria-label", "Filter: " + (legend ? legend.textContent : "choices"));
    filter.addEventListener("input", function () {
      const text = filter.value.trim().toLowerCase();
      for (const label of choices) {
        const box = label.querySelector("input");
        const show = !text || box.checked || label.textContent.toLowerCase().includes(text);
        label.parentElement.hidden = !show;
      }
    });
    list.parentElement.insertBefore(filter, list);
  }
})();
