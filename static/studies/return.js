// After the last answer: back to the crowdsourcing platform after a countdown the participant
// sees and can stop (a timed redirect they cannot stop fails WCAG 2.2.1). Without script the
// link is there to click.
(function () {
  const box = document.querySelector("[data-return-to]");
  if (!box) return;
  const countdown = box.querySelector("[data-countdown]");
  const left = box.querySelector("[data-seconds-left]");
  let seconds = Number(box.dataset.seconds || 10);
  countdown.hidden = false;
  const timer = setInterval(function () {
    seconds -= 1;
    left.textContent = String(seconds);
    if (seconds <= 0) {
      clearInterval(timer);
      window.location.assign(box.dataset.returnTo);
    }
  }, 1000);
  box.querySelector("[data-stay]").addEventListener("click", function () {
    clearInterval(timer);
    countdown.hidden = true;
  });
})();
