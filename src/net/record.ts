import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, privateFileProblem, readFileCapped, writePrivateFile } from '../files.js';

/**
 * The record a running `exsh cssm serve` keeps in its home (§9.7), `<home>/cssm/serve.json`
 * (0600): the device's Direct transport goes to it when no `--cssm-url` is given. A
 * record counts only while its process is alive; one left by a process that died
 * (kill -9, a crash) is stale, ignored and removed by the next reader.
 */

export interface ServeRecord {
  pid: number;
  /** Random, per server: a server removes the record on close only when it is still its own. */
  instance: string;
  host: string;
  port: number;
  base: string;
  cloud: string;
  onPrem: string;
  rootCaPath: string;
  /** ISO 8601, real time. */
  startedAt: string;
}

const MAX_RECORD_BYTES = 64 * 1024;

export function cssmDir(home: string): string {
  return join(home, 'cssm');
}

export function serveRecordPath(home: string): string {
  return join(cssmDir(home), 'serve.json');
}

export function writeServeRecord(home: string, record: ServeRecord): void {
  ensurePrivateDir(cssmDir(home), 'The CSSM directory');
  writePrivateFile(serveRecordPath(home), `${JSON.stringify(record, null, 2)}\n`);
}

/** The record as stored, whether or not its process lives; undefined when missing or unusable. */
export function readServeRecord(home: string): ServeRecord | undefined {
  const file = serveRecordPath(home);
  if (privateFileProblem(file) !== undefined) return undefined;
  let parsed: unknown;
  try {
    const bytes = readFileCapped(file, MAX_RECORD_BYTES, true);
    if (bytes === undefined) return undefined;
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  return isServeRecord(parsed) ? parsed : undefined;
}

/**
 * The record of a live server of this home, or undefined. A record whose process is gone
 * is removed (best effort). A pid reused by an unrelated process of the same user would
 * pass for alive; the transport then finds nothing listening and fails with a timeout.
 */
export function liveServeRecord(home: string): ServeRecord | undefined {
  const record = readServeRecord(home);
  if (record === undefined) return undefined;
  if (processAlive(record.pid)) return record;
  removeServeRecord(home, record.instance);
  return undefined;
}

/** Removes the record if it is still the one `instance` wrote (another server may have replaced it). */
export function removeServeRecord(home: string, instance: string): void {
  const current = readServeRecord(home);
  if (current?.instance !== instance) return;
  try {
    unlinkSync(serveRecordPath(home));
  } catch {
    // Gone already, or not ours to remove: either way there is nothing to do.
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: gone. EPERM: a process of another user has the pid, so not a server of this home.
    return false;
  }
}

function isServeRecord(v: unknown): v is ServeRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(r.pid) &&
    (r.pid as number) > 0 &&
    typeof r.instance === 'string' &&
    typeof r.host === 'string' &&
    Number.isSafeInteger(r.port) &&
    typeof r.base === 'string' &&
    typeof r.cloud === 'string' &&
    typeof r.onPrem === 'string' &&
    typeof r.rootCaPath === 'string' &&
    typeof r.startedAt === 'string'
  );
}
