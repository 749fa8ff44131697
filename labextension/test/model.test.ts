import { describe, expect, it } from 'vitest';
import {
  anyLive,
  filterExperiments,
  nextInterval,
  reattachSnippet,
  Listing,
  RunSummary,
  SIDEBAR_POLL
} from '../src/model';

const run = (over: Partial<RunSummary>): RunSummary => ({
  id: 'AutoML_1', name: '', experiment: 'exp', status: 'Completed', target: 'local', live: false,
  done: 3, total: 3, primary_metric: 'accuracy', best: { iteration: 1, value: 0.9, pipeline: 'Standardize SGD classifier' },
  created: 1, started: 1, ended: 2, duration: 1, link: null,
  best_text: 'accuracy 0.9000', when_text: '', ...over
});

const listing = (runs: RunSummary[]): Listing => ({
  workspace: { name: 'ws', path: '/ws' },
  experiments: [{ name: 'automl_local', runs }, { name: 'other', runs: [run({ id: 'AutoML_2', target: 'mydsvm' })] }]
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

describe('snippets', () => {
  it('writes a snippet that re-attaches the run', () => {
    expect(reattachSnippet({ experiment: 'automl_local', id: 'AutoML_1' })).toContain(
      'AutoMLRun(Experiment(ws, "automl_local"), "AutoML_1")'
    );
  });
});
