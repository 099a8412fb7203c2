// Shared helpers: the CSRF token for scripts, name suggestions, photo and face previews.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.attendanceCsrf = meta ? meta.content : "";

  // An error as a person reads it: one photo is "the photo", a capital first, a full stop last.
  function sentence(message) {
    let text = String(message || "").trim().replace(/^photo 1: /, "");
    if (!text) return text;
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + ".";
  }
  window.attendanceSentence = sentence;

  // Phones: the navigation folds into a menu button (without scripts it simply stays open).
  const topbar = document.querySelector(".topbar");
  const toggle = document.querySelector("[data-nav-toggle]");
  if (topbar && toggle) {
    toggle.hidden = false;
    topbar.classList.add("collapsible");
    toggle.addEventListener("click", function () {
      const open = topbar.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // A button whose request is running shows it and cannot be pressed again.
  function setBusy(form, busy) {
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
      button.disabled = busy;
      if (busy) button.setAttribute("aria-busy", "true");
      else button.removeAttribute("aria-busy");
    });
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (form.hasAttribute("data-keep-files")) return;
    form.addEventListener("submit", function () {
      // After this turn: the pressed button's name and value must still be sent.
      setTimeout(function () { setBusy(form, true); }, 0);
    });
  });
  // Coming back with the browser's Back button shows the page as it was: usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form").forEach(function (form) { setBusy(form, false); });
  });

  // Forms with files are sent in the background so that, when the server refuses them, the
  // chosen file is still chosen: only the error (and what it offers) is brought in.
  document.querySelectorAll("form[data-keep-files]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData || !window.DOMParser) return;
      event.preventDefault();
      let data;
      try { data = event.submitter ? new FormData(form, event.submitter) : new FormData(form); }
      catch (e) { data = new FormData(form); }
      setBusy(form, true);
      fetch(form.action || window.location.href, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      })
        .then(function (r) {
          const type = r.headers.get("Content-Type") || "";
          if (type.indexOf("application/json") >= 0) {
            return r.json().then(function (answer) {
              if (answer.redirect) window.location.assign(answer.redirect);
              else throw new Error("no redirect");
            });
          }
          return r.text().then(function (html) { showErrors(form, html); setBusy(form, false); });
        })
        .catch(function () { setBusy(form, false); form.submit(); });
    });
  });

  function showErrors(form, html) {
    const answer = new DOMParser().parseFromString(html, "text/html");
    const alert = answer.querySelector("main .alert-error");
    const current = form.parentNode.querySelector(".alert-error");
    if (current) current.remove();
    if (alert) form.parentNode.insertBefore(document.importNode(alert, true), form);
    // What the refusal offers (register anyway) comes in once; what was typed stays.
    const offer = answer.querySelector("form[data-keep-files] input[name=allow_duplicate_face]");
    if (offer && !form.querySelector("input[name=allow_duplicate_face]")) {
      const submit = form.querySelector("button[type=submit]");
      form.insertBefore(document.importNode(offer.closest("label"), true), submit);
    }
    const shown = form.parentNode.querySelector(".alert-error");
    if (shown) { shown.setAttribute("tabindex", "-1"); shown.focus(); }
  }

  // Suggestions for the employee search boxes (one shared <datalist>).
  const list = document.getElementById("employee-suggestions");
  let timer = null;
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const q = input.value.trim();
      if (!list || !list.dataset.url || q.length < 1) return;
      timer = setTimeout(function () {
        fetch(list.dataset.url + "?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
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
      error.textContent = sentence(message); // textContent: a message never becomes markup
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
        fetch(panel.dataset.previewUrl, {
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
              // A photo of a screen or a print can be enrolled, but the person should know.
              show("found", answer.body.liveness_hint ? sentence(answer.body.liveness_hint) : "");
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
        photoFace.fail("image_too_large", "the photo is " + (file.size / 1048576).toFixed(1) +
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
  if (liveSelect && liveImage && liveImage.dataset.srcTemplate) {
    const refresh = function () {
      // The server renders the address with a slot for the camera (see CAMERA_SLOT).
      liveImage.src = liveImage.dataset.srcTemplate.replace("__camera__", encodeURIComponent(liveSelect.value)) +
        "?t=" + Date.now();
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
