import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { h } from './dom';
import { formatDuration, formatMetric, formatTime, metricSeries, RunDetail, tableRows } from './model';
import { drawPlot } from './plot';
import table from './shared/table.js';
import { LocalModel } from './tablemodel';

/** One run in the main area: header, the shared iteration table, a metric plot with its
 * dropdown, and the selected iteration's properties and live log. */
export class RunView extends Widget {
  private detail: RunDetail | null = null;
  private header = h('div', 'aw-run-header');
  private cancelRun = h('button', 'jp-Button jp-mod-styled jp-mod-reject aw-cancel-run', 'Cancel run');
  private cancelIteration = h('button', 'jp-Button jp-mod-styled aw-cancel-iteration', 'Cancel iteration');
  private select = h('select', 'aw-metric jp-mod-styled');
  private plotHost = h('div', 'aw-plot-host');
  private properties = h('div', 'aw-properties');
  private log = h('pre', 'aw-log');
  private model: LocalModel;
  private logState = { n: -1, offset: 0 };
  private requested = new Set<number>();
  private poll: Poll;

  constructor(readonly runId: string, private onChange: () => void) {
    super();
    this.addClass('aw-run-view');
    this.id = `automl-run-${runId}`;
    this.title.label = runId.slice(0, 15) + '…';
    this.title.caption = runId;
    this.title.closable = true;
    this.model = new LocalModel({
      _key: runId, _initial: [], metric: 'Score', selected: null, best_iteration: null,
      sort: 'iteration', empty_text: 'Waiting for the first iteration…'
    });
    const tableEl = h('div', 'aw-table-host');
    table.initialize({ model: this.model });
    table.render({ model: this.model, el: tableEl });
    this.model.on('change:selected', () => {
      this.logState = { n: -1, offset: 0 };
      this.showSelected();
    });
    const buttons = h('div', 'aw-run-buttons');
    buttons.append(this.cancelRun, this.cancelIteration);
    this.cancelRun.addEventListener('click', () => void this.post(`runs/${runId}/cancel`));
    this.cancelIteration.addEventListener('click', () => {
      const n = this.model.get('selected') as number | null;
      if (n !== null) {
        this.requested.add(n);
        void this.post(`runs/${runId}/iterations/${n}/cancel`);
      }
    });
    this.select.addEventListener('change', () => this.drawPlot());
    const top = h('div', 'aw-run-top');
    top.append(this.header, buttons);
    const plot = h('div', 'aw-run-plot');
    const label = h('label', 'aw-metric-label', 'Metric: ');
    label.append(this.select);
    plot.append(label, this.plotHost);
    const selected = h('div', 'aw-run-selected');
    selected.append(this.properties, this.log);
    const bottom = h('div', 'aw-run-bottom');
    bottom.append(plot, selected);
    this.node.append(top, tableEl, bottom);
    this.poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: 1000, backoff: false },
      standby: 'when-hidden',
      name: `automl-widgets:run:${runId}`
    });
  }

  private async post(path: string): Promise<void> {
    await requestAPI(path, { method: 'POST', body: '{}' });
    this.onChange();
    await this.poll.refresh();
  }

  private async refresh(): Promise<void> {
    const detail = await requestAPI<RunDetail>(`runs/${this.runId}`);
    this.detail = detail;
    this.model.set('metric', detail.primary_metric);
    this.model.set('best_iteration', detail.best ? detail.best.iteration : null);
    this.model.set('empty_text', detail.live ? 'Waiting for the first iteration…' : 'No iteration ran.');
    const primary = detail.metrics.find(m => m.name === detail.primary_metric);
    this.model.setRows(tableRows(detail.iterations, primary?.greater_is_better ?? true));
    this.renderHeader();
    const names = detail.metrics.map(m => m.name);
    if ([...this.select.options].map(o => o.value).join() !== names.join()) {
      const keep = this.select.value || detail.primary_metric;
      this.select.replaceChildren(...names.map(n => new Option(n, n)));
      this.select.value = names.includes(keep) ? keep : names[0];
    }
    this.drawPlot();
    await this.showSelected();
    if (!detail.live) {
      this.poll.dispose();   // a finished run does not change any more
    }
  }

  private renderHeader(): void {
    const d = this.detail!;
    const best = d.best && d.best.value !== null
      ? `best ${d.primary_metric} ${formatMetric(d.best.value)} (iteration ${d.best.iteration})`
      : 'no completed iteration yet';
    const title = h('div', 'aw-title');
    title.append(h('b', '', d.id), ` · experiment ${d.experiment} · target ${d.target} `,
      h('span', `aw-badge aw-badge-${d.status}`, d.status));
    const line = h('div', 'aw-run-line',
      `iterations ${d.done} / ${d.total} · elapsed ${formatDuration(d.duration) || '-'} · ${best}` +
      (d.link ? ` · link: ${d.link}` : ''));
    this.header.replaceChildren(title, line);
    if (d.error) {
      this.header.append(h('div', 'aw-error', d.error));
    }
    this.cancelRun.disabled = !d.live || d.status === 'CancelRequested';
    this.cancelRun.classList.toggle('jp-mod-reject', !this.cancelRun.disabled);   // no red when done
    this.updateCancelIteration();
  }

  private updateCancelIteration(): void {
    const d = this.detail;
    const n = this.model.get('selected') as number | null;
    const rec = d?.iterations.find(i => i.iteration === n);
    this.cancelIteration.textContent = n === null ? 'Cancel iteration' : `Cancel iteration ${n}`;
    this.cancelIteration.disabled = !d || !d.live || n === null || this.requested.has(n) ||
      (rec !== undefined && rec.status !== 'Running');
  }

  private drawPlot(): void {
    const d = this.detail;
    if (!d) {
      return;
    }
    const metric = this.select.value || d.primary_metric;
    const info = d.metrics.find(m => m.name === metric);
    const { points, steps } = metricSeries(d.iterations, metric, info?.greater_is_better ?? true);
    drawPlot(this.plotHost, metric, points, steps, n => this.model.set('selected', n));
  }

  private async showSelected(): Promise<void> {
    this.updateCancelIteration();
    const n = this.model.get('selected') as number | null;
    const d = this.detail;
    if (n === null || !d) {
      this.properties.textContent = "Click a row or a point to see that iteration's properties and log.";
      this.log.textContent = '';
      return;
    }
    const rec = d.iterations.find(i => i.iteration === n);
    const rows: [string, string][] = rec ? [
      ['Pipeline', rec.pipeline ?? ''], ['Status', rec.status],
      ['Started', formatTime(rec.start_time)],
      ['Duration', rec.duration === null ? '' : `${rec.duration.toFixed(2)} s`],
      ...(rec.reason ? [['Reason', rec.reason] as [string, string]] : []),
      ...(rec.worker ? [['Worker', rec.worker] as [string, string]] : []),
      ['Hyperparameters', rec.params && Object.keys(rec.params).length
        ? JSON.stringify(rec.params, null, 1) : 'defaults'],
      ...Object.entries(rec.metrics ?? {}).sort().map(
        ([k, v]) => [k, v === null ? '' : Number(v).toPrecision(6)] as [string, string])
    ] : [['Status', 'not started yet']];
    const tbl = h('table', '');
    for (const [k, v] of rows) {
      const tr = h('tr', '');
      tr.append(h('th', '', k), h('td', '', v));
      tbl.append(tr);
    }
    this.properties.replaceChildren(h('div', 'aw-properties-title', `Iteration ${n}`), tbl);
    const size = d.log_sizes[String(n)] ?? 0;
    if (this.logState.n !== n || size > this.logState.offset) {
      const fresh = this.logState.n !== n;
      const part = await requestAPI<{ text: string; offset: number }>(
        `runs/${this.runId}/iterations/${n}/log?offset=${fresh ? 0 : this.logState.offset}`);
      if (this.model.get('selected') !== n) {
        return;   // another row was clicked meanwhile
      }
      this.log.textContent = (fresh ? '' : this.log.textContent) + part.text;
      this.logState = { n, offset: part.offset };
    }
  }

  dispose(): void {
    this.poll.dispose();
    super.dispose();
  }
}
