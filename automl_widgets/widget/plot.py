"""MetricPlot: one metric per iteration (points) and its best-so-far line, with a
dropdown of every metric the run has computed."""
from __future__ import annotations

import threading

import ipywidgets as widgets
import plotly.graph_objects as go

from .. import metrics
from ..client import Status


def best_so_far(x, y, greater_is_better: bool) -> tuple[list, list]:
    """The best-so-far line as steps: only the points where the best improves, and the
    last x, which is all a line of shape "hv" needs (so it costs O(improvements))."""
    lx, ly = [], []
    for xi, best in zip(x, metrics.running_best(y, greater_is_better)):
        if not ly or best != ly[-1]:
            lx.append(xi)
            ly.append(best)
    if lx and lx[-1] != x[-1]:
        lx.append(x[-1])
        ly.append(ly[-1])
    return lx, ly


PLOT_WIDTH = 560   # fixed: an autosized plot takes its width from a container not yet laid out


class MetricPlot(widgets.VBox):
    def __init__(self, primary_metric: str, on_select=None):
        self.primary = primary_metric
        self.on_select = on_select
        self.dropdown = widgets.Dropdown(options=[primary_metric], value=primary_metric,
                                         description="Metric:",
                                         layout=widgets.Layout(width="320px"))
        self.figure = go.FigureWidget(
            data=[go.Scatter(x=[], y=[], mode="markers", name="iteration",
                             marker={"size": 8},
                             hovertemplate="iteration %{x}<br>%{y:.4f}<extra></extra>"),
                  go.Scatter(x=[], y=[], mode="lines", name="best so far",
                             line={"shape": "hv", "width": 2}, hoverinfo="skip")],
            layout=go.Layout(width=PLOT_WIDTH, height=300, margin={"l": 60, "r": 20, "t": 30, "b": 45},
                             xaxis={"title": {"text": "iteration"}},
                             yaxis={"title": {"text": primary_metric}},
                             legend={"orientation": "h", "y": 1.12, "x": 0},
                             template="plotly_white"))
        self.figure.data[0].on_click(self._clicked)
        self._records: list[dict] = []
        self._lock = threading.RLock()   # updates come from RunDetails' thread and clicks
        self._x: list[int] = []
        self._drawn = None
        self.dropdown.observe(lambda _: self._draw(), names="value")
        super().__init__([self.dropdown, self.figure])

    @property
    def metric(self) -> str:
        return self.dropdown.value

    def update(self, records: list[dict]) -> None:
        with self._lock:
            self._records = records
            options = metrics.computed(records, self.primary)
            if list(self.dropdown.options) != options:
                self.dropdown.options = options   # keeps the value while it is still there
            self._draw()

    def _draw(self) -> None:
        with self._lock:   # reentrant: update() holds it too
            name = self.metric
            done = [r for r in self._records if r.get("status") == Status.COMPLETED
                    and (r.get("metrics") or {}).get(name) is not None]
            x = [r["iteration"] for r in done]
            y = [float(f"{r['metrics'][name]:.6g}") for r in done]   # 6 digits: shorter messages
            if (name, x, y) == self._drawn:
                return   # nothing new: send nothing
            self._drawn = (name, x, y)
            points, line = self.figure.data
            self._x = x
            with self.figure.batch_update():
                points.x, points.y = x, y
                line.x, line.y = best_so_far(x, y, metrics.get(name).greater_is_better)
                self.figure.layout.yaxis.title.text = name
                # Iterations are whole numbers: no 0.5 ticks while there are few of them.
                self.figure.layout.xaxis.dtick = 1 if x and max(x) < 10 else None

    def _clicked(self, _trace, points, _state):
        if points.point_inds and self.on_select is not None:
            self.on_select(self._x[points.point_inds[0]])
