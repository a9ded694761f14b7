"""The live panel of a search: progress, best so far, charts, trial table, Stop button and
a picker over the Pareto trials.

Threading follows the ipywidgets/ipykernel advice: every widget is created and displayed
on the main thread (inside the magic); a renderer thread of the panel, woken by the
search's listener, only sets widget values (batched with ``hold_sync``), at most a few
times a second, so drawing never slows the driver or the trials. The charts are drawn in
the browser (:class:`~.charts.ParetoCharts`): the kernel only sends their data, after every
completed trial; a click on a Pareto point selects it in the picker, and the picker's choice
is highlighted on the charts.

When the search ends, a second output below the panel receives a static snapshot (HTML
table and a matplotlib chart, drawn once) for places where widgets do not render (a saved
notebook on GitHub, an nbconvert page offline). The live panel carries a style rule that
hides that snapshot, so wherever the widgets do render it is not shown twice.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import html
import io
import keyword
import threading
import time

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ..runtime.metrics import BLANK, format_seconds, format_value
from .charts import ParetoCharts
from .plots import pareto_figure
from .subshell import route_to_subshell

__all__ = ["Panel"]

_HIDE_STATIC = "<style>.aimauto-static{display:none}</style>"
_STATE_COLOUR = {"running": "#1f77b4", "pending": "#1f77b4", "done": "#2ca02c",
                 "stopped": "#ff7f0e", "failed": "#d62728"}
_ROW_STATE = {"complete": "", "failed": "color:#d62728", "pruned": "color:#888",
              "running": "color:#1f77b4"}
RECENT_ROWS = 10


def _fmt(snap, name: str, v) -> str:
    metric = next((m for m in snap.metrics if m.name == name), None)
    return format_value(metric, v)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


class Panel:
    """The widget view of one :class:`~aimauto_nb.facade.Search` (read-only but for Stop)."""

    def __init__(self, search, *, namespace=None, text_interval=0.25):
        self.search = search
        self._namespace = namespace
        self._text_interval = text_interval
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._chart_key = None
        self._chart_at = 0.0
        self._chart_cost = 0.0
        self._chart_final = False
        self._pareto_png = b""
        self._handle = None
        self._static = None
        self._thread: threading.Thread | None = None
        self.renders = 0
        self.routed = False  # the frontend's messages go to a kernel subshell
        self._picker_options: list = []

        self.header = W.HTML()
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info",
                                        layout=W.Layout(flex="1 1 auto", width="auto"))
        self.progress_label = W.Label()
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="danger",
                                    tooltip="Start no new trials and end the search",
                                    layout=W.Layout(width="7em"))
        self.stop_button.on_click(self._on_stop)
        self.summary = W.HTML()
        self.charts = ParetoCharts(search.metrics)
        self.charts.observe(self._on_chart_pick, names="selected")
        self.table = W.HTML()
        self.errors = W.HTML()
        # widths follow the text (ipywidgets' fixed defaults cut "apply (show code)")
        self.picker = W.Dropdown(options=[], description="trial",
                                 layout=W.Layout(width="auto", max_width="100%"))
        self.picker.observe(self._on_pick, names="value")
        self.pick_info = W.HTML()
        self.variable = W.Text(value="model", description="as",
                               layout=W.Layout(width="14em", min_width="10em"))
        self.use_button = W.Button(description="use this model", icon="check",
                                   tooltip="Bind this trial's fitted model to the variable",
                                   layout=W.Layout(width="auto"))
        self.use_button.on_click(self._on_use)
        self.code_button = W.Button(description="apply (show code)", icon="code",
                                    tooltip="The cell with this trial's values filled in",
                                    layout=W.Layout(width="auto"))
        self.code_button.on_click(self._on_code)
        self.code = W.Textarea(layout=W.Layout(width="98%", height="14em", display="none"))
        self.message = W.HTML()
        picker_box = W.VBox([
            self.picker, self.pick_info,
            W.HBox([self.variable, self.use_button, self.code_button],
                   layout=W.Layout(flex_flow="row wrap")),
            self.message, self.code,
        ])
        self.tabs = W.Tab(children=[self.table, picker_box, self.errors])
        self.tabs.titles = ("Trials", "Pareto trials", "Failed")
        self.box = W.VBox([
            self.header,
            W.HBox([self.progress, self.progress_label, self.stop_button],
                   layout=W.Layout(align_items="center")),
            self.summary,
            self.charts,
            self.tabs,
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self._snap = search.snapshot()
        self._render_text(self._snap)
        self._render_charts(self._snap)
        search.add_listener(self._on_change)
        search.add_listener(self._on_wait, on_wait=True)

    # ------------------------------------------------------------------ display

    def show(self) -> Panel:
        """Display the panel (main thread) and start its renderer thread."""
        from IPython.display import display

        self._handle = display(self._bundle(), raw=True, display_id=True)
        self._static = display(self._static_bundle(), raw=True, display_id=True)
        # clicks are handled even while a cell blocks in wait()
        self.routed = route_to_subshell([self.stop_button, self.picker, self.variable,
                                         self.use_button, self.code_button, self.charts,
                                         self.tabs])
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(target=ctx.run, args=(self._loop,), daemon=True,
                                        name=f"aimsearch-panel-{self.search.name}")
        self._thread.start()
        return self

    def _ipython_display_(self):
        from IPython.display import display

        display(self._bundle(), raw=True)

    def _bundle(self, text: str | None = None) -> dict:
        data = dict(self.box._repr_mimebundle_())
        data["text/plain"] = self.search.snapshot().status_line() if text is None else text
        return data

    def _static_bundle(self, snap=None) -> dict:
        snap = snap or self.search.snapshot()
        if snap.running:
            return {"text/html": "<div class='aimauto-static'></div>", "text/plain": ""}
        return {"text/html": f"<div class='aimauto-static'>{self.snapshot_html(snap)}</div>",
                "text/plain": snap.status_line()}

    # ------------------------------------------------------------------ updates

    def _on_change(self, search) -> None:
        self._wake.set()

    def _on_wait(self, search) -> None:
        # From the waiting cell, so a notebook runner records the final snapshot too. An
        # on_wait listener is also called on every change (from the driver's thread): those
        # are the renderer thread's to draw, at most a few times a second.
        if not search.running:
            self.refresh(final=True)

    def _loop(self) -> None:
        while True:
            self._wake.wait(timeout=1.0)  # the timeout keeps elapsed time moving
            self._wake.clear()
            if not self.search.running:
                break
            try:
                self.refresh()
            except Exception:  # the panel must never take the search down
                pass
            time.sleep(self._text_interval)
        self.refresh(final=True)

    def refresh(self, final: bool = False) -> None:
        """Bring every widget up to date from one snapshot; ``final`` also writes the
        static snapshot."""
        with self._lock:
            snap = self.search.snapshot()
            self._snap = snap
            self._render_text(snap)
            self._render_charts(snap, final=final)
            self.renders += 1
            if final and not snap.running and self._static is not None:
                self._static.update(self._static_bundle(snap), raw=True)
                if self._handle is not None:
                    # the panel's text fallback said "pending": a viewer without the
                    # widget shows the static snapshot below instead, nothing above it
                    self._handle.update(self._bundle(text=""), raw=True)

    def _render_text(self, snap) -> None:
        done = snap.finished
        fraction, label = 0.0, f"{done} trials"
        if snap.budget:
            fraction = done / snap.budget
            label = f"{done}/{snap.budget} trials"
        if snap.timeout:
            fraction = max(fraction, min(1.0, snap.elapsed / snap.timeout))
            label += f" · {snap.elapsed:.0f}/{snap.timeout:.0f} s"
        else:
            label += f" · {format_seconds(snap.elapsed)}"
        if not snap.running:
            fraction = 1.0
        style = {"done": "success", "stopped": "warning", "failed": "danger"}.get(snap.state, "info")
        widgets = [self.header, self.progress, self.progress_label, self.summary, self.table,
                   self.errors, self.stop_button, self.picker]
        with contextlib.ExitStack() as stack:
            for w in widgets:
                stack.enter_context(w.hold_sync())
            self.header.value = self._header_html(snap)
            self.progress.value = fraction
            self.progress.bar_style = style
            self.progress_label.value = label
            self.stop_button.disabled = not snap.running
            self.summary.value = self._summary_html(snap)
            self.table.value = self._table_html(snap)
            self.errors.value = self._errors_html(snap)
            self._set_picker(snap)

    def _render_charts(self, snap, final: bool = False) -> None:
        key = (snap.counts["complete"], tuple(r.number for r in snap.front))
        now = time.monotonic()
        last = final and not snap.running
        # An update sends the new rows only; should it still cost much, updates are spaced
        # so that they take at most ~5 % of one core. The last one also sends every row.
        due = key != self._chart_key or (last and not self._chart_final)
        if due and (final or now - self._chart_at >= 20 * self._chart_cost):
            started = time.thread_time()
            self.charts.update(snap, final=last)
            self._chart_cost = time.thread_time() - started
            self._chart_at, self._chart_key, self._chart_final = now, key, last
        if final and not snap.running and not self._pareto_png:
            # The static snapshot's chart, drawn once (0.1-0.3 s of GIL).
            self._pareto_png = _png(pareto_figure(snap, size=(4.2, 3.0), layout=None))

    # ------------------------------------------------------------------ HTML pieces

    def _header_html(self, snap) -> str:
        colour = _STATE_COLOUR.get(snap.state, "#333")
        err = ""
        if snap.state == "failed" and snap.error is not None:
            err = f"<div style='color:#d62728'>{_esc(snap.error)}</div>"
        share = f"{_esc(snap.resources)} · " if snap.resources else ""
        return (f"{_HIDE_STATIC}<b>{_esc(snap.name)}</b> · {_esc(snap.strategy)} · "
                f"{_esc(snap.protocol)} · {share}<span class='aimauto-state' style='color:{colour};"
                f"font-weight:bold'>{_esc(snap.state)}</span>{err}")

    def _summary_html(self, snap) -> str:
        c, best = snap.counts, snap.best
        counts = (f"{c['complete']} complete · {c['failed']} failed · {c['pruned']} pruned · "
                  f"{c['running']} running")
        warm = sum(r.source is not None for r in snap.trials)
        if warm:
            counts += f" · {warm} from the warm start (↺)"
        if snap.convergence:
            counts += (f"<div class='aimauto-converged' style='color:#ff7f0e'>"
                       f"{_esc(snap.convergence)}: further improvement is unlikely</div>")
        if best is None:
            return f"<div>{counts}</div><div>best: –</div>"
        vals = ", ".join(f"{_esc(k)} = <b>{_esc(_fmt(snap, k, v))}</b>" for k, v in best.values.items())
        params = ", ".join(f"{_esc(k)}={_esc(_short(v))}" for k, v in best.params.items())
        return (f"<div>{counts}</div><div>best (trial {best.number}): {vals}</div>"
                f"<div style='color:#555;font-size:90%'>{params}</div>")

    def _table_html(self, snap) -> str:
        records, best = snap.trials, snap.best
        on_front = {r.number for r in snap.front}
        recent = records[-RECENT_ROWS:]
        rows = sorted({r.number: r for r in list(snap.front) + list(recent)}.values(),
                      key=lambda r: r.number)
        params = sorted({k for r in rows for k in r.params})
        head = (["#", "state"] + [m.heading for m in snap.metrics] + params + ["duration", "error"])
        # cells never wrap ("2.01 kB" stays one line); a wide table scrolls, it is not cut
        out = ["<div class='aimauto-scroll' style='overflow-x:auto;max-width:100%'>"
               "<table class='aimauto-trials' style='font-size:85%;border-collapse:collapse;"
               "white-space:nowrap'>",
               "<tr>" + "".join(f"<th style='text-align:left;padding:0 6px'>{_esc(h)}</th>"
                                for h in head) + "</tr>"]
        for r in rows:
            mark = " ★" if best is not None and r.number == best.number else (
                " ◆" if r.number in on_front else "")
            mark += " ↺" if r.source is not None else ""
            cells = [f"{r.number}{mark}", r.state]
            cells += [m.format(r.values.get(m.name)) for m in snap.metrics]
            cells += [_short(r.params[p]) if p in r.params else BLANK for p in params]
            cells += [format_seconds(r.duration), (r.error_line or BLANK)[:80]]
            out.append(f"<tr style='{_ROW_STATE.get(r.state, '')}'>" + "".join(
                f"<td style='padding:0 6px'>{_esc(v)}</td>" for v in cells) + "</tr>")
        out.append("</table></div>")
        if len(records) > len(rows):
            out.append(f"<div style='color:#888;font-size:85%'>★ best · ◆ Pareto front · ↺ warm start · "
                       f"{len(records) - len(rows)} more trials in <code>{_esc(snap.name)}.trials"
                       "</code></div>")
        return "".join(out)

    def _errors_html(self, snap) -> str:
        failed = [r for r in snap.trials if r.state == "failed"]
        if not failed:
            return "<i>no failed trials</i>"
        out = []
        for r in failed[-50:]:
            last = r.error_line or "failed"
            out.append(f"<details><summary>trial {r.number}: {_esc(last[:120])}</summary>"
                       f"<pre style='font-size:80%;white-space:pre-wrap'>{_esc(r.error or '')}"
                       "</pre></details>")
        return "".join(out)

    def snapshot_html(self, snap=None) -> str:
        """The final state as plain HTML: header, summary, Pareto chart and trial table."""
        snap = snap or self.search.snapshot()
        img = ""
        if self._pareto_png:
            b64 = base64.b64encode(self._pareto_png).decode()
            img = f"<img class='aimauto-snapshot-chart' src='data:image/png;base64,{b64}'/>"
        return (f"<div class='aimauto-snapshot'>{self._header_html(snap).replace(_HIDE_STATIC, '')}"
                f"<div>{_esc(snap.status_line())}</div>"
                f"{self._summary_html(snap)}{img}{self._table_html(snap)}</div>")

    # ------------------------------------------------------------------ interaction

    def _set_picker(self, snap) -> None:
        best = snap.best
        options = []
        for r in snap.front:
            star = " ★" if best is not None and r.number == best.number else ""
            vals = ", ".join(f"{k}={_fmt(snap, k, v)}" for k, v in r.values.items())
            options.append((f"trial {r.number}{star}: {vals}", r.number))
        if options == self._picker_options:
            return
        self._picker_options = options
        keep = self.picker.value
        self.picker.options = options
        numbers = [o[1] for o in options]
        if keep in numbers:
            self.picker.value = keep
        elif numbers:
            self.picker.value = best.number if best is not None and best.number in numbers \
                else numbers[0]

    def _on_chart_pick(self, change) -> None:
        # A click on a Pareto point in the browser.
        n = change["new"]
        if n is not None and n != self.picker.value and n in {o[1] for o in self.picker.options}:
            self.picker.value = n

    def _on_pick(self, change) -> None:
        n = change["new"]
        self.charts.selected = n
        if n is None:
            self.pick_info.value = ""
            return
        snap = self.search.snapshot()
        rec = next((r for r in snap.trials if r.number == n), None)
        if rec is None:
            return
        vals = "".join(f"<tr><td>{_esc(k)}</td><td><b>{_esc(_fmt(snap, k, v))}"
                       "</b></td></tr>" for k, v in rec.values.items())
        params = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(_short(v))}</td></tr>"
                         for k, v in rec.params.items())
        self.pick_info.value = (f"<table style='font-size:90%'>{vals}{params}</table>")

    def _on_stop(self, _button=None) -> None:
        self.search.stop()
        self.stop_button.disabled = True
        self.message.value = "stopping: no new trials will start"

    def _user_namespace(self) -> dict:
        if self._namespace is not None:
            return self._namespace
        from IPython import get_ipython

        ip = get_ipython()
        if ip is None:
            raise RuntimeError("no IPython session to bind the model in")
        return ip.user_ns

    def _on_use(self, _button=None) -> None:
        n, name = self.picker.value, self.variable.value.strip()
        if n is None:
            self.message.value = "<span style='color:#d62728'>no Pareto trial yet</span>"
            return
        if not name.isidentifier() or keyword.iskeyword(name):
            self.message.value = (f"<span style='color:#d62728'>{_esc(name)!s} is not a valid "
                                  "variable name</span>")
            return
        try:
            self._user_namespace()[name] = self.search.model(n)
        except Exception as e:
            self.message.value = f"<span style='color:#d62728'>{_esc(e)}</span>"
            return
        self.message.value = f"<code>{_esc(name)}</code> is now trial {n}'s fitted model"

    def _on_code(self, _button=None) -> None:
        n = self.picker.value
        if n is None:
            return
        self.code.value = self.search.code(n)
        self.code.layout.display = None
        self.message.value = (f"Trial {n}'s cell. Run <code>%aimapply {_esc(self.search.name)} "
                              f"--trial {n}</code> to put it in a new cell.")


def _short(v, width: int = 40) -> str:
    text = repr(v) if isinstance(v, str) else format_value(None, v)
    return text if len(text) <= width else text[: width - 1] + "…"
