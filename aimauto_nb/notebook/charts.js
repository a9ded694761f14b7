// aimauto_nb's panel charts: plain SVG drawn from the widget's state (see charts.py).
// Rows are [number, values, value_texts, params_text]; front and best are trial numbers.
// The kernel sends the rows as state once, then only new and changed rows as custom
// messages {rows: [...]}; STORES keeps those per chart (by its key) until a full state
// replaces the rows.

const NS = "http://www.w3.org/2000/svg";
const GREY = "#b0b0b0", FRONT = "#d62728", BEST = "#1f77b4";
// Charts are drawn at the size they are shown (no viewBox scaling, so 11 px text is 11 px):
// two side by side when the output is wide enough, else one per row.
const MIN_W = 270, MAX_W = 540, GAP = 12, RADIUS = 14;
const M = { l: 64, r: 14, t: 12, b: 44 };
let W = 430, H = 290;

function svgEl(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// Ticks in the tables' units (runtime/metrics.py formatters): kB/MB, µs/ms, ms/s/min.
function fmtTick(v, kind) {
  const a = Math.abs(v), p3 = (x) => String(Number(x.toPrecision(3)));
  if (kind === "bytes") {
    for (const [u, s] of [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]]) if (a >= s) return `${p3(v / s)} ${u}`;
    return `${p3(v)} B`;
  }
  if (kind === "per_row") return a < 1 ? `${p3(v * 1000)} µs` : `${p3(v)} ms`;
  if (kind === "seconds") {
    if (a < 1) return `${p3(v * 1000)} ms`;
    return a < 60 ? `${p3(v)} s` : `${p3(v / 60)} min`;
  }
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(3)));
}

// A linear or log scale from the data's extent onto [a, b], with its ticks.
function scale(values, a, b, wantLog) {
  let vs = values.filter((v) => v !== null && Number.isFinite(v));
  const log = wantLog && vs.length > 0 && Math.min(...vs) > 0;
  if (log) vs = vs.map(Math.log10);
  let lo = vs.length ? Math.min(...vs) : 0, hi = vs.length ? Math.max(...vs) : 1;
  if (hi - lo < 1e-12) { const d = Math.abs(lo) * 0.05 || (log ? 0.5 : 1); lo -= d; hi += d; }
  const pad = (hi - lo) * 0.06;
  lo -= pad; hi += pad;
  const f = (v) => a + ((log ? Math.log10(v) : v) - lo) / (hi - lo) * (b - a);
  let ticks = [];
  if (log) {
    // decades, or 1-2-5 (then every digit) within them when the range spans less
    for (const ms of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
      ticks = [];
      for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
        for (const m of ms) {
          const v = Number((m * 10 ** e).toPrecision(6)), lv = Math.log10(v);
          if (lv >= lo && lv <= hi) ticks.push(v);
        }
      }
      if (ticks.length >= 3) break;
    }
    if (ticks.length < 2) ticks = linearTicks(10 ** lo, 10 ** hi);
  } else {
    ticks = linearTicks(lo, hi);
  }
  return { f, ticks, log };
}

