import { isoSeconds } from '../clock.js';
import type { Subsystem } from './model.js';
import type { Alarm, DeviceState } from './state.js';

/**
 * Alarms (§4 `Alarm[n]`, §8.1, §9). Raising and clearing are plain state changes made
 * by handlers and catch-ups; a raised alarm stays in `state.alarms` until it clears.
 * Adding an alarm is one line in ALARMS.
 */

export interface AlarmDefinition {
  title: string;
  severity: 'Critical' | 'Error' | 'Warning' | 'Info';
}

export const ALARMS = {
  30042: { title: 'Smart Licensing registration is not working', severity: 'Warning' },
  30044: { title: 'Smart Licensing authorization is not working', severity: 'Warning' },
  30046: { title: 'Export control limit approaching: calls and registrations are above 90% of the limit', severity: 'Warning' },
  30048: { title: 'Export control limit reached: new calls and registrations are refused until usage is below 99% of the limit', severity: 'Error' },
  30050: { title: 'A term licence has expired: its feature stopped at the last restart', severity: 'Error' },
} as const satisfies Record<number, AlarmDefinition>;

export type AlarmId = keyof typeof ALARMS;

/** What `xStatus Alarm` shows for an alarm that has not cleared. */
export const ALARM_RAISED = 'Active';

export function isAlarmRaised(state: Pick<DeviceState, 'alarms'>, id: AlarmId): boolean {
  return state.alarms.some((a) => a.id === id);
}

/** Raises an alarm in a list being changed; raising one that is already up keeps its first time. */
export function raiseAlarm(alarms: Alarm[], id: AlarmId, at: Date): void {
  if (alarms.some((a) => a.id === id)) return;
  const def: AlarmDefinition = ALARMS[id];
  alarms.push({ id, title: def.title, severity: def.severity, status: ALARM_RAISED, raisedAt: isoSeconds(at) });
}

/** Clears an alarm (it leaves the list); clearing one that is not up does nothing. */
export function clearAlarm(alarms: Alarm[], id: AlarmId): void {
  const i = alarms.findIndex((a) => a.id === id);
  if (i >= 0) alarms.splice(i, 1);
}

export const alarms: Subsystem = {
  name: 'alarms',
  status: [
    {
      name: 'Alarm',
      help: 'Alarms that are raised now (Id, Title, Severity, Status, RaisedAt); an alarm leaves the list when it clears.',
      build: (ctx) => ctx.state.alarms.map((a, i) => ({ id: i + 1, Id: a.id, Title: a.title, Severity: a.severity, Status: a.status, RaisedAt: a.raisedAt })),
    },
  ],
};
