import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatUdi } from '../codes/udi.js';
import { createBackup, parseBackup, restoreBackup, serializeBackup } from '../device/backup.js';
import { ExshError } from '../errors.js';
import { readFileCapped, writePrivateFile } from '../files.js';
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
  const { result: o } = await device.change((d) => restoreBackup(d, ctx.model, doc));
  const out = ctx.io.stdout;
  if (o.sameSystem) {
    out.write(
      `Restored ${file} onto device '${device.name}': the same system (UDI ${o.targetUdi}); smart licensing registration and reservation were restored.\n`,
    );
  } else {
    out.write(
      `Restored ${file} (made on UDI ${o.backupUdi}) onto device '${device.name}', a different system (UDI ${o.targetUdi}); this system kept its identity.\n`,
    );
    if (o.smartLicensing) {
      out.write(
        `Smart Licensing is on, but registration and reservation were not restored${o.smartLicensingDropped ? ' (the backup had some)' : ''}: register this product again.\n`,
      );
    }
  }
}
