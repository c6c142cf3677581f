import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseIsoTime } from './clock.js';
import { Device } from './device/device.js';
import { usageError } from './errors.js';
import { seededRng, systemRng, type Rng } from './random.js';
import type { OutputMode } from './xapi/parser.js';

/** Everything the outside world gives exsh: streams and environment (injected, §5.5). */
export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

export interface GlobalOptions {
  home?: string;
  device: string;
  output: OutputMode;
  now?: string;
  seed?: string;
  color: boolean;
  command: string[];
  failFast?: boolean;
}

/** The normalised global options plus factories for what commands need. */
export interface CliContext {
  io: Io;
  home: string;
  deviceName: string;
  output: OutputMode;
  now?: Date;
  seed?: string;
  color: boolean;
  commands: string[];
  failFast: boolean;
  lockTimeoutMs?: number;
  exitCode: number;
  device(name?: string): Device;
  /** The simulated clock for tools without a device (cssm): --now, else real time. */
  clock(): Date;
  rng(label: string): Rng;
}

/**
 * The OS configuration directory for "exsh", as env-paths (conf's locator) computes it:
 * $XDG_CONFIG_HOME/exsh or ~/.config/exsh on Linux, ~/Library/Preferences/exsh on macOS,
 * %APPDATA%/exsh/Config on Windows. Inlined: env-paths imports `node:process`, whose ESM
 * facade opens stdin (~25 ms) on every start.
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

export function context(opts: GlobalOptions, io: Io): CliContext {
  const home = resolve(opts.home && opts.home !== '' ? opts.home : defaultHome(io.env));
  const now = opts.now ? parseNow(opts.now) : undefined;
  const color = opts.color !== false && !('NO_COLOR' in io.env && io.env.NO_COLOR !== undefined) && io.stdout.isTTY === true;
  const lock = io.env.EXSH_LOCK_TIMEOUT;
  const lockTimeoutMs = lock !== undefined && /^\d+$/.test(lock) ? Number(lock) : undefined;
  const seed = opts.seed;
  return {
    io,
    home,
    deviceName: opts.device,
    output: opts.output,
    now,
    seed,
    color,
    commands: opts.command ?? [],
    failFast: opts.failFast === true,
    lockTimeoutMs,
    exitCode: 0,
    device(name?: string) {
      return new Device({ home, name: name ?? opts.device, now, seed, lockTimeoutMs });
    },
    clock() {
      return now ?? new Date();
    },
    rng(label: string) {
      return seed === undefined ? systemRng : seededRng(seed, label);
    },
  };
}
