"""What a compression did and what it cost: size, latency and metric before and after."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["CompressReport"]


def _ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


@dataclass
class CompressReport:
    """Before/after numbers of one ``compress`` call (sizes in bytes, latency in ms/row)."""

    model_type: str
    device: str
    steps: list[str] = field(default_factory=list)
    size_before: int | None = None
    size_after: int | None = None
    latency_before: float | None = None
    latency_after: float | None = None
    latency_batch: int | None = None
    metric: str | None = None
    metric_before: float | None = None
    metric_after: float | None = None
    output_diff: float | None = None
    cosine: float | None = None  # cosine similarity of the outputs on data, after vs before
    metric_compressed: float | None = None  # after pruning, before fine-tuning
    metric_finetuned: float | None = None  # after fine-tuning, before quantization
    finetune: str | None = None  # "distillation" | "labels"
    finetune_epochs: int | None = None
    finetune_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)  # what compress(model, "auto") tried

    @property
    def size_ratio(self) -> float | None:
        """How many times smaller (before / after)."""
        return _ratio(self.size_before, self.size_after)

    @property
    def speedup(self) -> float | None:
        """How many times faster (before / after latency); < 1 means slower."""
        return _ratio(self.latency_before, self.latency_after)

    @property
    def metric_change(self) -> float | None:
        if self.metric_before is None or self.metric_after is None:
            return None
        return self.metric_after - self.metric_before

    def rows(self) -> list[tuple[str, str, str, str]]:
        def kb(b):
            return "—" if b is None else f"{b / 1024:,.1f} KB"

        def ms(v):
            return "—" if v is None else f"{v:.4g} ms/row"

        def num(v):
            return "—" if v is None else f"{v:.4f}"

        out = [("size", kb(self.size_before), kb(self.size_after),
                "—" if self.size_ratio is None else f"{self.size_ratio:.2f}× smaller")]
        lat = "—" if self.speedup is None else (
            f"{self.speedup:.2f}× faster" if self.speedup >= 1 else f"{1 / self.speedup:.2f}× slower")
        batch = f" (batch {self.latency_batch})" if self.latency_batch else ""
        out.append((f"latency{batch}", ms(self.latency_before), ms(self.latency_after), lat))
        if self.metric:
            ch = self.metric_change
            out.append((self.metric, num(self.metric_before), num(self.metric_after),
                        "—" if ch is None else f"{ch:+.4f}"))
        if self.finetune is not None:
            out.append((f"{self.metric or 'metric'} after pruning", "", num(self.metric_compressed), ""))
            out.append((f"{self.metric or 'metric'} after fine-tuning", "", num(self.metric_finetuned),
                        f"{self.finetune}, {self.finetune_epochs} epochs, {self.finetune_seconds:.1f}s"))
        if self.output_diff is not None:
            out.append(("max |output difference|", "", f"{self.output_diff:.3g}", ""))
        if self.cosine is not None:
            out.append(("output cosine similarity", "", f"{self.cosine:.4f}", ""))
        return out

    def candidate_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(recipe, size x, speed x, metric, verdict) of each candidate ``"auto"`` tried."""
        def x(v):
            return "—" if v is None else f"{v:.2f}×"

        out = []
        for c in self.candidates:
            if "error" in c:
                out.append((c["recipe"], "—", "—", "—", f"failed: {c['error']}"))
            else:
                out.append((c["recipe"], x(c["size"]), x(c["speed"]),
                            "—" if c["metric"] is None else f"{c['metric']:.4f}",
                            "within tolerance" if c["within"] else "too inaccurate"))
        return out

    def __repr__(self) -> str:
        lines = [f"CompressReport({self.model_type} on {self.device}: {'; '.join(self.steps)})"]
        for name, a, b, c in self.rows():
            lines.append(f"  {name:<26} {a:>16} -> {b:>16}  {c}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.candidates:
            lines.append(f"  {'candidate':<24} {'size':>7} {'speed':>7} {self.metric or 'metric':>9}")
            lines += [f"  {r:<24} {s:>7} {v:>7} {m:>9}  {w}" for r, s, v, m, w in self.candidate_rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        head = (f"<b>compress</b>: {e(self.model_type)} on {e(self.device)} — "
                f"{e('; '.join(self.steps))}")
        body = "".join(
            f"<tr><td>{e(n)}</td><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td></tr>"
            for n, a, b, c in self.rows()
        )
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        if self.candidates:
            cells = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>"
                            for row in self.candidate_rows())
            body += (f"<tr><th>candidate</th><th>size</th><th>speed</th><th>{e(self.metric or '')}"
                     f"</th></tr>{cells}")
        return (f"<div class='aimauto-compress'>{head}<table><thead><tr><th></th><th>before</th>"
                f"<th>after</th><th>change</th></tr></thead><tbody>{body}</tbody></table>"
                + (f"<ul>{notes}</ul>" if notes else "") + "</div>")
