// Kiosk: sends camera frames to the server and greets people when their attendance is recorded;
// a track the liveness check refused gets only "Please look at the camera".
(function () {
  "use strict";
  const stage = document.querySelector("[data-kiosk]");
  if (!stage) return;
  const video = stage.querySelector("[data-kiosk-video]");
  const canvas = stage.querySelector("[data-kiosk-canvas]");
  const banner = stage.querySelector("[data-kiosk-banner]");
  const FRAME_INTERVAL_MS = 400;
  let resetTimer = null;

  function say(text, kind, holdMs) {
    banner.textContent = text; // textContent: names are never parsed as HTML
    banner.className = "kiosk-banner" + (kind ? " " + kind : "");
    clearTimeout(resetTimer);
    if (holdMs) resetTimer = setTimeout(function () { say("Look at the camera", "", 0); }, holdMs);
  }

  const full = stage.querySelector("[data-kiosk-fullscreen]");
  if (full) full.addEventListener("click", function () {
    if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen();
  });

  function sendFrames() {
    let busy = false;
    setInterval(function () {
      if (busy || !video.videoWidth) return;
      const scale = Math.min(1, 960 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      busy = true;
      canvas.toBlob(function (blob) {
        if (!blob) { busy = false; return; }
        fetch(stage.dataset.framesUrl, {
          method: "POST", body: blob, credentials: "same-origin",
          headers: { "Content-Type": "image/jpeg", "X-CSRF-Token": window.attendanceCsrf }
        }).then(function (r) {
          if (r.status === 401 || r.status === 403) say("This account cannot send frames", "error", 0);
        }).catch(function () {}).finally(function () { busy = false; });
      }, "image/jpeg", 0.8);
    }, FRAME_INTERVAL_MS);
  }

  if (stage.dataset.canSend !== "yes") {
    say("Log in as an admin or with a kiosk account to use this kiosk", "error", 0);
  } else if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This browser cannot open the camera (HTTPS is required)", "error", 0);
  } else {
    navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false })
      .then(function (stream) { video.srcObject = stream; sendFrames(); })
      .catch(function (err) { say("Camera unavailable: " + err.name, "error", 0); });
  }

  // Every recorded sighting comes as an event; the server says what it means for the person
  // (their first sighting, a return after being out, leaving late in their day, or nothing
  // because they are still standing there), so the kiosk never says goodbye to someone present.
  const WORDS = {
    welcome: function (d) { return ["Welcome, " + d.employee_name + " — arrival " + d.local_time, "welcome"]; },
    welcome_back: function (d) { return ["Welcome back, " + d.employee_name, "welcome"]; },
    goodbye: function (d) { return ["Goodbye, " + d.employee_name + " — see you soon", "goodbye"]; },
  };
  const source = new EventSource(stage.dataset.eventsUrl);
  source.addEventListener("attendance", function (message) {
    const data = JSON.parse(message.data);
    // A track the liveness check refused: no greeting, and never why (it would teach how).
    if (data.event === "refused") { say("Please look at the camera", "", 6000); return; }
    const url = stage.dataset.greetingUrl + "?employee_id=" + encodeURIComponent(data.employee_id) +
      "&seen_at=" + encodeURIComponent(data.seen_at);
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer || !answer.greeting || !WORDS[answer.greeting]) return;
        const words = WORDS[answer.greeting](answer);
        say(words[0], words[1], 6000);
      })
      .catch(function () {});
  });
})();
