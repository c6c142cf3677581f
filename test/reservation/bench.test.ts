import { describe, expect, it } from 'vitest';
import { benchInstalls } from '../../src/device/reservation-bench.js';

describe('benchInstalls', () => {
  // The rate is reported by bench/run.js against its target, never asserted here (STYLE).
  it('runs n SLR installs in-process and reports a rate', () => {
    const r = benchInstalls(20);
    expect(r.installs).toBe(20);
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.perSecond).toBeCloseTo(20 / r.seconds, 6);
  });
});
