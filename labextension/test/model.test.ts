import { describe, expect, it } from 'vitest';
import {
  anyLive,
  filterExperiments,
  formatDuration,
  metricSeries,
  nextInterval,
  reattachSnippet,
  tableRows,
  Iteration,
  Listing,
  RunSummary,
  SIDEBAR_POLL
} from '../src/model';

const run = (over: Partial<RunSummary>): RunSummary => ({
  id: 'AutoML_1', experiment: 'exp', status: 'Completed', target: 'local', live: false,
  done: 3, total: 3, primary_metric: 'accuracy', best: { iteration: 1, value: 0.9, pipeline: 'Standardize SGD classifier' },
  created: 1, started: 1, ended: 2, duration: 1, link: null, ...over
});

const listing = (runs: RunSummary[]): Listing => ({
  workspace: { name: 'ws', path: '/ws' },
  experiments: [{ name: 'automl_local', runs }, { name: 'other', runs: [run({ id: 'AutoML_2', target: 'mydsvm' })] }]
});

const it_ = (n: number, status: string, acc: number | null, loss: number | null = null): Iteration => ({
  iteration: n, pipeline: `p${n}`, status, duration: 0.1, score: acc,
  metrics: acc === null ? {} : { accuracy: acc, log_loss: loss }, params: {}, start_time: 0, reason: null
});

describe('filterExperiments', () => {
  const data = listing([run({}), run({ id: 'AutoML_3', status: 'Failed' })]).experiments;
  it('keeps everything for an empty query', () => {
    expect(filterExperiments(data, '  ')).toBe(data);
  });
  it('matches an experiment by name, keeping all its runs', () => {
    expect(filterExperiments(data, 'LOCAL')).toEqual([data[0]]);
  });
  it('matches runs by status, target or pipeline, every word', () => {
    expect(filterExperiments(data, 'failed')[0].runs.map(r => r.id)).toEqual(['AutoML_3']);
    expect(filterExperiments(data, 'mydsvm')[0].name).toBe('other');
    expect(filterExperiments(data, 'sgd failed')[0].runs.map(r => r.id)).toEqual(['AutoML_3']);
    expect(filterExperiments(data, 'nothing-like-this')).toEqual([]);
  });
});

describe('nextInterval', () => {
  it('stays fast while a run is live or something changed', () => {
    expect(nextInterval(8000, false, true)).toBe(1000);
    expect(nextInterval(8000, true, false)).toBe(1000);
  });
  it('backs off while nothing changes, up to the cap', () => {
    expect(nextInterval(1000, false, false)).toBe(2000);
    expect(nextInterval(20000, false, false)).toBe(30000);
    expect(nextInterval(30000, false, false)).toBe(30000);
    expect(nextInterval(2000, false, false, SIDEBAR_POLL.base, SIDEBAR_POLL.max)).toBe(2000);
  });
});

describe('anyLive', () => {
  it('is true while a run is live', () => {
    expect(anyLive(listing([run({ live: true, status: 'Running', done: 1 })]))).toBe(true);
    expect(anyLive(listing([run({})]))).toBe(false);
  });
});

describe('formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(125)).toBe('2m 5s');
    expect(formatDuration(3 * 3600 + 120)).toBe('3h 2m');
  });
  it('writes a snippet that re-attaches the run', () => {
    expect(reattachSnippet({ experiment: 'automl_local', id: 'AutoML_1' })).toContain(
      'AutoMLRun(Experiment(ws, "automl_local"), "AutoML_1")'
    );
  });
});

describe('iterations', () => {
  const its = [it_(0, 'Completed', 0.8, 0.5), it_(1, 'Failed', null), it_(2, 'Completed', 0.9, 0.6),
    it_(3, 'Completed', 0.85, 0.4), it_(4, 'Running', null)];
  it('gives the table rows, with no score unless completed', () => {
    const rows = tableRows(its, true);
    expect(rows.map(r => r.iteration)).toEqual([0, 1, 2, 3, 4]);
    expect(rows[1].score).toBeNull();
  });
  it('gives the best so far in iteration order, whatever order they finished in', () => {
    const shuffled = [its[3], its[0], its[4], its[2], its[1]];
    expect(tableRows(shuffled, true).map(r => r.best)).toEqual([0.8, 0.8, 0.9, 0.9, 0.9]);
    const lower = [it_(0, 'Completed', 0.5), it_(1, 'Completed', 0.7), it_(2, 'Completed', 0.4)];
    expect(tableRows(lower, false).map(r => r.best)).toEqual([0.5, 0.5, 0.4]);
  });
  it('gives points and best-so-far steps, direction-aware', () => {
    expect(metricSeries(its, 'accuracy', true)).toEqual({
      points: [[0, 0.8], [2, 0.9], [3, 0.85]], steps: [[0, 0.8], [2, 0.9], [3, 0.9]]
    });
    expect(metricSeries(its, 'log_loss', false).steps).toEqual([[0, 0.5], [3, 0.4]]);
  });
});
