import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import view from './shared/runview.js';

type Handler = (...args: unknown[]) => void;

/** What `runs/<id>/view` answers: the run view of automl_widgets/viewmodel.py. */
interface ViewState {
  epoch: string;
  version: number;
  reset: boolean;
  rows: { iteration: number }[];
  log_size: number | null;
  [trait: string]: unknown;
}

const TRAITS = ['header', 'metrics', 'families', 'cancelable', 'can_cancel_run', 'properties',
  'charts', 'started'];
const SELECTED = ['properties', 'charts'];   // answers about the selected iteration

/** The widget model runview.js expects (anywidget's get/set/on/send), held in the page and
 * fed from the REST API instead of a kernel. */
export class PanelModel {
  private handlers = new Map<string, Set<Handler>>();
  private rows = new Map<number, unknown>();
  private since = '';
  private log = { n: null as number | null, offset: 0 };

  constructor(readonly runId: string, private values: Record<string, unknown>,
              private changed: () => void) {}

  get(key: string): unknown {
    return this.values[key];
  }

  set(key: string, value: unknown): void {
    if (JSON.stringify(this.values[key]) !== JSON.stringify(value)) {
      this.values[key] = value;
      this.emit(`change:${key}`, value);
      if (key === 'selected') {
        this.changed();   // its properties and log come with the next look
      }
    }
  }

  save_changes(): void {
    /* nothing to sync: the page holds the only copy */
  }

  on(name: string, handler: Handler): void {
    if (!this.handlers.has(name)) {
      this.handlers.set(name, new Set());
    }
    this.handlers.get(name)!.add(handler);
  }

  off(name: string, handler: Handler): void {
    this.handlers.get(name)?.delete(handler);
  }

  /** The module's messages: a snapshot of the rows, or a cancel (posted to the server). */
  send(msg: { type?: string; n?: number }): void {
    if (msg.type === 'snapshot') {
      this.emit('msg:custom', { type: 'rows', rows: [...this.rows.values()], reset: true });
    } else if (msg.type === 'cancel_run') {
      void this.post(`runs/${this.runId}/cancel`);
    } else if (msg.type === 'cancel_iteration' && typeof msg.n === 'number') {
      void this.post(`runs/${this.runId}/iterations/${msg.n}/cancel`);
    }
  }

  private async post(path: string): Promise<void> {
    await requestAPI(path, { method: 'POST', body: '{}' });
    this.changed();
  }

  /** One look at the server: changed rows and traits, then the selected log's growth.
   * Returns whether the run is still live. */
  async refresh(): Promise<boolean> {
    const selected = this.values.selected as number | null;
    const query = `since=${encodeURIComponent(this.since)}` +
      (selected === null || selected === undefined ? '' : `&selected=${selected}`);
    const state = await requestAPI<ViewState>(`runs/${this.runId}/view?${query}`);
    this.since = `${state.epoch}:${state.version}`;
    if (state.reset) {
      this.rows.clear();
    }
    for (const r of state.rows) {
      this.rows.set(r.iteration, r);
    }
    if (state.rows.length || state.reset) {
      this.emit('msg:custom', { type: 'rows', rows: state.rows, reset: state.reset });
    }
    for (const key of TRAITS) {
      if (this.values.selected === selected || !SELECTED.includes(key)) {
        this.set(key, state[key]);
      }
    }
    await this.followLog(selected, state.log_size);
    return Boolean((state.header as { live?: boolean }).live);
  }

  private async followLog(n: number | null, size: number | null): Promise<void> {
    if (n === null || n === undefined) {
      return;
    }
    const fresh = this.log.n !== n;
    if (!fresh && (size === null || size <= this.log.offset)) {
      return;
    }
    const part = await requestAPI<{ text: string; offset: number }>(
      `runs/${this.runId}/iterations/${n}/log?offset=${fresh ? 0 : this.log.offset}`);
    if (this.values.selected !== n) {
      return;   // another row was chosen meanwhile
    }
    this.log = { n, offset: part.offset };
    if (part.text || fresh) {
      this.emit('msg:custom', { type: 'log', n, text: part.text, reset: fresh });
    }
  }

  private emit(name: string, ...args: unknown[]): void {
    this.handlers.get(name)?.forEach(h => h(...args));
  }
}

/** One run in the main area: the run view module (automl_widgets/widget/runview.js, the
 * notebook widget's too) on a PanelModel that polls the server every second while the
 * run is live. */
export class RunView extends Widget {
  private model: PanelModel;
  private poll: Poll;
  private cleanup: unknown;

  constructor(readonly runId: string, private onChange: () => void) {
    super();
    this.addClass('aw-run-view');
    this.id = `automl-run-${runId}`;
    this.title.label = runId.slice(0, 15) + '…';
    this.title.caption = runId;
    this.title.closable = true;
    this.model = new PanelModel(runId, {
      _key: `panel-${runId}-${Math.random()}`, _initial: [], header: {}, metrics: [],
      families: [], cancelable: [], can_cancel_run: false, properties: null, charts: null,
      started: null,
      selected: null, sort: 'iteration'
    }, () => {
      this.onChange();
      // a finished run's poll has stopped: a new selection still needs its details
      void (this.poll.isDisposed ? this.model.refresh() : this.poll.refresh());
    });
    view.initialize({ model: this.model });
    const host = document.createElement('div');
    this.node.append(host);
    this.cleanup = view.render({ model: this.model, el: host });
    this.poll = new Poll({
      factory: async () => {
        if (!(await this.model.refresh())) {
          this.poll.dispose();   // a finished run does not change any more
        }
      },
      frequency: { interval: 1000, backoff: false },
      standby: 'when-hidden',
      name: `automl-widgets:run:${runId}`
    });
  }

  dispose(): void {
    this.poll.dispose();
    if (typeof this.cleanup === 'function') {
      (this.cleanup as () => void)();
    }
    super.dispose();
  }
}
