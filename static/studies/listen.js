// Clip playback for a trial: answers unlock once every clip has played to its end.
// Records play counts, listening time and response time in hidden fields.
(function () {
  "use strict";
  const form = document.querySelector("form[data-trial]");
  if (!form) return;
  // The page's words in the study's language, from the server (Django's catalogues).
  const words = JSON.parse(document.getElementById("listen-text").textContent);
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }
  const answers = form.querySelector("fieldset.answers");
  const lockedNote = form.querySelector(".locked-note");
  const shownAt = performance.now();
  let unlockedAt = null;
  let listening = 0;
  const clips = Array.from(form.querySelectorAll("[data-clip]")).map(function (element) {
    return {
      element: element,
      audio: element.querySelector("audio"),
      button: element.querySelector("button.play"),
      position: element.querySelector("progress"),
      status: element.querySelector(".status"),
      plays: form.elements["plays_" + element.dataset.clip],
      ended: form.elements["ended_" + element.dataset.clip],
      prefix: element.dataset.prefix || "",
      againText: element.dataset.again || "",
      rating: form.querySelector('[data-rating="' + element.dataset.clip + '"]'),
      playText: element.querySelector("button.play").textContent,
      startedAt: null,
    };
  });
  const once = form.hasAttribute("data-play-once");

  function say(clip, text) {
    clip.status.textContent = (clip.prefix ? clip.prefix + " " : "") + text;
  }

  function unlockIfDone() {
    if (!answers.disabled) return;
    if (clips.every(function (clip) { return clip.ended.value === "1"; })) {
      answers.disabled = false;
      unlockedAt = performance.now();
      if (lockedNote) lockedNote.hidden = true;
      const first = answers.querySelector("input");
      if (first) first.focus();
    }
  }

  clips.forEach(function (clip) {
    const audio = clip.audio;
    clip.button.addEventListener("click", function () {
      if (!audio.paused) { audio.pause(); return; }
      clips.forEach(function (other) { if (other !== clip) other.audio.pause(); });
      if (audio.ended) audio.currentTime = 0;
      const playing = audio.play();
      if (playing && playing.catch) {
        playing.catch(function () { say(clip, words.cannot_play); });
      }
    });
    audio.addEventListener("play", function () {
      if (audio.currentTime < 0.05) clip.plays.value = String(Number(clip.plays.value) + 1);
      clip.startedAt = performance.now();
      clip.button.textContent = words.pause;
      say(clip, words.playing);
    });
    audio.addEventListener("pause", function () {
      if (clip.startedAt !== null) {
        listening += (performance.now() - clip.startedAt) / 1000;
        clip.startedAt = null;
      }
      clip.button.textContent = clip.playText;
      if (!audio.ended) say(clip, words.paused);
    });
    audio.addEventListener("timeupdate", function () {
      if (audio.duration) clip.position.value = audio.currentTime / audio.duration;
    });
    audio.addEventListener("ended", function () {
      clip.ended.value = "1";
      clip.position.value = 1;
      say(clip, words.heard);
      if (once) {
        clip.button.disabled = true;
      } else {
        clip.button.textContent = clip.againText;
      }
      // A MUSHRA clip's slider opens once the clip has been heard.
      if (clip.rating) clip.rating.disabled = false;
      unlockIfDone();
    });
    audio.addEventListener("error", function () { say(clip, words.cannot_load); }, true);
  });

  // MUSHRA sliders: a slider nobody moved is not an answer, so each must be moved (by
  // mouse, touch or keys) before the page can be sent; its value is read out with its band.
  const sliders = Array.from(form.querySelectorAll("input[data-rating]"));
  // The bands' words as the page lists them, from Bad (0-19) up to Excellent (80-100).
  const bands = Array.from(form.querySelectorAll(".mushra-bands li")).map(function (item) {
    return item.textContent.trim();
  });
  const rateNote = form.querySelector(".rate-note");
  function band(value) {
    return bands[Math.min(4, Math.floor(value / 20))] || "";
  }
  sliders.forEach(function (slider) {
    const output = form.querySelector('output[for="' + slider.id + '"]');
    slider.addEventListener("input", function () {
      slider.dataset.moved = "1";
      const text = slider.value + " " + band(Number(slider.value));
      output.textContent = text;
      slider.setAttribute("aria-valuetext", text);
      if (rateNote && sliders.every(function (s) { return s.dataset.moved === "1"; })) {
        rateNote.hidden = true;
      }
    });
  });

  form.addEventListener("submit", function (event) {
    if (answers.disabled || form.dataset.sent === "1") {
      event.preventDefault();  // locked, or already sent: a double click sends once
      return;
    }
    const unmoved = sliders.filter(function (s) { return s.dataset.moved !== "1"; });
    if (unmoved.length) {
      event.preventDefault();
      rateNote.textContent = words.rate_every_clip;
      rateNote.hidden = false;
      unmoved[0].focus();
      return;
    }
    const now = performance.now();
    clips.forEach(function (clip) {
      if (clip.startedAt !== null) listening += (now - clip.startedAt) / 1000;
    });
    form.elements.listening_seconds.value = listening.toFixed(3);
    form.elements.response_seconds.value = ((now - unlockedAt) / 1000).toFixed(3);
    form.elements.trial_seconds.value = ((now - shownAt) / 1000).toFixed(3);
    form.dataset.sent = "1";
    if (!window.fetch) return;  // an old browser posts the form itself
    event.preventDefault();
    send(form, new FormData(form), 0);
  });

  // The answer goes by fetch so that a dropped connection (a server restarting, a train
  // entering a tunnel) is retried instead of ending on a browser error page. The trial's
  // token makes the answer idempotent: however many times it arrives, it is stored once.
  function send(form, body, attempt) {
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
          window.location.replace(form.action);  // stored: show the next page
        } else if (response.status >= 500) {
          throw new Error("server error " + response.status);
        } else {
          form.submit();  // refused (a 4xx): post it plainly so the page shows why; nothing was stored
        }
      })
      .catch(function () {
        const wait = Math.min(1000 * Math.pow(2, attempt), 8000);
        if (lockedNote) {
          lockedNote.hidden = false;
          lockedNote.textContent = fill(words.connection_lost, { seconds: Math.round(wait / 1000) });
        }
        setTimeout(function () { send(form, body, attempt + 1); }, wait);
      });
  }

  // Marks the moment the controls answer: a Play pressed before this would do nothing.
  form.dataset.ready = "1";
})();
