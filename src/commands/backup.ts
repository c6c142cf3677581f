import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatUdi } from '../codes/udi.js';
import {
  createBackup,
  parseBackup,
  restoreBackup,
  restoredOverUnreadable,
  serializeBackup,
  type BackupDocument,
  type RestoreOutcome,
} from '../device/backup.js';
import { deviceCodec, type Device } from '../device/device.js';
import { ExshError, isExshError, StoreError } from '../errors.js';
import { createPrivateFile, readFileCapped, writePrivateFile } from '../files.js';
import { DocumentProblem } from '../store/documents.js';
import type { CliContext } from './context.js';

/**
 * `exsh backup create <file>` / `exsh backup restore <file>` (§8.4). Files hold the
 * whole device, proxy password included, so they are written 0600 and atomically.
 */

/** A backup of the largest device exsh can hold fits many times over; /dev/zero does not. */
const MAX_BACKUP_BYTES = 16 * 1024 * 1024;

export async function backupCreate(ctx: CliContext, file: string, opts: { force?: boolean }): Promise<void> {
  const path = resolve(file);
  if (!opts.force && statSync(path, { throwIfNoEntry: false })) {
    throw new ExshError('backup.exists', `${file} already exists; give --force to replace it.`);
  }
  const device = await ctx.device();
  const doc = await device.view((d) => createBackup(d.state, device.name, d.now()));
  try {
    writePrivateFile(path, serializeBackup(doc));
  } catch (e) {
    throw new ExshError('backup.unwritable', `Cannot write ${file}: ${(e as Error).message}.`);
  }
  ctx.io.stdout.write(`Backup of device '${device.name}' (UDI ${formatUdi(doc.payload.state.identity)}) written to ${file}.\n`);
}

function isCorruptStore(e: unknown): e is StoreError {
  return e instanceof StoreError && e.code === 'store.corrupt';
}

/** Keeps a corrupt document beside the store, 0600, under a name no file has yet. */
function keepAside(home: string, name: string, text: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  for (let i = 0; ; i++) {
    const file = join(home, `${name}.corrupt-${stamp}${i === 0 ? '' : `-${i}`}.json`);
    if (createPrivateFile(file)) {
      writePrivateFile(file, text);
      return file;
    }
  }
}

/** Why the codec refuses a stored text (a corrupt one; not one of a newer schema), or undefined. */
function documentProblem(codec: ReturnType<typeof deviceCodec>, text: string): string | undefined {
  try {
    codec.decode(text);
    return undefined;
  } catch (e) {
    if (e instanceof DocumentProblem && e.newerSchema === undefined) return e.message;
    if (e instanceof DocumentProblem) return undefined;
    throw e;
  }
}

interface Replaced {
  outcome: RestoreOutcome;
  problem: string;
  aside: string;
}

/**
 * A restore onto a device whose stored document is corrupt (store.corrupt on its row).
 * The backup is the only thing known about that device, so it is restored as the same
 * system, identity and reservation included, replacing the row in one transaction; the
 * corrupt text is kept aside first, so nothing is lost. Refused when another device of
 * the home already is the backup's system: a restore never makes a second copy of a
 * system (and of its reservation).
 */
async function restoreOverCorrupt(ctx: CliContext, device: Device, doc: BackupDocument, original: StoreError): Promise<Replaced> {
  const store = device.store;
  for (const name of await store.names()) {
    if (name === device.name) continue;
    let udi: string | undefined;
    try {
      const other = await store.read(name);
      udi = other ? formatUdi(other.doc.identity) : undefined;
    } catch (e) {
      if (!isExshError(e)) throw e;
      // A device that cannot be read cannot be compared; it is left as it is.
    }
    if (udi === doc.payload.udi) {
      throw new ExshError(
        'backup.sameSystemExists',
        `The backup is of the system (UDI ${udi}) that device '${name}' already is; it was not restored onto device '${device.name}', whose stored document is corrupt and was left untouched.`,
      );
    }
  }
  const codec = deviceCodec(ctx.model);
  return store.transaction((tx) => {
    let readable = false;
    try {
      tx.get(device.name);
      readable = true;
    } catch (e) {
      if (!isCorruptStore(e)) throw e;
    }
    // Readable again (or gone) since: the ordinary restore applies; the command is run again.
    if (readable) throw original;
    // Undefined when there is no row: the corrupt document is a legacy JSON file, never replaced.
    const text = tx.raw(device.name);
    if (text === undefined) throw original;
    const problem = documentProblem(codec, text);
    if (problem === undefined) throw original;
    const { state, outcome } = restoredOverUnreadable(doc, device.nowFor(doc.payload.state));
    const aside = keepAside(store.home, device.name, text, ctx.clock());
    tx.put(device.name, state);
    return { outcome, problem, aside };
  });
}

export async function backupRestore(ctx: CliContext, file: string): Promise<void> {
  let text: string;
  try {
    const bytes = readFileCapped(resolve(file), MAX_BACKUP_BYTES);
    if (bytes === undefined)
      throw new ExshError('backup.tooLarge', `${file} is larger than ${MAX_BACKUP_BYTES} bytes: it is not an exsh backup; nothing was restored.`);
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof ExshError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ExshError('backup.unreadable', `Cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  const doc = parseBackup(text, file, ctx.model);
  const device = await ctx.device();
  let o: RestoreOutcome;
  const out = ctx.io.stdout;
  try {
    o = (await device.change((d) => restoreBackup(d, ctx.model, doc))).result;
  } catch (e) {
    if (!isCorruptStore(e)) throw e;
    const replaced = await restoreOverCorrupt(ctx, device, doc, e);
    o = replaced.outcome;
    out.write(
      `The stored document of device '${device.name}' was corrupt (${replaced.problem}); it was replaced by the backup (the corrupt document is kept in ${replaced.aside}).\n`,
    );
  }
  if (o.sameSystem) {
    out.write(
      `Restored ${file} onto device '${device.name}': the same system (UDI ${o.targetUdi}); smart licensing registration and reservation were restored.\n`,
    );
  } else {
    out.write(
      `Restored ${file} (made on UDI ${o.backupUdi}) onto device '${device.name}', a different system (UDI ${o.targetUdi}); this system kept its identity.\n`,
    );
    if (o.smartLicensing && o.reservationDropped) {
      out.write(
        'Smart Licensing is on, but the license reservation was not restored: a reservation belongs to the system it was made for, so make the reservation again on this system (xCommand License Smart Reservation Request).\n',
      );
    } else if (o.smartLicensing) {
      out.write(
        `Smart Licensing is on, but registration and reservation were not restored${o.smartLicensingDropped ? ' (the backup had some)' : ''}: register this product again.\n`,
      );
    }
  }
}
