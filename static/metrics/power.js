// The designer's power panel: recompute on every change from the metrics power endpoint.
(function () {
  const panel = document.getElementById("power");
  if (!panel) return;
  const form = panel.querySelector("form");
  const rating = form.querySelector("output[name=rating]");
  const preference = form.querySelector("output[name=preference]");
  let pending = null;

  async function update() {
    const query = new URLSearchParams(new FormData(form));
    const response = await fetch(panel.dataset.url + "?" + query, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) {
      const problems = Object.entries(body.errors || {}).map(([field, errors]) => field + ": " + errors[0].message);
      rating.textContent = preference.textContent = problems.join("; ") || "cannot compute";
      return;
    }
    rating.textContent = body.rating.listeners + " listeners" + (body.rating.per_system ? " per system" : "") +
      " (d = " + body.rating.effect_size_d + ")";
    preference.textContent = body.preference.listeners + " listeners (h = " + body.preference.effect_size_h +
      "; " + body.preference.assumptions + ")";
  }

  form.addEventListener("input", function () {
    clearTimeout(pending);
    pending = setTimeout(update, 150);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    update();
  });
  update();
})();
