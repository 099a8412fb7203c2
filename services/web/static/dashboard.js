// Dashboard: live camera switching, and panels refreshed when an attendance event arrives.
(function () {
  "use strict";
  // Addresses come from the page (rendered by the server), so this script holds none.
  const live = document.querySelector("[data-live]");
  const urls = live ? live.dataset : {};
  const img = document.querySelector("img[data-live-img]");
  const select = document.querySelector("select[data-camera-select]");
  const empty = document.querySelector("[data-live-empty]");

  function showCamera(camera) {
    if (!img || !camera || !urls.streamTemplate) return;
    img.src = urls.streamTemplate.replace("__camera__", encodeURIComponent(camera));
    if (empty) empty.hidden = true;
  }
  if (select) select.addEventListener("change", function () { showCamera(select.value); });
  // The MJPEG stream never finishes loading: start it only after the page's load event, or the
  // browser would show the page as loading forever.
  if (img && img.dataset.src) {
    const startStream = function () { img.src = img.dataset.src; };
    if (document.readyState === "complete") startStream();
    else window.addEventListener("load", startStream);
  }
  // A stream ends after a while (or on a network hiccup): reconnect.
  if (img) img.addEventListener("error", function () { setTimeout(function () { if (select) showCamera(select.value); }, 2000); });

  // Cameras come and go: refresh the list every 10 s.
  function refreshCameras() {
    if (!urls.camerasUrl) return;
    fetch(urls.camerasUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { cameras: [] }; })
      .then(function (data) {
        if (!select) return;
        const current = select.value;
        const known = Array.from(select.options).map(function (o) { return o.value; }).filter(Boolean);
        if (known.join(",") === data.cameras.join(",")) return;
        select.replaceChildren();
        data.cameras.forEach(function (c) {
          const o = document.createElement("option"); o.value = c; o.textContent = c; select.appendChild(o);
        });
        if (data.cameras.length && data.cameras.indexOf(current) < 0) showCamera(data.cameras[0]);
        else if (!current && data.cameras.length) showCamera(data.cameras[0]);
      }).catch(function () {});
  }
  setInterval(refreshCameras, 10000);

  // Server-rendered (escaped) fragments replace the panels' content.
  function refreshPanels(fresh) {
    document.querySelectorAll("[data-fragment]").forEach(function (el) {
      fetch(el.dataset.fragment, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          el.innerHTML = html;
          if (fresh && el.firstElementChild) el.firstElementChild.classList.add("fresh");
        }).catch(function () {});
    });
  }
  if (window.EventSource && urls.eventsUrl) {
    const source = new EventSource(urls.eventsUrl);
    source.addEventListener("attendance", function () { refreshPanels(true); });
  }
  // Polling as a safety net (missed events, day change at midnight).
  setInterval(function () { refreshPanels(false); }, 30000);
})();
