// Shared helpers: the CSRF token for scripts, name suggestions, photo preview.
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

  // Preview of the chosen photo before uploading it.
  const photo = document.querySelector("input[data-photo-input]");
  const preview = document.querySelector("img[data-photo-preview]");
  if (photo && preview) {
    photo.addEventListener("change", function () {
      const file = photo.files && photo.files[0];
      if (!file) { preview.hidden = true; return; }
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
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
})();
