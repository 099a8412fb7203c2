// What every page must be, measured in the browser: no sideways scrolling, one h1, a label on
// every input, and text at WCAG AA contrast (4.5:1) against the background it is drawn on.
() => {
  const rgb = (s) => { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(",").map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; }
    return { r: 255, g: 255, b: 255, a: 1 }; };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 1 && r.height > 1; };
  const contrast = [];
  document.querySelectorAll(".pill, .badge, .count, .nav-badge, .muted, .btn, .mainnav a, th, "
    + ".corrected-mark, .alert, main a, label, td, p, h1, h2").forEach((el) => {
    if (!visible(el) || !el.textContent.trim() || el.closest(".kiosk-stage")) return;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) contrast.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 24)}" ${ratio.toFixed(2)}`);
  });
  const unlabelled = [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => !["hidden", "submit", "button"].includes(el.type))
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML.slice(0, 80));
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    h1: document.querySelectorAll("h1").length,
    contrast, unlabelled,
  };
}
