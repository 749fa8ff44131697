import { describe, expect, it, vi } from 'vitest';

// The view's module imports plotly.js, which needs a browser; plotRange does not.
vi.mock('plotly.js-basic-dist-min', () => ({ default: {} }));
import { plotRange } from '../src/shared/runview.js';

describe('plotRange', () => {
  const scores = [0.75, 0.82, 0.86, 0.88, 0.89, 0.9, 0.91, 0.91];
  it('lets the plot scale itself when no score is far off', () => {
    expect(plotRange(scores)).toBeNull();
    expect(plotRange([0.92, 0.98, 0.99, 0.995, 0.999, 0.9995])).toBeNull();   // digits' tree
    expect(plotRange([0.5, -1e30])).toBeNull();   // too few to tell
  });
  it('leaves a diverged model off the range, on both sides', () => {
    const [lo, hi] = plotRange([...scores, -6.9e6, -5.1e25])!;
    expect(lo).toBeLessThan(0.75);
    expect(lo).toBeGreaterThan(-1);
    expect(hi).toBeGreaterThanOrEqual(0.91);
    expect(hi).toBeLessThan(1);
    const [, top] = plotRange([...scores.map((v) => 1 - v), 4.2e8])!;   // an error metric
    expect(top).toBeLessThan(1);
  });
  it('ignores what is not a finite number, and equal scores', () => {
    expect(plotRange([0.9, 0.9, 0.9, 0.9, 0.9, NaN, Infinity])).toBeNull();
    const [lo, hi] = plotRange([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, -40])!;
    expect(lo).toBeLessThan(0.9);
    expect(hi).toBeGreaterThan(0.9);
  });
});
