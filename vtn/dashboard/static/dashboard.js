// The dashboard's only script: draws each page's plots with uPlot (shipped beside this file) and
// refreshes the overview from /dashboard/overview.json every few seconds, without reloading.
// Everything from the server is put in the page as text (textContent), never as HTML.
"use strict";

const REFRESH_MS = 5000;
const STYLES = {
  measured: { label: "measured", stroke: "#111", width: 2 },
  planned: { label: "plan", stroke: "#1f6fd1", width: 2 },
  scheduled: { label: "schedule", stroke: "#1f6fd1", width: 2 },
  cap: { label: "cap", stroke: "#d12f1f", width: 2, dash: [6, 4] },
  floor: { label: "floor", stroke: "#e08a00", width: 2, dash: [6, 4] },
  baseline: { label: "baseline", stroke: "#7a4fd1", width: 2 },
  requested: { label: "requested", stroke: "#d12f1f", width: 2, dash: [6, 4] },
};
const plots = {};

function seriesNames(data) {
  return Object.keys(data).filter((k) => k !== "t");
}

function columns(data) {
  return [data.t, ...seriesNames(data).map((k) => data[k])];
}

function countPoints(data) {
  return seriesNames(data).reduce((n, k) => n + data[k].filter((v) => v !== null).length, 0);
}

function drawPlot(figure, data) {
  const width = Math.max(320, figure.clientWidth || 800);
  const options = {
    width: width,
    height: 280,
    scales: { x: { time: true } },
    series: [{}].concat(
      seriesNames(data).map((k) => Object.assign({ spanGaps: false, paths: uPlot.paths.stepped({ align: 1 }) },
        STYLES[k] || { label: k, stroke: "#555" })),
    ),
    axes: [{}, { label: figure.dataset.unit || "", size: 60 }],
  };
  plots[figure.id] = new uPlot(options, columns(data), figure);
  figure.dataset.points = String(countPoints(data));
}

function drawPlots() {
  document.querySelectorAll("figure[data-plot]").forEach((figure) => {
    const source = document.getElementById(figure.dataset.plot);
    if (source) drawPlot(figure, JSON.parse(source.textContent));
  });
}

function kw(value) {
  return value === null || value === undefined ? "-" : value.toFixed(1) + " kW";
}

function setText(id, text) {
  const element = document.getElementById(id);
  if (element) element.textContent = text;
}

function fillRows(id, rows) {
  // rows: arrays of cells; a cell is text, or {text, href} for a link, or {text, cls}.
  const body = document.getElementById(id);
  if (!body) return;
  const fresh = document.createDocumentFragment();
  rows.forEach((cells) => {
    const tr = document.createElement("tr");
    cells.forEach((cell) => {
      const td = document.createElement("td");
      const spec = typeof cell === "object" && cell !== null ? cell : { text: String(cell) };
      if (spec.href) {
        const a = document.createElement("a");
        a.href = spec.href;
        a.textContent = spec.text;
        td.appendChild(a);
      } else {
        td.textContent = spec.text;
      }
      if (spec.cls) td.className = spec.cls;
      tr.appendChild(td);
    });
    fresh.appendChild(tr);
  });
  body.replaceChildren(fresh);
}

function when(iso) {
  return iso ? iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, " UTC") : "never";
}

function showOverview(data) {
  setText("vens-online", String(data.vens_online));
  setText("vens-total", String(data.vens_total));
  setText("measured-now", kw(data.measured_now_kw));
  setText("planned-now", kw(data.planned_now_kw));
  setText("cap-now", kw(data.cap_now_kw));
  setText("schedules-live", String(data.schedules_live));
  setText("refreshed-at", when(data.now));
  fillRows("ven-rows", data.vens.map((v) => [
    { text: v.ven_name, href: "/dashboard/vens/" + encodeURIComponent(v.ven_id) },
    v.site_id,
    { text: v.online ? "online" : "offline", cls: v.online ? "online" : "offline" },
    v.registered ? "yes" : "no",
    when(v.last_poll_at),
  ]));
  fillRows("event-rows", data.events.map((e) => [e.event_id, e.status, e.signal, e.start_text, e.vens, e.opted_out]));
  fillRows("run-rows", data.runs_today.map((r) => [
    { text: r.run_id.slice(0, 8), href: "/dashboard/runs/" + encodeURIComponent(r.run_id) },
    when(r.started_at), r.trigger, r.status, r.seconds.toFixed(2) + " s",
  ]));
  const figure = document.getElementById("portfolio-plot");
  if (figure && plots[figure.id]) {
    plots[figure.id].setData(columns(data.plot));
    figure.dataset.points = String(countPoints(data.plot));
  }
}

let refreshes = 0;

async function refreshOverview(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) {
      window.location.assign("/dashboard/login?next=/dashboard/&reason=" + encodeURIComponent("your session ended"));
      return;
    }
    if (!response.ok) throw new Error("HTTP " + response.status);
    showOverview(await response.json());
    refreshes += 1;
    document.body.dataset.refreshes = String(refreshes);
    setText("refresh-status", "");
  } catch (error) {
    setText("refresh-status", "(refresh failed: " + error.message + "; trying again)");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  drawPlots();
  const overview = document.getElementById("overview");
  if (overview && overview.dataset.refresh) {
    const url = overview.dataset.refresh;
    // The next refresh is asked for once this one is done: a slow VTN never gets them piled up.
    const next = () => window.setTimeout(() => refreshOverview(url).finally(next), REFRESH_MS);
    next();
  }
});
