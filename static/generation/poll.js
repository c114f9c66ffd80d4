// Follows a job or a training run until it finishes: progress, status, error, and whichever
// of message, step, result link and learning curve the page has; a job started from a form
// goes on to its result when it succeeds. No inline script, so a strict CSP can be used.
(function () {
  const root = document.querySelector("[data-status-url]");
  if (!root) return;
  const field = (name) => root.querySelector("[data-field=" + name + "]");
  const bar = root.querySelector("progress");
  const status = field("status");
  const error = field("error");
  const link = field("result");
  const reload = field("reload");
  const curve = document.querySelector("img[data-field=curve]");
  let evaluations = Number(root.dataset.evaluations || 0);
  const initiallyFinished = ["succeeded", "failed"].includes(status.textContent);
  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const work = await response.json();
        bar.value = work.percent;
        bar.textContent = work.percent + "%";
        status.textContent = work.status;
        status.className = "status-" + work.status;
        for (const name of ["message", "step"]) {
          if (field(name) && name in work) field(name).textContent = work[name];
        }
        if (work.error) { error.textContent = work.error; error.hidden = false; }
        if (link && work.result_url) { link.href = work.result_url; link.hidden = false; }
        if (curve && "evaluations" in work && work.evaluations !== evaluations) {
          evaluations = work.evaluations;
          curve.src = curve.dataset.src + "?n=" + evaluations;
        }
        if (work.finished) {
          // A job started from a form goes on to what it made (the sample set, the dataset).
          if (root.dataset.then === "result" && work.status === "succeeded" && work.result_url) {
            window.location.assign(work.result_url);
            return;
          }
          if (reload && !initiallyFinished) reload.hidden = false;
          return;
        }
      }
    } catch (e) { /* network blip: try again */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
