// The accessibility check the browser tests run in each page (arguments[0]: the least contrast).
const problems = [];
const html = document.documentElement;
if (!html.lang) problems.push("html has no lang");
if (!document.title.trim()) problems.push("no title");
for (const table of document.querySelectorAll("table")) {
  if (!table.querySelector("th")) problems.push("a table without th");
  if (!table.querySelector("caption")) problems.push("a table without caption");
}
for (const th of document.querySelectorAll("th")) {
  if (!["col", "row", "colgroup", "rowgroup"].includes(th.getAttribute("scope"))) problems.push("th without scope: " + th.textContent);
}
for (const input of document.querySelectorAll("input, select, textarea")) {
  const labelled = input.labels && input.labels.length || input.getAttribute("aria-label") || input.getAttribute("aria-labelledby");
  if (!labelled) problems.push("an input without a label");
}
for (const img of document.querySelectorAll("img")) if (!img.alt) problems.push("an img without alt");
for (const svg of document.querySelectorAll("svg")) {
  if (!svg.querySelector(":scope > title") || !svg.querySelector(":scope > title").textContent.trim()) problems.push("an svg without title");
}
const rgb = (text) => { const m = text.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(",").map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
const lum = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
const background = (el) => { for (let e = el; e && e.nodeType === 1; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) return c; } return [255, 255, 255, 1]; };
let checked = 0, lowest = 21;
for (const el of document.body.querySelectorAll("*")) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || el.getClientRects().length === 0 || el.closest("title, desc")) continue;
  const style = getComputedStyle(el);
  const fg = rgb(el instanceof SVGElement ? style.fill : style.color);
  if (!fg) { problems.push("no color for " + el.tagName); continue; }
  const [a, b] = [lum(fg), lum(background(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  checked += 1; lowest = Math.min(lowest, ratio);
  if (ratio < arguments[0]) problems.push(`contrast ${ratio.toFixed(2)} of ${el.tagName}: ${el.textContent.slice(0, 40)}`);
}
return {problems: [...new Set(problems)].slice(0, 20), checked, lowest};
