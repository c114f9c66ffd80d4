// Follows a training run: progress, status and the learning curve, until it finishes.
(function () {
  const root = document.querySelector("[data-run-status-url]");
  if (!root) return;
  const bar = root.querySelector("progress");
  const status = root.querySelector("[data-field=status]");
  const step = root.querySelector("[data-field=step]");
  const error = root.querySelector("[data-field=error]");
  const reload = root.querySelector("[data-field=reload]");
  const curve = document.querySelector("img[data-field=curve]");
  let evaluations = Number(root.dataset.evaluations);
  const initiallyFinished = ["succeeded", "failed"].includes(status.textContent);
  async function poll() {
    try {
      const response = await fetch(root.dataset.runStatusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const run = await response.json();
        bar.value = run.percent;
        bar.textContent = run.percent + "%";
        status.textContent = run.status;
        status.className = "status-" + run.status;
        step.textContent = run.step;
        if (run.error) { error.textContent = run.error; error.hidden = false; }
        if (run.evaluations !== evaluations && curve) {
          evaluations = run.evaluations;
          curve.src = curve.dataset.src + "?n=" + evaluations;
        }
        if (run.finished) {
          if (!initiallyFinished) reload.hidden = false;
          return;
        }
      }
    } catch (e) { /* network blip: try again */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
