// The run view: header, iteration table, charts (a metric with its dropdown, a timeline,
// the best of each model family), and the selected iteration's properties and log.
//
// One module for both surfaces. RunDetails (anywidget) hands it its widget model; the
// JupyterLab panel hands it a model of its own with the same traits, fed from the REST API
// (labextension/src/runview.ts). Everything shown is formatted in Python
// (automl_widgets/viewmodel.py); this module only lays it out, sorts and plots it.
//
// Traits read: header, metrics, families, cancelable, can_cancel_run, properties, charts,
// started,
// _key, _initial. Traits written: selected, sort. Custom messages in: {type: "rows", rows,
// reset} and {type: "log", n, text, reset}; out: {type: "snapshot"}, {type: "cancel_run"},
// {type: "cancel_iteration", n}.
import Plotly from "plotly.js-basic-dist-min";

const LOG_CHARS = 100000;
const STORES = new Map();   // model key -> rows and log, shared by every view of one model

function storeFor(model) {
  const key = model.get("_key");
  let store = STORES.get(key);
  if (!store) {
    store = { rows: new Map(), log: { n: null, text: "" }, listeners: new Set() };
    for (const r of model.get("_initial") || []) store.rows.set(r.iteration, r);
    STORES.set(key, store);
  }
  return store;
}

function initialize({ model }) {
  const store = storeFor(model);
  const notify = (what) => store.listeners.forEach((f) => f(what));
  model.on("msg:custom", (msg) => {
    if (msg.type === "rows") {
      if (msg.reset) store.rows.clear();
      for (const r of msg.rows) store.rows.set(r.iteration, r);
      notify("rows");
    } else if (msg.type === "log") {
      const text = msg.reset || store.log.n !== msg.n ? msg.text : store.log.text + msg.text;
      store.log = { n: msg.n, text: text.slice(-LOG_CHARS) };
      notify("log");
    }
  });
  model.send({ type: "snapshot" });   // deltas sent while this module loaded are not lost
  return () => STORES.delete(model.get("_key"));
}

const COLUMNS = [
  ["iteration", "Iteration", "num"],
  ["pipeline", "Pipeline", "text"],
  ["status", "Status", "text"],
  ["duration", "Duration", "num"],
  ["score", null, "num"],          // labelled with the primary metric
  ["best", "Best so far", "num"],
];

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function compare(key, desc) {
  const sign = desc ? -1 : 1;
  return (a, b) => {
    const x = a[key], y = b[key];
    if (x === y) return a.iteration - b.iteration;
    if (x === null || x === undefined) return 1;    // blanks last either way
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  };
}

// The metric plot's y range when a few scores lie far from the rest: a diverged model's
// R² of -5e25 beside the others' 0.7-0.9 (ames) squeezed every other point into one line.
// Fences 10 interquartile ranges out from the quartiles, so that a weak model stays in
// view and only a broken one leaves it; null when nothing is beyond them (the plot then
// scales itself), or with fewer than 5 scores.
export function plotRange(values) {
  const ys = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (ys.length < 5) return null;
  const at = (q) => ys[Math.round(q * (ys.length - 1))];
  const width = at(0.75) - at(0.25) || Math.abs(at(0.5)) * 0.01 || 1e-6;
  const lo = at(0.25) - 10 * width, hi = at(0.75) + 10 * width;
  if (ys[0] >= lo && ys[ys.length - 1] <= hi) return null;
  const inside = ys.filter((v) => v >= lo && v <= hi);
  const pad = (inside[inside.length - 1] - inside[0]) * 0.08 || width;
  return [Math.max(lo, inside[0] - pad), Math.min(hi, inside[inside.length - 1] + pad)];
}

