// Kiosk: sends camera frames to the server and greets people when their attendance is recorded.
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

  const source = new EventSource(stage.dataset.eventsUrl);
  source.addEventListener("attendance", function (message) {
    const data = JSON.parse(message.data);
    if (data.event === "arrival") say("Welcome, " + data.employee_name + " — arrival " + data.local_time, "welcome", 6000);
    else if (data.event === "departure") say("Goodbye, " + data.employee_name, "goodbye", 6000);
  });
})();