function linearTicks(lo, hi) {
  const step0 = (hi - lo) / 5, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((s) => s * mag).find((s) => s >= step0);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function axes(svg, sx, sy, xlabel, ylabel, xkind, ykind) {
  const g = svgEl("g", { class: "aimauto-axes" }, svg);
  svgEl("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, class: "aimauto-frame" }, g);
  for (const v of sx.ticks) {
    const x = sx.f(v);
    svgEl("line", { x1: x, x2: x, y1: M.t, y2: H - M.b, class: "aimauto-grid" }, g);
    svgEl("text", { x, y: H - M.b + 14, "text-anchor": "middle" }, g).textContent = fmtTick(v, xkind);
  }
  for (const v of sy.ticks) {
    const y = sy.f(v);
    svgEl("line", { x1: M.l, x2: W - M.r, y1: y, y2: y, class: "aimauto-grid" }, g);
    svgEl("text", { x: M.l - 5, y: y + 4, "text-anchor": "end" }, g).textContent = fmtTick(v, ykind);
  }
  svgEl("text", { x: (M.l + W - M.r) / 2, y: H - 6, "text-anchor": "middle", class: "aimauto-label" }, g)
    .textContent = xlabel + (sx.log ? " · log" : "");
  svgEl("text", { x: 14, y: (M.t + H - M.b) / 2, "text-anchor": "middle", class: "aimauto-label",
    transform: `rotate(-90 14 ${(M.t + H - M.b) / 2})` }, g).textContent = ylabel + (sy.log ? " · log" : "");
}

function star(x, y, r) {
  const p = [];
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5, rr = i % 2 ? r * 0.45 : r;
    p.push(`${(x + rr * Math.cos(a)).toFixed(1)},${(y + rr * Math.sin(a)).toFixed(1)}`);
  }
  return p.join(" ");
}

const STORES = new Map();

function storeOf(model) {
  const key = model.get("key");
  let store = STORES.get(key);
  if (!store) {
    store = { base: null, extra: new Map() };
    STORES.set(key, store);
  }
  const base = model.get("rows");
  if (store.base !== base) {  // a full state arrived: it has every row sent so far
    store.base = base;
    store.extra = new Map();
  }
  return store;
}

// Every row: the state's, with the custom messages' new and changed rows merged in.
function rowsOf(model) {
  const store = storeOf(model);
  if (!store.extra.size) return store.base;
  const byNumber = new Map(store.base.map((r) => [r[0], r]));
  for (const [n, r] of store.extra) byNumber.set(n, r);
  return Array.from(byNumber.values()).sort((a, b) => a[0] - b[0]);
}

function initialize({ model }) {
  const merge = (msg) => {
    if (!msg || !Array.isArray(msg.rows)) return;
    const store = storeOf(model);
    for (const r of msg.rows) store.extra.set(r[0], r);
  };
  model.on("msg:custom", merge);
  return () => model.off("msg:custom", merge);
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "aimauto-charts";
  const bar = document.createElement("div");
  bar.className = "aimauto-chartbar";
  const select = document.createElement("select");
  select.className = "aimauto-xmetric";
  const charts = document.createElement("div");
  charts.className = "aimauto-chartrow";
  const pareto = svgEl("svg", { class: "aimauto-pareto" });
  const history = svgEl("svg", { class: "aimauto-history" });
  const parallel = svgEl("svg", { class: "aimauto-parallel" });
  let PW = 2 * W + GAP;  // the parallel-coordinates view spans the row
  const tip = document.createElement("div");
  tip.className = "aimauto-tip";
  charts.append(pareto, history);
  root.append(bar, charts, parallel, tip);
  el.appendChild(root);

  select.addEventListener("change", () => {
    model.set("x_metric", Number(select.value));
    model.save_changes();
  });

  function pick(n) {
    model.set("selected", n);
    model.save_changes();
  }

  let hovered = null;  // the <g> of the point or line under the pointer

  function showTip(row, g, ev) {
    if (hovered !== g) {
      if (hovered) hovered.classList.remove("aimauto-hover");
      hovered = g;
      g.classList.add("aimauto-hover");
      const ms = model.get("metrics");
      const lines = [`<b>trial ${row[0]}</b>`];
      ms.forEach((m, i) => lines.push(`${escape(m.name)}: <b>${escape(row[2][i])}</b>`));
      if (row[3]) lines.push(`<span class="aimauto-params">${escape(row[3])}</span>`);
      tip.innerHTML = lines.join("<br>");
      tip.dataset.trial = row[0];
      tip.style.display = "block";
    }
    move(ev);
  }

  function hideTip() {
    if (hovered) hovered.classList.remove("aimauto-hover");
    hovered = null;
    tip.style.display = "none";
  }

  // Beside the pointer, flipped to the other side where it would leave the charts.
  function move(ev) {
    const box = root.getBoundingClientRect();
    const x = ev.clientX - box.left, y = ev.clientY - box.top;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    const left = x + 16 + w > box.width ? x - 16 - w : x + 16;
    const top = y + 12 + h > box.height ? y - 12 - h : y + 12;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, top)}px`;
  }

  // Points are found by distance, not by what is drawn on top: the nearest one within
  // RADIUS px of the pointer (a Pareto point wins a tie), so none hides behind a neighbour.
  const spots = new Map([[pareto, []], [history, []]]);

  function nearest(svg, ev) {
    const box = svg.getBoundingClientRect(), k = box.width ? W / box.width : 1;
    const x = (ev.clientX - box.left) * k, y = (ev.clientY - box.top) * k;
    let best = null, bd = (RADIUS * k) ** 2;
    for (const p of spots.get(svg)) {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d < bd || (d === bd && best && p.front && !best.front)) { bd = d; best = p; }
    }
    return best;
  }

  let pointer = null;  // the last pointer position over a chart, to hover again after a redraw

  function hoverAt(svg, ev) {
    const p = nearest(svg, ev);
    if (p) showTip(p.row, p.g, ev); else hideTip();
    svg.style.cursor = p && p.front ? "pointer" : "";
  }

  for (const svg of [pareto, history]) {
    svg.addEventListener("mousemove", (ev) => {
      pointer = { svg, clientX: ev.clientX, clientY: ev.clientY };
      hoverAt(svg, ev);
    });
    svg.addEventListener("mouseleave", () => { pointer = null; hideTip(); });
    svg.addEventListener("click", (ev) => {
      const p = nearest(svg, ev);
      pointer = null;  // a click ends the hover until the pointer moves again
      hideTip();
      if (p && p.front) pick(p.row[0]);
    });
  }

  function point(svg, row, x, y, front, best, selected) {
    const g = svgEl("g", { class: "aimauto-pt" + (front ? " aimauto-front" : ""), "data-trial": row[0] }, svg);
    if (selected) svgEl("circle", { cx: x, cy: y, r: 9, class: "aimauto-selected" }, g);
    if (best) svgEl("polygon", { points: star(x, y, 8), fill: BEST }, g);
    else svgEl("circle", { cx: x, cy: y, r: front ? 4.5 : 3.5, fill: front ? FRONT : GREY }, g);
    spots.get(svg).push({ x, y, row, front, g });
    return g;
  }

  function size(svg, w, h) {
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
  }

  function drawPareto(ms, rows, front, best, sel) {
    pareto.replaceChildren();
    spots.set(pareto, []);
    size(pareto, W, H);
    const xi = ms.length > 1 ? Math.min(Math.max(model.get("x_metric"), 1), ms.length - 1) : -1;
    const xv = (r) => (xi < 0 ? r[0] : r[1][xi]);
    const ok = rows.filter((r) => r[1][0] !== null && xv(r) !== null);
    const sx = scale(ok.map(xv), M.l, W - M.r, xi >= 0 && ms[xi].log);
    const sy = scale(ok.map((r) => r[1][0]), H - M.b, M.t, ms[0].log);
    axes(pareto, sx, sy, xi < 0 ? "trial" : ms[xi].label, ms[0].label,
         xi < 0 ? "" : ms[xi].ticks, ms[0].ticks);
    const fr = ok.filter((r) => front.has(r[0])).sort((a, b) => xv(a) - xv(b));
    if (ms.length === 2 && fr.length > 1) {  // a 2-D front is a staircase
      const pts = [];
      fr.forEach((r, i) => {
        if (i) pts.push(`${sx.f(xv(r)).toFixed(1)},${sy.f(fr[i - 1][1][0]).toFixed(1)}`);
        pts.push(`${sx.f(xv(r)).toFixed(1)},${sy.f(r[1][0]).toFixed(1)}`);
      });
      svgEl("polyline", { points: pts.join(" "), class: "aimauto-frontline" }, pareto);
    }
    const order = ok.filter((r) => !front.has(r[0])).concat(fr);
    for (const r of order) point(pareto, r, sx.f(xv(r)), sy.f(r[1][0]), front.has(r[0]), r[0] === best, r[0] === sel);
  }

  function drawHistory(ms, rows, front, best, sel) {
    history.replaceChildren();
    spots.set(history, []);
    size(history, W, H);
    const ok = rows.filter((r) => r[1][0] !== null);
    const sx = scale(ok.map((r) => r[0]), M.l, W - M.r, false);
    const sy = scale(ok.map((r) => r[1][0]), H - M.b, M.t, ms[0].log);
    axes(history, sx, sy, "trial", ms[0].label + " · best so far", "", ms[0].ticks);
    const line = model.get("best_line");
    if (line.length) {
      const last = ok.length ? Math.max(...ok.map((r) => r[0])) : line[line.length - 1][0];
      const pts = [];
      line.forEach(([n, v], i) => {
        if (i) pts.push(`${sx.f(n).toFixed(1)},${sy.f(line[i - 1][1]).toFixed(1)}`);
        pts.push(`${sx.f(n).toFixed(1)},${sy.f(v).toFixed(1)}`);
      });
      pts.push(`${sx.f(last).toFixed(1)},${sy.f(line[line.length - 1][1]).toFixed(1)}`);
      svgEl("polyline", { points: pts.join(" "), class: "aimauto-bestline" }, history);
    }
    const order = ok.filter((r) => !front.has(r[0])).concat(ok.filter((r) => front.has(r[0])));
    for (const r of order) point(history, r, sx.f(r[0]), sy.f(r[1][0]), front.has(r[0]), r[0] === best, r[0] === sel);
  }

  // Three or more metrics: one vertical axis per metric, better values up, a line per
  // Pareto trial.
  function drawParallel(ms, rows, front, best, sel) {
    parallel.replaceChildren();
    size(parallel, PW, H);
    const lines = svgEl("g", { class: "aimauto-plines" }, parallel);  // under the axes
    const pw = PW, fr = rows.filter((r) => front.has(r[0]) && r[1].every((v) => v !== null));
    const gap = (pw - 2 * 70) / (ms.length - 1);
    const scales = ms.map((m, i) => {
      const s = scale(fr.map((r) => r[1][i]), m.maximize ? H - M.b : M.t, m.maximize ? M.t : H - M.b, m.log);
      const x = 70 + i * gap;
      const g = svgEl("g", { class: "aimauto-axes" }, parallel);
      svgEl("line", { x1: x, x2: x, y1: M.t, y2: H - M.b, class: "aimauto-paxis" }, g);
      for (const v of s.ticks) {
        svgEl("text", { x: x - 5, y: s.f(v) + 4, "text-anchor": "end" }, g).textContent = fmtTick(v, m.ticks);
        svgEl("line", { x1: x - 3, x2: x, y1: s.f(v), y2: s.f(v), class: "aimauto-paxis" }, g);
      }
      svgEl("text", { x, y: H - M.b + 16, "text-anchor": "middle", class: "aimauto-label" }, g)
        .textContent = m.label + (s.log ? " · log" : "");
      return { x, f: s.f };
    });
    svgEl("text", { x: pw / 2, y: H - 8, "text-anchor": "middle", class: "aimauto-note" }, parallel)
      .textContent = `Pareto front, ${fr.length} trials (better is up)`;
    const order = fr.filter((r) => r[0] !== best && r[0] !== sel)
      .concat(fr.filter((r) => r[0] === best && r[0] !== sel), fr.filter((r) => r[0] === sel));
    for (const r of order) {
      const pts = scales.map((s, i) => `${s.x.toFixed(1)},${s.f(r[1][i]).toFixed(1)}`).join(" ");
      const cls = r[0] === sel ? " aimauto-selected" : r[0] === best ? " aimauto-bestpath" : "";
      const g = svgEl("g", { class: "aimauto-pt aimauto-front aimauto-pline" + cls, "data-trial": r[0] }, lines);
      svgEl("polyline", { points: pts, class: "aimauto-hitline" }, g);
      svgEl("polyline", { points: pts, class: "aimauto-line" }, g);
      g.addEventListener("mousemove", (ev) => showTip(r, g, ev));
      g.addEventListener("mouseleave", hideTip);
      g.addEventListener("click", () => { hideTip(); pick(r[0]); });
    }
  }

  // The charts' size from the width the output gives them.
  let laidOut = -1;
  function layout() {
    const avail = Math.floor(root.clientWidth || 2 * 430 + GAP);
    laidOut = avail;
    const two = avail >= 2 * MIN_W + GAP;
    W = Math.max(Math.min(MIN_W, avail), Math.min(MAX_W, two ? Math.floor((avail - GAP) / 2) : avail));
    H = Math.round(Math.min(Math.max(W * 0.66, 220), 320));
    PW = two ? 2 * W + GAP : W;
  }

  function draw() {
    layout();
    const ms = model.get("metrics"), rows = rowsOf(model);
    const front = new Set(model.get("front")), best = model.get("best"), sel = model.get("selected");
    const xi = model.get("x_metric");
    if (ms.length > 2) {
      if (select.options.length !== ms.length - 1) {
        select.replaceChildren(...ms.slice(1).map((m, i) => new Option(m.label, i + 1)));
      }
      select.value = String(xi);
      bar.replaceChildren(document.createTextNode(`${ms[0].name} against `), select);
    } else {
      bar.replaceChildren();
    }
    hideTip();
    pareto.style.display = ms.length > 1 ? "" : "none";
    if (ms.length > 1) drawPareto(ms, rows, front, best, sel);
    drawHistory(ms, rows, front, best, sel);
    parallel.style.display = ms.length > 2 ? "" : "none";
    if (ms.length > 2) drawParallel(ms, rows, front, best, sel);
    if (pointer) hoverAt(pointer.svg, pointer);
    root.dataset.trials = String(rows.length);
    root.dataset.selected = sel === null ? "" : String(sel);
  }

  // One redraw per batch of changes (hold_sync sends several keys at once).
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; draw(); });
  };
  const keys = ["metrics", "rows", "front", "best", "best_line", "selected", "x_metric"];
  for (const k of keys) model.on(`change:${k}`, schedule);
  const resized = new ResizeObserver(() => {
    if (Math.floor(root.clientWidth) !== laidOut) schedule();
  });
  resized.observe(root);
  model.on("msg:custom", schedule);  // after initialize's merge, which was registered first
  draw();
  return () => {
    resized.disconnect();
    for (const k of keys) model.off(`change:${k}`, schedule);
    model.off("msg:custom", schedule);
  };
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export default { initialize, render };
