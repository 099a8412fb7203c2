// Shared helpers: the CSRF token for scripts, name suggestions, photo and face previews.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.attendanceCsrf = meta ? meta.content : "";

  // Suggestions for the employee search boxes (one shared <datalist>).
  const list = document.getElementById("employee-suggestions");
  let timer = null;
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const q = input.value.trim();
      if (!list || q.length < 1) return;
      timer = setTimeout(function () {
        fetch("/api/v1/employees?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { employees: [] }; })
          .then(function (data) {
            list.replaceChildren();
            data.employees.forEach(function (e) {
              const option = document.createElement("option");
              option.value = e.name; // .value never interprets markup
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 150);
    });
  });

  // The face the system detects in a photo, asked of the server before anything is saved: it
  // runs the same detection and alignment as registering, so what is shown is what is stored.
  function facePreview(source) {
    const panel = document.querySelector('[data-face-preview="' + source + '"]');
    if (!panel) return null;
    const status = panel.querySelector("[data-face-status]");
    const found = panel.querySelector("[data-face-found]");
    const image = panel.querySelector("[data-face-img]");
    const error = panel.querySelector("[data-face-error]");
    let latest = 0; // only the answer to the latest check is shown

    function show(state, text) {
      panel.hidden = false;
      panel.dataset.state = state;
      status.textContent = text || "";
      status.hidden = !text;
      found.hidden = state !== "found";
      error.hidden = state !== "error";
    }
    function fail(code, message) {
      error.dataset.errorCode = code;
      error.textContent = message; // textContent: a message never becomes markup
      show("error", "");
    }
    return {
      clear: function () {
        latest += 1;
        panel.hidden = true;
      },
      fail: function (code, message) {
        latest += 1;
        fail(code, message);
      },
      check: function (form) {
        const ticket = ++latest;
        show("checking", "Looking for the face…");
        fetch("/api/v1/employees/preview", {
          method: "POST",
          body: form,
          credentials: "same-origin",
          headers: { "X-CSRF-Token": window.attendanceCsrf },
        })
          .then(function (r) {
            return r.json()
              .catch(function () { return {}; })
              .then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
          })
          .then(function (answer) {
            if (ticket !== latest) return;
            if (answer.ok && answer.body.face_data_url) {
              image.src = answer.body.face_data_url;
              show("found", "");
              return;
            }
            const problem = answer.body.error || {};
            fail(problem.code || "error", problem.message || "the photo could not be checked (HTTP " + answer.status + ")");
          })
          .catch(function () {
            if (ticket === latest) fail("unreachable", "the photo could not be checked now; Register checks it again");
          });
      },
    };
  }

  // The chosen photo, and the face found in it, before uploading it for good.
  const photo = document.querySelector("input[data-photo-input]");
  const preview = document.querySelector("img[data-photo-preview]");
  const photoFace = facePreview("photo");
  if (photo && preview) {
    photo.addEventListener("change", function () {
      const file = photo.files && photo.files[0];
      if (preview.src) URL.revokeObjectURL(preview.src);
      if (!file) {
        preview.hidden = true;
        preview.removeAttribute("src");
        if (photoFace) photoFace.clear();
        return;
      }
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      if (!photoFace) return;
      // A file over the limit is refused here: uploading it only to hear so wastes minutes.
      const limit = Number(photo.dataset.maxBytes || 0);
      if (limit && file.size > limit) {
        photoFace.fail("image_too_large", "photo 1 is " + (file.size / 1048576).toFixed(1) +
          " MB; the limit is " + Math.round(limit / 1048576) + " MB");
        return;
      }
      const form = new FormData();
      form.append("photo", file);
      photoFace.check(form);
    });
  }

  // Register from a live camera: keep the snapshot of the chosen camera fresh.
  const liveSelect = document.querySelector("select[data-live-camera]");
  const liveImage = document.querySelector("img[data-live-snapshot]");
  if (liveSelect && liveImage) {
    const refresh = function () {
      liveImage.src = "/live/" + encodeURIComponent(liveSelect.value) + ".jpg?t=" + Date.now();
    };
    liveSelect.addEventListener("change", refresh);
    setInterval(function () { if (!document.hidden) refresh(); }, 1500);
  }

  // The face in the camera's latest frame, at the press of a button.
  const livePreview = document.querySelector("button[data-live-preview]");
  const cameraFace = facePreview("camera");
  if (liveSelect && livePreview && cameraFace) {
    livePreview.hidden = false;
    livePreview.addEventListener("click", function () {
      const form = new FormData();
      form.append("camera_id", liveSelect.value);
      cameraFace.check(form);
    });
    liveSelect.addEventListener("change", cameraFace.clear);
  }
})();
