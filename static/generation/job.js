// Polls a job's status until it finishes; no inline script so a strict CSP can be used.
(function () {
  const root = document.querySelector("[data-job-status-url]");
  if (!root) return;
  const url = root.dataset.jobStatusUrl;
  const bar = root.querySelector("progress");
  const status = root.querySelector("[data-field=status]");
  const message = root.querySelector("[data-field=message]");
  const error = root.querySelector("[data-field=error]");
  const link = root.querySelector("[data-field=result]");
  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        bar.value = job.percent;
        bar.textContent = job.percent + "%";
        status.textContent = job.status;
        status.className = "status-" + job.status;
        message.textContent = job.message;
        if (job.error) { error.textContent = job.error; error.hidden = false; }
        if (job.result_url) { link.href = job.result_url; link.hidden = false; }
        if (job.finished) return;
      }
    } catch (e) { /* network blip: try again */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
