"""The page's stylesheet and its small script: the table (sort, filter, expand, group-by) and the calls that hand
the precomputed plotly figures to Plotly. No statistics and no drawing here: both come from Python."""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
h2 { margin-top: 1.6em; font-size: 1.2em; }
code { background: #f5f5f5; padding: 0 0.2em; }
.controls { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: center; margin: 0.8em 0; }
.controls label { white-space: nowrap; }
.table-box { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; white-space: nowrap; vertical-align: top; }
th { background: #f2f2f2; white-space: normal; }
td.num { text-align: right; white-space: normal; } td.num > span { white-space: nowrap; }
td.name, td.wrap { white-space: normal; } td.name { min-width: 7em; }
td.text { white-space: normal; min-width: 9em; overflow-wrap: anywhere; }
p.note { max-width: 75em; }
#groups > thead th.sortable { cursor: pointer; }
#groups > thead th.asc::after { content: " ▲"; } #groups > thead th.desc::after { content: " ▼"; }
tr.failed > td, tr.interrupted > td, tr.unreadable > td { background: #fde8e8; }
tr.missing > td { background: #f3f3f3; color: #777; }
tr.detail > td { background: #fafafa; padding: 0.4em 0.4em 0.8em 2.5em; }
button.toggle { border: none; background: none; cursor: pointer; font-size: 1em; }
.chart { width: 100%; max-width: 1200px; }
.panels { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; max-width: 100%; } figcaption { font-size: 0.8em; overflow-wrap: anywhere; }
figure img { width: 100%; border: 1px solid #eee; }
.muted { color: #777; }
"""

SCRIPT = r"""
"use strict";
const D = JSON.parse(document.getElementById("report-data").textContent);
const PLOT_CONFIG = {displaylogo: false, responsive: true};
const state = {grouping: D.groupKeys.join("|"), sort: "rank", dir: 1, filter: "", open: new Set(), images: new Set()};

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "checked") node.checked = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter(c => c !== null && c !== undefined));
  return node;
}

const grouping = () => D.groupings[state.grouping];

function breakable(text) {  // the text, with a place to wrap after each comma, slash and underscore
  return h("span", {}, ...String(text).split(/(?<=[,/_])/).flatMap((part, i) => i ? [h("wbr"), part] : [part]));
}

function numbers(text) {  // "2.148 ± 0.027 (n = 3)": the number and its spread stay together, "(n = 3)" may wrap
  return String(text).split(/ (?=\()/).flatMap((part, i) => i ? [" ", h("span", {}, part)] : [h("span", {}, part)]);
}

function cell(tag, kind, text) {
  const content = kind === "name" || tag === "th" ? [breakable(text)] : kind === "num" ? numbers(text) : [text];
  return h(tag, kind ? {class: kind} : {}, ...content);
}

function visibleRows() {
  const terms = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
  const rows = grouping().rows.filter(r => terms.every(t => r.search.includes(t)));
  return rows.sort((a, b) => {
    const x = a.sort[state.sort], y = b.sort[state.sort];
    if (x === y) return a.sort.rank - b.sort.rank;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * state.dir;
  });
}

function sortBy(key) {
  state.dir = state.sort === key ? -state.dir : 1;
  state.sort = key;
  renderTable();
}

function jobTable(row) {
  const head = h("tr", {}, ...D.jobColumns.map(c => cell("th", "", c.label)));
  const body = row.jobs.map(i => {
    const job = D.jobs[i];
    return h("tr", {class: "job " + job.status, "data-job": job.name},
             ...job.cells.map((c, k) => cell("td", D.jobColumns[k].kind, c)));
  });
  return h("table", {class: "jobs"}, h("thead", {}, head), h("tbody", {}, ...body));
}

function toggle(set, key, render) {
  set.has(key) ? set.delete(key) : set.add(key);
  render();
}

function renderTable() {
  const head = h("tr", {}, h("th", {}, ""), h("th", {title: "show its images below"}, "images"),
    ...D.groupColumns.map(c => h("th", {"data-key": c.key,
      class: "sortable" + (c.key === state.sort ? (state.dir > 0 ? " asc" : " desc") : ""),
      onclick: () => sortBy(c.key)}, breakable(c.label))));
  const body = [];
  for (const row of visibleRows()) {
    const open = state.open.has(row.label);
    body.push(h("tr", {class: "group " + row.status, "data-group": row.label},
      h("td", {}, h("button", {class: "toggle", title: "show its jobs",
                               onclick: () => toggle(state.open, row.label, renderTable)}, open ? "▾" : "▸")),
      h("td", {}, row.imageJob === null ? "" : h("input", {type: "checkbox", checked: state.images.has(row.label),
        onchange: () => toggle(state.images, row.label, renderImages)})),
      ...D.groupColumns.map(c => cell("td", c.kind, row.cells[c.key]))));
    if (open) body.push(h("tr", {class: "detail"}, h("td", {colspan: D.groupColumns.length + 2}, jobTable(row))));
  }
  document.getElementById("groups").replaceChildren(h("thead", {}, head), h("tbody", {}, ...body));
}

function draw(id, figure) {
  const div = document.getElementById(id);
  document.getElementById(id + "-none").hidden = Boolean(figure);
  const help = document.getElementById(id + "-help");  // how to use the chart, where there is one
  if (help) help.hidden = !figure;
  div.hidden = !figure;
  if (figure) Plotly.react(div, figure.data, Object.assign({template: D.template}, figure.layout), PLOT_CONFIG);
}

function renderImages() {
  const rows = grouping().rows.filter(r => r.imageJob !== null && state.images.has(r.label));
  const sections = D.imageKinds.map(([kind, title]) => {
    const panels = rows.filter(r => D.images[r.imageJob][kind]).map(r => {
      const job = D.jobs[r.imageJob], image = D.images[r.imageJob][kind];
      return h("figure", {style: "width: " + image.width + "px"},
               h("img", {src: image.src, alt: title + ", " + r.label}),
               h("figcaption", {}, r.label + " — " + job.name + " — " + job.value));
    });
    return panels.length ? h("section", {}, h("h3", {}, title), h("div", {class: "panels"}, ...panels)) : null;
  }).filter(Boolean);
  document.getElementById("images").replaceChildren(
    ...(sections.length ? sections : [h("p", {class: "muted"}, "Tick a row's images box to show its pictures.")]));
}

function regroup() {
  const keys = D.groupKeys.filter(k => document.getElementById("by-" + k).checked);
  const id = keys.join("|");
  document.getElementById("groupby-none").hidden = id in D.groupings;
  if (!(id in D.groupings)) return;
  state.grouping = id;
  state.open.clear();
  state.images = new Set(grouping().rows.filter(r => r.imageJob !== null).slice(0, 3).map(r => r.label));
  document.getElementById("group-count").textContent = grouping().rows.length;
  renderTable();
  draw("curves", grouping().curves);
  draw("per-t", grouping().perT);
  renderImages();
}

document.getElementById("groupby").append(...D.groupKeys.map(k =>
  h("label", {}, h("input", {type: "checkbox", id: "by-" + k, checked: true, onchange: regroup}), " " + k)));
document.getElementById("filter").addEventListener("input", e => { state.filter = e.target.value; renderTable(); });
document.getElementById("expand").addEventListener("click", () => {
  visibleRows().forEach(r => state.open.add(r.label));
  renderTable();
});
document.getElementById("collapse").addEventListener("click", () => { state.open.clear(); renderTable(); });
draw("parallel", D.parallel);
regroup();
"""
