import { describe, expect, it } from 'vitest';
import { benchReservations } from '../../src/cssm/bench.js';

describe('benchReservations', () => {
  // Speed is reported by bench/, never asserted here (STYLE: no absolute thresholds in tests).
  it('runs n reservations against a temporary database and reports a rate', () => {
    const r = benchReservations(50);
    expect(r.reservations).toBe(50);
    expect(r.perSecond).toBeGreaterThan(0);
  });
});
