import { Clipboard } from '@jupyterlab/apputils';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { h } from './dom';
import {
  anyLive,
  filterExperiments,
  Listing,
  nextInterval,
  reattachSnippet,
  RunSummary,
  SIDEBAR_POLL,
  Unchanged
} from './model';

export interface SidebarActions {
  openRun(run: RunSummary): void;
  openNotebook(path: string): void;
}

/** The "AutoML" tab: every experiment of the workspace with its runs, kept current. */
export class AutoMLSidebar extends Widget {
  private listing: Listing | null = null;
  private examples: string[] = [];
  private query = '';
  private list = h('div', 'aw-side-list');
  private status = h('div', 'aw-side-status');
  private poll: Poll;

  constructor(private actions: SidebarActions) {
    super();
    this.id = 'automl-widgets-sidebar';
    this.addClass('aw-sidebar');
    this.title.caption = 'AutoML experiments and runs';
    const header = h('div', 'aw-side-header', 'AutoML');
    const filter = h('input', 'aw-side-filter jp-mod-styled');
    filter.placeholder = 'Filter experiments and runs';
    filter.addEventListener('input', () => {
      this.query = filter.value;
      this.render();
    });
    this.node.append(header, filter, this.status, this.list);
    this.poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: SIDEBAR_POLL.base, backoff: false, max: SIDEBAR_POLL.max },
      standby: 'when-hidden',
      name: 'automl-widgets:sidebar'
    });
    void requestAPI<{ notebooks: string[] }>('examples').then(r => {
      this.examples = r.notebooks;
      this.render();
    });
  }

  /** Look now (after an action), instead of at the next tick. */
  refreshSoon(): void {
    void this.poll.refresh();
  }

  private async refresh(): Promise<void> {
    const since = this.listing?.stamp;
    const reply = await requestAPI<Listing | Unchanged>(
      'experiments' + (since ? `?since=${encodeURIComponent(since)}` : ''));
    const changed = !('unchanged' in reply);
    if (changed) {
      this.listing = reply as Listing;
    }
    const live = this.listing ? anyLive(this.listing) : false;
    const interval = nextInterval(this.poll.frequency.interval, changed, live,
      SIDEBAR_POLL.base, SIDEBAR_POLL.max);
    if (interval !== this.poll.frequency.interval) {
      this.poll.frequency = { ...this.poll.frequency, interval };
    }
    if (changed || live) {
      this.render();   // durations of live runs move even when nothing else does
    }
  }

  private render(): void {
    const listing = this.listing;
    if (!listing) {
      this.status.textContent = 'Loading…';
      return;
    }
    if (!listing.workspace) {
      this.status.textContent = listing.help ?? 'No AutoML workspace.';
      this.list.replaceChildren();
      return;
    }
    this.status.textContent = `Workspace ${listing.workspace.name}`;
    this.status.title = listing.workspace.path;
    const frag = document.createDocumentFragment();
    const shown = filterExperiments(listing.experiments, this.query);
    if (!listing.experiments.length) {
      frag.append(h('div', 'aw-side-empty', 'No experiments yet: submit a run from a notebook.'));
    } else if (!shown.length) {
      frag.append(h('div', 'aw-side-empty', 'Nothing matches the filter.'));
    }
    for (const e of shown) {
      const box = h('div', 'aw-side-experiment');
      box.dataset.experiment = e.name;
      box.append(h('div', 'aw-side-experiment-name', `${e.name} (${e.runs.length})`));
      for (const r of e.runs) {
        box.append(this.runRow(r));
      }
      frag.append(box);
    }
    if (this.examples.length) {
      const box = h('div', 'aw-side-examples');
      box.append(h('div', 'aw-side-experiment-name', 'Example notebooks'));
      for (const path of this.examples) {
        const link = h('a', 'aw-side-example', path);
        link.href = '#';
        link.addEventListener('click', ev => {
          ev.preventDefault();
          this.actions.openNotebook(path);
        });
        box.append(link);
      }
      frag.append(box);
    }
    this.list.replaceChildren(frag);
  }

  private runRow(r: RunSummary): HTMLElement {
    const row = h('div', `aw-side-run status-${r.status}`);
    row.dataset.run = r.id;
    row.title = `Open ${r.id}`;
    const top = h('div', 'aw-side-run-top');
    top.append(h('span', `aw-badge aw-badge-${r.status}`, r.status),
      h('span', 'aw-side-count', `${r.done} / ${r.total}`),
      h('span', 'aw-side-target', r.target));
    const mid = h('div', 'aw-side-run-mid', r.name ? `${r.name} · ${r.best_text}` : r.best_text);
    const bottom = h('div', 'aw-side-run-bottom', r.when_text);
    const actions = h('div', 'aw-side-actions');
    const copyId = h('button', 'aw-side-action jp-Button', 'Copy id');
    copyId.addEventListener('click', ev => {
      ev.stopPropagation();
      Clipboard.copyToSystem(r.id);
    });
    const copySnippet = h('button', 'aw-side-action jp-Button', 'Copy Python');
    copySnippet.title = 'Copy the Python that re-attaches this run';
    copySnippet.addEventListener('click', ev => {
      ev.stopPropagation();
      Clipboard.copyToSystem(reattachSnippet(r));
    });
    actions.append(copyId, copySnippet);
    row.append(top, mid, bottom, actions);
    row.addEventListener('click', () => this.actions.openRun(r));
    return row;
  }

  dispose(): void {
    this.poll.dispose();
    super.dispose();
  }
}
