import { CLOCK_END, isoSeconds, parseIsoTime } from '../clock.js';
import type { DeviceContext } from './context.js';
import { ExshError } from '../errors.js';
import { intSpace, stringSpace } from '../xapi/schema.js';
import type { Subsystem } from './model.js';
import { NETWORK, type NetworkSection } from './registration-state.js';
import { enumSpace } from '../xapi/schema.js';

/** Moves the simulated clock forward by `ms`, never past the end of year 9999. */
function advance(ctx: DeviceContext, ms: number): void {
  const now = ctx.now().getTime();
  if (now + ms > CLOCK_END) {
    throw new ExshError('clock.outOfRange', `The simulated clock cannot go past ${isoSeconds(CLOCK_END)} (it is ${isoSeconds(now)} now).`);
  }
  ctx.edit('clock').offsetMs += ms;
}

/** The simulator's own controls (§4): clearly marked in help as not part of Expressway. */
export const simulator: Subsystem = {
  name: 'simulator',
  commands: [
    {
      path: ['Simulator', 'Clock', 'Advance'],
      help: 'Moves the simulated clock forward; whatever becomes due on the way happens in time order.',
      simulator: true,
      mutates: true,
      params: [
        { name: 'Days', space: intSpace(0, 3650) },
        { name: 'Hours', space: intSpace(0, 23) },
        { name: 'Minutes', space: intSpace(0, 59) },
      ],
      handler: (ctx, p) => {
        const minutes = Number(p.Days ?? 0) * 1440 + Number(p.Hours ?? 0) * 60 + Number(p.Minutes ?? 0);
        advance(ctx, minutes * 60_000);
        return { fields: { Time: isoSeconds(ctx.now()) } };
      },
    },
    {
      path: ['Simulator', 'Clock', 'Set'],
      help: 'Sets the simulated clock to an ISO 8601 time (it may not go backwards).',
      simulator: true,
      mutates: true,
      params: [{ name: 'Time', space: stringSpace(1, 64), required: true, positional: true }],
      handler: (ctx, p) => {
        const text = String(p.Time);
        const target = parseIsoTime(text)?.getTime();
        if (target === undefined) {
          throw new ExshError('clock.badTime', `Invalid time '${text}': expected ISO 8601, for example 2026-03-01T10:15:00Z.`);
        }
        const now = ctx.now().getTime();
        if (target < now) {
          // Renewals, expiries and alarms already happened; time only moves forward here.
          throw new ExshError('clock.backwards', `The simulated clock cannot go back from ${isoSeconds(ctx.now())} to ${isoSeconds(new Date(target))}.`);
        }
        advance(ctx, target - now);
        return { fields: { Time: isoSeconds(ctx.now()) } };
      },
    },
    {
      path: ['Simulator', 'Network', 'Cssm'],
      help: "Cuts (Reachable: False) or restores this device's network path to the CSSM: attempts made meanwhile fail as on an unreachable network.",
      simulator: true,
      mutates: true,
      params: [{ name: 'Reachable', space: enumSpace('True', 'False'), required: true }],
      handler: (ctx, p) => {
        ctx.edit<NetworkSection>(NETWORK, () => ({ cssmReachable: true })).cssmReachable = p.Reachable === 'True';
        return { fields: { Reachable: String(p.Reachable) } };
      },
    },
  ],
};
