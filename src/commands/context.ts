import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseIsoTime } from '../clock.js';
import { Device, openDeviceStore, type DeviceStore } from '../device/device.js';
import { remoteEnv } from './remote.js';
import type { DeviceModel } from '../device/model.js';
import type { Brand, ProductType } from '../device/state.js';
import { deviceModel } from '../device/subsystems.js';
import { usageError } from '../errors.js';
import { seededRng, systemRng, type Rng } from '../random.js';
import type { OutputMode } from '../xapi/types.js';

/** Everything the outside world gives exsh: streams and environment (injected, §5.5). */
export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** Subscribes to Ctrl-C (SIGINT); returns the unsubscribe. Absent: Ctrl-C does what it always does. */
  interrupts?: (handler: () => void) => () => void;
}

/** The global options as commander parsed them. */
export interface GlobalOptions {
  home?: string;
  device?: string;
  output: OutputMode;
  now?: string;
  seed?: string;
  color: boolean;
  command: string[];
  failFast?: boolean;
  /** `--cssm-url`: where Direct goes (else EXSH_CSSM_URL, a live `cssm serve`, or the CSSM in-process). */
  cssmUrl?: string;
}

/** The normalised global options plus what commands need, built once per run. */
export interface CliContext {
  readonly io: Io;
  readonly home: string;
  readonly deviceName: string;
  readonly output: OutputMode;
  readonly now?: Date;
  readonly seed?: string;
  readonly color: boolean;
  readonly commands: readonly string[];
  readonly failFast: boolean;
  readonly lockTimeoutMs?: number;
  readonly cssmUrl?: string;
  readonly model: DeviceModel;
  /** The home's device store. */
  store(): Promise<DeviceStore>;
  /** Opens a device of the home (created on first use). */
  device(name?: string, createAs?: { brand?: Brand; type?: ProductType }): Promise<Device>;
  /** The simulated clock for tools without a device (cssm): --now, else real time. */
  clock(): Date;
  rng(label: string): Rng;
}

/**
 * The OS configuration directory for "exsh", as env-paths (conf's locator) computes it:
 * $XDG_CONFIG_HOME/exsh or ~/.config/exsh on Linux, ~/Library/Preferences/exsh on macOS,
 * %APPDATA%/exsh/Config on Windows. Inlined: env-paths imports `node:process`, whose ESM
 * facade opens stdin on every start.
 */
export function defaultHome(env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): string {
  const home = homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Preferences', 'exsh');
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'exsh', 'Config');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'exsh');
}

export function parseNow(text: string): Date {
  const t = parseIsoTime(text);
  if (!t) throw usageError('cli.badNow', `Invalid --now '${text}': expected an ISO 8601 time such as 2026-03-01T10:15:00Z.`);
  return t;
}

const MAX_LOCK_TIMEOUT_MS = 24 * 3600 * 1000;

/** EXSH_LOCK_TIMEOUT: milliseconds, a whole number up to a day; anything else is a usage error. */
export function parseLockTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text.trim()) || Number(text) > MAX_LOCK_TIMEOUT_MS) {
    throw usageError('cli.badLockTimeout', `Invalid EXSH_LOCK_TIMEOUT '${text}': expected a whole number of milliseconds from 0 to ${MAX_LOCK_TIMEOUT_MS}.`);
  }
  return Number(text);
}

/** An EXSH_* variable; set but empty counts as not set. */
function fromEnv(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

export function createContext(opts: GlobalOptions, io: Io): CliContext {
  if (opts.home !== undefined && opts.home.trim() === '') {
    throw usageError('cli.badHome', 'The home directory is empty: give --home (or EXSH_HOME) a directory, or leave it out for the default.');
  }
  const env = io.env;
  const home = resolve(opts.home ?? fromEnv(env, 'EXSH_HOME') ?? defaultHome(env));
  const nowText = opts.now ?? fromEnv(env, 'EXSH_NOW');
  const now = nowText !== undefined ? parseNow(nowText) : undefined;
  const deviceName = opts.device ?? fromEnv(env, 'EXSH_DEVICE') ?? 'expressway';
  const color = opts.color !== false && io.env.NO_COLOR === undefined && io.stdout.isTTY === true;
  const lockTimeoutMs = parseLockTimeout(io.env.EXSH_LOCK_TIMEOUT);
  const seed = opts.seed ?? fromEnv(env, 'EXSH_SEED');
  const cssmUrl = opts.cssmUrl ?? fromEnv(env, 'EXSH_CSSM_URL');
  const model = deviceModel();
  const clock = () => now ?? new Date();
  const rng = (label: string) => (seed === undefined ? systemRng : seededRng(seed, label));
  return {
    io,
    home,
    deviceName,
    output: opts.output,
    now,
    seed,
    color,
    commands: opts.command ?? [],
    failFast: opts.failFast === true,
    lockTimeoutMs,
    cssmUrl,
    model,
    store: () => openDeviceStore(home, model, { lockTimeoutMs }),
    device: async (name, createAs) => {
      const device = await Device.open({ home, name: name ?? deviceName, model, now, seed, lockTimeoutMs, createAs });
      device.services = remoteEnv(home, cssmUrl, () => ({ home, now: clock, rng: rng('cssm') }), env);
      // "Created on first use" is what scripts rely on; a typo in --device should not pass
      // unnoticed, so a device made beside others is named on stderr (never on stdout).
      if (!createAs) {
        device.onCreate = (others) => {
          if (others > 0) io.stderr.write(`exsh: created device '${device.name}' in ${home}, which did not have it (exsh devices list shows them all).\n`);
        };
      }
      return device;
    },
    clock,
    rng,
  };
}
