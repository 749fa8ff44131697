// The panel's data and the decisions made on it, with no DOM: unit-tested (test/).

export interface Best {
  iteration: number;
  value: number | null;
  pipeline?: string | null;
}

export interface RunSummary {
  id: string;
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

export interface Iteration {
  iteration: number;
  pipeline: string | null;
  status: string;
  duration: number | null;
  score: number | null;
  metrics: Record<string, number | null>;
  params: Record<string, unknown>;
  start_time: number | null;
  reason: string | null;
  worker?: string | null;   // Dask targets: the worker that runs or ran it
}

export interface RunDetail extends RunSummary {
  iterations: Iteration[];
  error: string | null;
  warnings: string[];
  stop_reason: string | null;
  metrics: { name: string; greater_is_better: boolean }[];
  log_sizes: Record<string, number>;
  snippet: string;
}

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
      matches([e.name, r.id, r.status, r.target, r.best?.pipeline ?? ''].join(' '))
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

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${rest}s` : `${rest}s`;
}

export function formatMetric(value: number | null | undefined): string {
  return value === null || value === undefined ? '' : value.toFixed(4);
}

export function formatTime(epoch: number | null | undefined): string {
  if (!epoch) {
    return '';
  }
  const d = new Date(epoch * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(
    d.getHours()
  )}:${pad(d.getMinutes())}`;
}

/** The Python that re-attaches a run in a kernel. */
export function reattachSnippet(run: { experiment: string; id: string }): string {
  return (
    'from automl_widgets import AutoMLRun, Experiment, Workspace\n' +
    'ws = Workspace.from_config()\n' +
    `run = AutoMLRun(Experiment(ws, ${JSON.stringify(run.experiment)}), ${JSON.stringify(run.id)})`
  );
}

/** For each position, the best score up to it (nulls skipped): "best so far" in
 * iteration order, as automl_widgets.metrics.running_best. */
export function runningBest(scores: (number | null)[], greaterIsBetter: boolean): (number | null)[] {
  let best: number | null = null;
  return scores.map(v => {
    if (v !== null && (best === null || (greaterIsBetter ? v > best : v < best))) {
      best = v;
    }
    return best;
  });
}

/** Rows for the shared iteration table (automl_widgets/widget/table.js), by iteration.
 * "Best so far" is in iteration order, like the plot's line and RunDetails' table. */
export function tableRows(iterations: Iteration[], greaterIsBetter: boolean) {
  const sorted = [...iterations].sort((a, b) => a.iteration - b.iteration);
  const scores = sorted.map(i => (i.status === 'Completed' ? i.score : null));
  const best = runningBest(scores, greaterIsBetter);
  return sorted.map((i, k) => ({
    iteration: i.iteration,
    pipeline: i.pipeline ?? '',
    status: i.status,
    duration: i.duration,
    score: scores[k],
    best: best[k],
    start: i.status === 'Running' ? i.start_time : null
  }));
}

/** Points of one metric (completed iterations) and the best-so-far steps. */
export function metricSeries(iterations: Iteration[], metric: string, greaterIsBetter: boolean) {
  const points: [number, number][] = [];
  for (const i of iterations) {
    const v = i.metrics?.[metric];
    if (i.status === 'Completed' && v !== null && v !== undefined) {
      points.push([i.iteration, v]);
    }
  }
  points.sort((a, b) => a[0] - b[0]);
  const steps: [number, number][] = [];
  const best = runningBest(points.map(p => p[1]), greaterIsBetter);
  points.forEach(([x], k) => {
    if (!steps.length || best[k] !== steps[steps.length - 1][1]) {
      steps.push([x, best[k] as number]);
    }
  });
  const last = points[points.length - 1];
  if (last && steps[steps.length - 1][0] !== last[0]) {
    steps.push([last[0], steps[steps.length - 1][1]]);
  }
  return { points, steps };
}