function css(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

function render({ model, el }) {
  const store = storeFor(model);
  el.classList.add("aw-view");
  const get = (k) => model.get(k);

  // ---- layout ---------------------------------------------------------------------------
  const header = h("div", "aw-header");
  const cancelRun = h("button", "aw-button aw-cancel-run", "Cancel run");
  const cancelIteration = h("button", "aw-button aw-cancel-iteration", "Cancel iteration");
  const buttons = h("div", "aw-buttons");
  buttons.append(cancelRun, cancelIteration);
  const top = h("div", "aw-top");
  top.append(header, buttons);

  const tableBox = h("div", "aw-table");
  const scroller = h("div", "aw-table-scroll");
  scroller.tabIndex = 0;
  const table = h("table");
  table.setAttribute("role", "grid");
  table.setAttribute("aria-label", "Iterations: arrow keys move, Enter opens the details");
  const thead = table.createTHead();
  const tbody = table.createTBody();
  scroller.appendChild(table);
  const empty = h("div", "aw-table-empty");
  tableBox.append(scroller, empty);

  const tabs = h("div", "aw-tabs");
  tabs.setAttribute("role", "tablist");
  const TABS = [["metric", "Metric"], ["timeline", "Timeline"], ["families", "Families"],
    ["iteration", "Iteration"]];
  let tab = "metric";
  const tabButtons = TABS.map(([key, label]) => {
    const b = h("button", "aw-tab", label);
    b.dataset.tab = key;
    b.setAttribute("role", "tab");
    b.onclick = () => { tab = key; drawCharts(); };
    return b;
  });
  tabs.append(...tabButtons);
  const select = h("select", "aw-metric");
  select.setAttribute("aria-label", "Metric");
  const metricLabel = h("label", "aw-metric-label", "Metric ");
  metricLabel.append(select);
  const plot = h("div", "aw-plot");
  const familyBox = h("div", "aw-families");
  const iterationBox = h("div", "aw-iteration-charts");
  const charts = h("div", "aw-charts");
  charts.append(tabs, metricLabel, plot, familyBox, iterationBox);

  const properties = h("div", "aw-properties");
  properties.tabIndex = -1;
  const logTitle = h("div", "aw-log-title");
  const log = h("pre", "aw-log");
  const selectedBox = h("div", "aw-selected");
  selectedBox.append(properties, logTitle, log);
  const bottom = h("div", "aw-bottom");
  bottom.append(charts, selectedBox);
  el.replaceChildren(top, tableBox, bottom);

  // ---- header and buttons ---------------------------------------------------------------
  const asked = new Set();   // cancels sent from this view, until Python's list follows
  function drawHeader() {
    const d = get("header") || {};
    const title = h("div", "aw-title");
    title.append(h("b", "", d.id || ""));
    if (d.name) title.append(` \u00b7 ${d.name}`);
    title.append(` \u00b7 experiment ${d.experiment || ""} \u00b7 target ${d.target || ""} `);
    title.append(h("span", `aw-badge aw-badge-${d.status}`, d.status || ""));
    const parts = [title, h("div", "aw-run-line", d.line || "")];
    if (d.error) parts.push(h("div", "aw-error", d.error));
    for (const w of d.warnings || []) parts.push(h("div", "aw-warning", `\u26a0 ${w}`));
    header.replaceChildren(...parts);
    drawButtons();
  }

  function drawButtons() {
    const runOn = !!get("can_cancel_run");
    cancelRun.disabled = !runOn;
    cancelRun.classList.toggle("aw-danger", runOn);   // no red on a finished run
    const n = get("selected");
    const can = get("cancelable") || [];
    cancelIteration.textContent = n === null || n === undefined ? "Cancel iteration" : `Cancel iteration ${n}`;
    cancelIteration.disabled = !(n !== null && can.includes(n) && !asked.has(n));
  }
  cancelRun.onclick = () => { model.send({ type: "cancel_run" }); cancelRun.disabled = true; };
  cancelIteration.onclick = () => {
    const n = get("selected");
    if (n === null || n === undefined) return;
    asked.add(n);
    model.send({ type: "cancel_iteration", n });
    drawButtons();
  };

  // ---- the table --------------------------------------------------------------------------
  function sortState() {
    const s = get("sort") || "iteration";
    return s.startsWith("-") ? [s.slice(1), true] : [s, false];
  }
  let order = [];   // iterations in the order shown
  function drawHead() {
    const [key, desc] = sortState();
    const tr = h("tr");
    tr.setAttribute("role", "row");
    for (const [k, label, kind] of COLUMNS) {
      const th = h("th", kind, (label ?? (get("header") || {}).primary_metric ?? "Score") +
        (k === key ? (desc ? " \u25BC" : " \u25B2") : ""));
      th.dataset.key = k;
      th.title = "Sort by this column";
      th.setAttribute("role", "columnheader");
      th.setAttribute("aria-sort", k === key ? (desc ? "descending" : "ascending") : "none");
      th.onclick = () => {
        const [cur, curDesc] = sortState();
        model.set("sort", (cur === k && !curDesc ? "-" : "") + k);
        model.save_changes();
        schedule("rows");
      };
      tr.appendChild(th);
    }
    thead.replaceChildren(tr);
  }

  function drawRows() {
    drawHead();
    const [key, desc] = sortState();
    const rows = [...store.rows.values()].sort(compare(key, desc));
    order = rows.map((r) => r.iteration);
    const selected = get("selected");
    const best = (get("header") || {}).best_iteration;
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = h("tr", `status-${r.status}` + (r.iteration === selected ? " selected" : "") +
        (r.iteration === best ? " best" : ""));
      tr.dataset.iteration = r.iteration;
      tr.setAttribute("role", "row");
      tr.setAttribute("aria-selected", r.iteration === selected ? "true" : "false");
      const texts = [String(r.iteration), r.pipeline, r.status, r.duration_text, r.score_text, r.best_text];
      COLUMNS.forEach(([k, , kind], i) => {
        const td = h("td", kind, texts[i]);
        td.setAttribute("role", "gridcell");
        if (k === "pipeline") td.title = r.pipeline || "";
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    const text = (get("header") || {}).empty || "No iterations yet.";
    empty.textContent = rows.length ? "" : text;
    empty.style.display = rows.length ? "none" : "";
  }

  function choose(n) {
    model.set("selected", n);
    model.save_changes();
  }
  tbody.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr) choose(Number(tr.dataset.iteration));
  });
  scroller.addEventListener("keydown", (ev) => {
    if (!order.length) return;
    const at = order.indexOf(get("selected"));
    let next = null;
    if (ev.key === "ArrowDown") next = order[Math.min(order.length - 1, at + 1)];
    else if (ev.key === "ArrowUp") next = order[Math.max(0, at < 0 ? 0 : at - 1)];
    else if (ev.key === "Home") next = order[0];
    else if (ev.key === "End") next = order[order.length - 1];
    else if (ev.key === "Enter" && at >= 0) {
      ev.preventDefault();
      properties.scrollIntoView({ block: "nearest" });
      properties.focus();
      return;
    } else return;
    ev.preventDefault();
    choose(next);
  });

  // ---- charts -------------------------------------------------------------------------------
  function metricInfo() {
    const list = get("metrics") || [];
    const names = list.map((m) => m.name);
    if ([...select.options].map((o) => o.value).join() !== names.join()) {
      const keep = select.value;
      select.replaceChildren(...names.map((n) => new Option(n, n)));
      select.value = names.includes(keep) ? keep : names[0] || "";
    }
    return list.find((m) => m.name === select.value) || list[0];
  }

  function themed(layout) {
    const font = css(el, "--jp-ui-font-color1", "#333");
    const grid = css(el, "--jp-border-color2", "#e0e0e0");
    const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, color: font };
    return {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: font, size: 12 }, height: 300,
      margin: { l: 60, r: 20, t: 30, b: 45 },
      legend: { orientation: "h", y: 1.14, x: 0 },
      ...layout,
      xaxis: { ...axis, ...(layout.xaxis || {}) },
      yaxis: { ...axis, ...(layout.yaxis || {}) },
    };
  }

  const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  function drawMetric() {
    const info = metricInfo();
    const name = info ? info.name : "";
    const xs = [], ys = [];
    for (const n of [...store.rows.keys()].sort((a, b) => a - b)) {
      const v = store.rows.get(n).metrics?.[name];
      if (v !== undefined && v !== null) { xs.push(n); ys.push(v); }
    }
    const steps = info ? [...info.best] : [];
    const last = xs[xs.length - 1];
    if (steps.length && last > steps[steps.length - 1][0]) {
      steps.push([last, steps[steps.length - 1][1]]);   // the best so far holds to the end
    }
    const accent = css(el, "--aw-best-color", "#ef553b");
    // Far-off scores sit on the plot's edge as triangles pointing off it, their own
    // values in the hover text.
    const range = plotRange(ys);
    const inset = range ? (range[1] - range[0]) * 0.04 : 0;   // a whole marker inside
    const shown = range ? ys.map((v) => Math.min(Math.max(v, range[0] + inset),
                                                  range[1] - inset)) : ys;
    const symbol = range ? ys.map((v) => (v < range[0] ? "triangle-down" : v > range[1]
      ? "triangle-up" : "circle")) : "circle";
    return [[
      { x: xs, y: shown, mode: "markers", type: "scatter", name: "iteration",
        customdata: ys.map((v) => (Math.abs(v) >= 1e6 ? v.toExponential(3) : v.toFixed(4))),
        marker: { size: 8, color: css(el, "--aw-point-color", "#636efa"), symbol },
        hovertemplate: "iteration %{x}<br>%{customdata}<extra></extra>" },
      { x: steps.map((p) => p[0]), y: steps.map((p) => p[1]), mode: "lines", type: "scatter",
        name: "best so far", line: { shape: "hv", width: 2, color: accent }, hoverinfo: "skip" },
    ], {
      xaxis: { title: { text: "iteration" }, dtick: xs.length && Math.max(...xs) < 10 ? 1 : undefined },
      yaxis: range ? { title: { text: name }, range } : { title: { text: name } },
    }];
  }

  function drawTimeline() {
    const t0 = get("started") || 0;
    const now = Date.now() / 1000;
    const rows = [...store.rows.values()].filter((r) => r.start !== null && r.start !== undefined)
      .sort((a, b) => a.iteration - b.iteration);
    const byStatus = new Map();
    for (const r of rows) {
      if (!byStatus.has(r.status)) byStatus.set(r.status, []);
      byStatus.get(r.status).push(r);
    }
    const traces = [...byStatus.entries()].map(([status, rs]) => ({
      type: "bar", orientation: "h", name: status,
      y: rs.map((r) => r.iteration), base: rs.map((r) => r.start - t0),
      x: rs.map((r) => Math.max(0.05, (r.end ?? now) - r.start)),
      marker: { color: css(el, `--aw-status-${status}`, "#9e9e9e") },
      customdata: rs.map((r) => [r.pipeline, r.duration_text]),
      hovertemplate: "iteration %{y}: %{customdata[0]}<br>%{customdata[1]}<extra></extra>",
    }));
    return [traces, {
      barmode: "overlay", bargap: 0.2,
      xaxis: { title: { text: "seconds since the run started" } },
      yaxis: { title: { text: "iteration" }, autorange: "reversed" },
    }];
  }

  function drawFamilies() {
    const fams = get("families") || [];
    const t = h("table", "aw-family-table");
    const head = h("tr");
    for (const label of ["Family", "Iterations", `Best ${(get("header") || {}).primary_metric || ""}`, "Iteration"]) {
      head.append(h("th", "", label));
    }
    t.append(head);
    for (const f of fams) {
      const tr = h("tr");
      tr.dataset.family = f.family;
      tr.append(h("td", "text", f.family), h("td", "num", String(f.iterations)),
        h("td", "num", f.best_text), h("td", "num", f.iteration === null ? "" : String(f.iteration)));
      if (f.iteration !== null) tr.onclick = () => choose(f.iteration);
      t.append(tr);
    }
    familyBox.replaceChildren(fams.length ? t : h("div", "aw-table-empty", "No family has run yet."));
  }

  // ---- the selected iteration's charts: from its held-out predictions ------------------
  function small(cls, traces, layout) {
    const div = h("div", `aw-chart ${cls}`);
    iterationBox.append(div);
    Plotly.react(div, traces, themed({ height: 240, margin: { l: 50, r: 10, t: 30, b: 40 },
      showlegend: traces.length > 1, ...layout }), { ...CONFIG, displayModeBar: false });
    return div;
  }
  const line = (c, dash) => ({ x: c.x, y: c.y, name: c.label, mode: "lines", type: "scatter",
    line: { width: 2, dash } });
  // What the iteration tab shows: new rows schedule a redraw of the charts, which must not
  // rebuild these (a flicker, and the user's scroll lost) when they have not changed.
  let drawnIteration = null;
  function drawIteration() {
    const key = JSON.stringify(get("charts") ?? null) + "|" + get("selected");
    if (key === drawnIteration && iterationBox.childElementCount) return;
    drawnIteration = key;
    for (const div of iterationBox.querySelectorAll(".aw-chart")) {
      try { Plotly.purge(div); } catch (e) { /* gone */ }
    }
    iterationBox.replaceChildren();
    const c = get("charts");
    if (!c) {
      iterationBox.append(h("div", "aw-table-empty", get("selected") === null || get("selected") === undefined
        ? "Select an iteration to see its charts." : "No charts: the iteration has no predictions."));
      return;
    }
    iterationBox.append(h("div", "aw-iteration-title", `Iteration ${c.iteration}, on its held-out rows`));
    const diagonal = { x: [0, 1], y: [0, 1], mode: "lines", type: "scatter", name: "chance",
      line: { dash: "dot", width: 1, color: css(el, "--jp-ui-font-color2", "#888") } };
    if (c.kind === "classification") {
      const t = h("table", "aw-confusion");
      const head = h("tr");
      head.append(h("th", "", "true \\ predicted"), ...c.labels.map((l) => h("th", "num", l)));
      t.append(head);
      const most = Math.max(1, ...c.confusion.flat());
      c.confusion.forEach((row, i) => {
        const tr = h("tr");
        tr.append(h("th", "", c.labels[i]));
        row.forEach((v, j) => {
          const td = h("td", "num" + (i === j ? " aw-diagonal" : ""), String(v));
          td.style.setProperty("--aw-share", String(v / most));
          tr.append(td);
        });
        t.append(tr);
      });
      const box = h("div", "aw-chart-box");
      box.append(h("div", "aw-chart-title", "Confusion matrix"), t);
      iterationBox.append(box);
      small("aw-chart-roc", [...c.roc.map((r) => ({ ...line(r), name: `${r.label} (AUC ${r.auc})` })), diagonal],
        { title: { text: "ROC" }, xaxis: { title: { text: "false positive rate" } }, yaxis: { title: { text: "true positive rate" } } });
      small("aw-chart-pr", c.pr.map((r) => line(r)),
        { title: { text: "Precision-recall" }, xaxis: { title: { text: "recall" } }, yaxis: { title: { text: "precision" } } });
      small("aw-chart-calibration", [...c.calibration.map((r) => ({ ...line(r), mode: "lines+markers" })), diagonal],
        { title: { text: "Calibration" }, xaxis: { title: { text: "predicted probability" } }, yaxis: { title: { text: "observed frequency" } } });
    } else {
      const lo = Math.min(...c.true, ...c.predicted), hi = Math.max(...c.true, ...c.predicted);
      small("aw-chart-scatter", [{ x: c.true, y: c.predicted, mode: "markers", type: "scatter", name: "rows",
        marker: { size: 5, opacity: 0.6, color: css(el, "--aw-point-color", "#636efa") } },
        { ...diagonal, x: [lo, hi], y: [lo, hi], name: "exact" }],
        { title: { text: "Predicted against true" }, xaxis: { title: { text: "true" } }, yaxis: { title: { text: "predicted" } } });
      small("aw-chart-residuals", [{ x: c.predicted, y: c.residual, mode: "markers", type: "scatter", name: "rows",
        marker: { size: 5, opacity: 0.6, color: css(el, "--aw-point-color", "#636efa") } }],
        { title: { text: "Residuals" }, xaxis: { title: { text: "predicted" } }, yaxis: { title: { text: "true - predicted" } } });
    }
    if (c.importance) {
      const f = c.importance;
      // Names as text on a category axis: columns of a plain array are numbers, which
      // plotly would otherwise place on a numeric axis, out of the importance order.
      small("aw-chart-importance", [{ type: "bar", orientation: "h", y: f.feature.map(String), x: f.importance,
        error_x: { type: "data", array: f.std, visible: true }, name: "importance",
        marker: { color: css(el, "--aw-point-color", "#636efa") } }],
        { title: { text: "Feature importance" }, height: 80 + 18 * f.feature.length,
          margin: { l: 160, r: 10, t: 30, b: 40 }, yaxis: { type: "category", autorange: "reversed" },
          xaxis: { title: { text: "drop of the metric when shuffled" } } });
    }
  }

  let plotted = null;
  function drawCharts() {
    for (const b of tabButtons) {
      const on = b.dataset.tab === tab;
      b.classList.toggle("aw-active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    }
    metricLabel.style.display = tab === "metric" ? "" : "none";
    plot.style.display = tab === "families" || tab === "iteration" ? "none" : "";
    familyBox.style.display = tab === "families" ? "" : "none";
    iterationBox.style.display = tab === "iteration" ? "" : "none";
    if (tab === "families") { drawFamilies(); return; }
    if (tab === "iteration") { drawIteration(); return; }
    const [traces, layout] = tab === "metric" ? drawMetric() : drawTimeline();
    Plotly.react(plot, traces, themed(layout), CONFIG);
    if (plotted !== plot) {   // once per plot element: clicks select the iteration
      plotted = plot;
      plot.on("plotly_click", (ev) => {
        const p = ev.points && ev.points[0];
        if (!p) return;
        choose(tab === "timeline" ? p.y : p.x);
      });
    }
  }
  select.addEventListener("change", () => drawCharts());

  // ---- the selected iteration --------------------------------------------------------------
  function drawProperties() {
    const p = get("properties");
    if (!p) {
      properties.replaceChildren(h("i", "", "Click a row of the table or a point of the plot to see that iteration's properties and log."));
      logTitle.textContent = "";
      log.textContent = "";
      log.style.display = "none";
      return;
    }
    const t = h("table");
    for (const [k, v] of p.rows) {
      const tr = h("tr");
      tr.append(h("th", "", k), h("td", "", v));
      t.append(tr);
    }
    properties.replaceChildren(h("div", "aw-properties-title", p.title), t);
    drawLog();
  }

  function drawLog() {
    const n = get("selected");
    if (n === null || n === undefined) return;
    logTitle.textContent = `Log of iteration ${n}`;
    log.style.display = "";
    const text = store.log.n === n ? store.log.text : "";
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = text || "(empty so far)";
    if (atEnd) log.scrollTop = log.scrollHeight;   // follow the tail unless scrolled up
  }

  // ---- updates: at most one redraw per animation frame -------------------------------------
  const due = new Set();
  let frame = null;
  function schedule(what) {
    due.add(what);
    if (frame !== null) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      const now = new Set(due);
      due.clear();
      if (now.has("header")) drawHeader();
      if (now.has("rows")) drawRows();
      if (now.has("buttons")) drawButtons();
      if (now.has("charts")) drawCharts();
      if (now.has("properties")) drawProperties();
      else if (now.has("log")) drawLog();
    });
  }
  const on = {
    "change:header": ["header", "rows"], "change:metrics": ["charts"],
    "change:families": ["charts"], "change:cancelable": ["buttons"],
    "change:charts": ["charts"],
    "change:can_cancel_run": ["buttons"], "change:properties": ["properties"],
    "change:selected": ["rows", "buttons", "properties"], "change:sort": ["rows"],
  };
  const handlers = Object.entries(on).map(([event, what]) => {
    const f = () => what.forEach(schedule);
    model.on(event, f);
    return [event, f];
  });
  const listener = (what) => {
    if (what === "rows") { schedule("rows"); schedule("charts"); } else schedule(what);
  };
  store.listeners.add(listener);
  // The theme: JupyterLab switches it with an attribute on <body>; the plot follows.
  const themeWatch = new MutationObserver(() => { drawnIteration = null; schedule("charts"); });
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"] });
  ["header", "rows", "buttons", "charts", "properties"].forEach(schedule);

  return () => {
    store.listeners.delete(listener);
    for (const [event, f] of handlers) model.off(event, f);
    themeWatch.disconnect();
    if (frame !== null) cancelAnimationFrame(frame);
    try { Plotly.purge(plot); } catch (e) { /* already gone */ }
  };
}

export default { initialize, render };
