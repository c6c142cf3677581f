import envPaths from 'env-paths';
import { resolve } from 'node:path';
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

/** conf's default location (env-paths' config dir for "exsh"), unless --home / EXSH_HOME. */
export function defaultHome(): string {
  return envPaths('exsh', { suffix: '' }).config;
}

export function parseNow(text: string): Date {
  const t = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw usageError('cli.badNow', `Invalid --now '${text}': expected an ISO 8601 time such as 2026-03-01T10:15:00Z.`);
  return new Date(t);
}

export function context(opts: GlobalOptions, io: Io): CliContext {
  const home = resolve(opts.home && opts.home !== '' ? opts.home : defaultHome());
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
