// The iteration table of RunDetails: one widget model for all rows.
//
// Rows live in a store shared by every view of one model: it starts from the rows the
// model was created with (`_initial`), takes the deltas Python sends as custom messages
// ({type: "rows", rows, reset}), and asks for a full snapshot once it is listening, so
// deltas sent while this module was loading are not lost.
const STORES = new Map();  // model key -> {rows: Map, listeners: Set}

function storeFor(model) {
  const key = model.get("_key");
  let store = STORES.get(key);
  if (!store) {
    store = { rows: new Map(), listeners: new Set() };
    for (const r of model.get("_initial") || []) store.rows.set(r.iteration, r);
    STORES.set(key, store);
  }
  return store;
}

const COLUMNS = [
  ["iteration", "Iteration", "num"],
  ["pipeline", "Pipeline", "text"],
  ["status", "Status", "text"],
  ["duration", "Duration", "num"],
  ["score", null, "num"],          // labelled with the primary metric
  ["best", "Best so far", "num"],
];

function fmt(key, v, row) {
  if (key === "duration" && row.status === "Running" && row.start) {
    v = Math.max(0, Date.now() / 1000 - row.start);   // still running: so far
  }
  if (v === null || v === undefined) return "";
  if (key === "duration") return v < 60 ? `${v.toFixed(2)} s` : `${Math.floor(v / 60)} min ${(v % 60).toFixed(0)} s`;
  if (key === "score" || key === "best") return v.toFixed(4);
  return String(v);
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

function initialize({ model }) {
  const store = storeFor(model);
  const notify = () => store.listeners.forEach((f) => f());
  model.on("msg:custom", (msg) => {
    if (msg.type !== "rows") return;
    if (msg.reset) store.rows.clear();
    for (const r of msg.rows) store.rows.set(r.iteration, r);
    notify();
  });
  model.send({ type: "snapshot" });
  return () => STORES.delete(model.get("_key"));
}

function render({ model, el }) {
  const store = storeFor(model);
  el.classList.add("aw-table");
  const scroller = document.createElement("div");
  scroller.className = "aw-table-scroll";
  const table = document.createElement("table");
  const thead = table.createTHead();
  const tbody = table.createTBody();
  scroller.appendChild(table);
  const empty = document.createElement("div");
  empty.className = "aw-table-empty";
  el.append(scroller, empty);

  function header() {
    const [key, desc] = sortState();
    const tr = document.createElement("tr");
    for (const [k, label, kind] of COLUMNS) {
      const th = document.createElement("th");
      th.dataset.key = k;
      th.className = kind;
      th.textContent = (label ?? model.get("metric")) + (k === key ? (desc ? " \u25BC" : " \u25B2") : "");
      th.title = "Sort by this column";
      th.onclick = () => {
        const [cur, curDesc] = sortState();
        model.set("sort", (cur === k && !curDesc ? "-" : "") + k);
        model.save_changes();
      };
      tr.appendChild(th);
    }
    thead.replaceChildren(tr);
  }

  function sortState() {
    const s = model.get("sort") || "iteration";
    return s.startsWith("-") ? [s.slice(1), true] : [s, false];
  }

  let pending = false;
  let headerStale = false;   // a new sort redraws arrow and rows in the same frame
  function body() {   // at most once per animation frame, however many deltas arrive
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (headerStale) { headerStale = false; header(); }
      const [key, desc] = sortState();
      const rows = [...store.rows.values()].sort(compare(key, desc));
      const selected = model.get("selected");
      const best = model.get("best_iteration");
      const frag = document.createDocumentFragment();
      for (const r of rows) {
        const tr = document.createElement("tr");
        tr.dataset.iteration = r.iteration;
        tr.className = `status-${r.status}` + (r.iteration === selected ? " selected" : "") +
          (r.iteration === best ? " best" : "");
        for (const [k, , kind] of COLUMNS) {
          const td = document.createElement("td");
          td.className = kind;
          td.textContent = fmt(k, r[k], r);
          if (k === "pipeline") td.title = r.pipeline || "";
          tr.appendChild(td);
        }
        frag.appendChild(tr);
      }
      tbody.replaceChildren(frag);
      empty.textContent = rows.length ? "" : (model.get("empty_text") || "No iterations yet.");
      empty.style.display = rows.length ? "none" : "";
    });
  }

  tbody.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (!tr) return;
    model.set("selected", Number(tr.dataset.iteration));
    model.save_changes();
  });

  const redraw = () => { headerStale = true; body(); };
  model.on("change:sort", redraw);
  model.on("change:metric", header);
  model.on("change:selected", body);
  model.on("change:best_iteration", body);
  model.on("change:empty_text", body);
  store.listeners.add(body);
  redraw();
  // Running rows show their time so far: redraw each second while any row runs.
  const tick = setInterval(() => {
    for (const r of store.rows.values()) {
      if (r.status === "Running" && r.start) { body(); return; }
    }
  }, 1000);
  return () => { store.listeners.delete(body); clearInterval(tick); };
}

export default { initialize, render };
