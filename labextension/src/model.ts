// The panel's data and the decisions made on it, with no DOM: unit-tested (test/).

export interface Best {
  iteration: number;
  value: number | null;
  pipeline?: string | null;
}

export interface RunSummary {
  id: string;
  name: string;   // the classic display name (automl_settings["name"]), or ''

  experiment: string;
  status: string;
  target: string;
  live: boolean;
  done: number;
  total: number;
  primary_metric: string;
  best: Best | null;
  created: number | null;
  started: number | null;
  ended: number | null;
  duration: number | null;
  link: string | null;
  best_text: string;   // formatted by the server (automl_widgets/viewmodel.py)
  when_text: string;
}

export interface Experiment {
  name: string;
  runs: RunSummary[];
}

export interface Listing {
  workspace: { name: string; path: string } | null;
  help?: string;
  experiments: Experiment[];
  stamp?: string;
}

/** The server's answer to `experiments?since=<stamp>` when nothing changed. */
export interface Unchanged {
  unchanged: true;
  stamp: string;
}

/** How often the sidebar looks: every second while a run is live, backing off to every
 * two seconds while nothing changes (a look that finds nothing new costs a few stats on
 * the server and a tiny reply), so a run started elsewhere shows within ~2 s. */
export const SIDEBAR_POLL = { base: 1000, max: 2000 };

/** Experiments whose name, or one of whose runs' id, status, target or best pipeline,
 * contains every word of the query (case-insensitive); runs are filtered the same way. */
export function filterExperiments(experiments: Experiment[], query: string): Experiment[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) {
    return experiments;
  }
  const matches = (text: string) => words.every(w => text.toLowerCase().includes(w));
  const out: Experiment[] = [];
  for (const e of experiments) {
    if (matches(e.name)) {
      out.push(e);
      continue;
    }
    const runs = e.runs.filter(r =>
      matches([e.name, r.name, r.id, r.status, r.target, r.best?.pipeline ?? ''].join(' '))
    );
    if (runs.length) {
      out.push({ ...e, runs });
    }
  }
  return out;
}

/** How long to wait before the next look: fast while a run is live, then doubling while
 * nothing changes, up to `max`. */
export function nextInterval(
  previous: number,
  changed: boolean,
  anyLive: boolean,
  base = 1000,
  max = 30000
): number {
  if (anyLive || changed) {
    return base;
  }
  return Math.min(max, Math.max(base, previous * 2));
}

export function anyLive(listing: Listing): boolean {
  return listing.experiments.some(e => e.runs.some(r => r.live));
}

/** The Python that re-attaches a run in a kernel. */
export function reattachSnippet(run: { experiment: string; id: string }): string {
  return (
    'from automl_widgets import AutoMLRun, Experiment, Workspace\n' +
    'ws = Workspace.from_config()\n' +
    `run = AutoMLRun(Experiment(ws, ${JSON.stringify(run.experiment)}), ${JSON.stringify(run.id)})`
  );
}
