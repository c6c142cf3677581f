import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { registerSubcommands } from '../cli.js';
import type { CliContext } from '../context.js';
import { writePrivateFile } from '../device/store.js';
import { ExshError } from '../errors.js';

/**
 * `exsh backup create <file>` / `exsh backup restore <file>` (§8.4). Files hold the
 * whole device, proxy password included, so they are written 0600 and atomically.
 */

export async function backupCreate(ctx: CliContext, file: string, opts: { force?: boolean }): Promise<void> {
  const { commandTree } = await import('../device/index.js');
  const { createBackup, serializeBackup } = await import('../device/backup.js');
  const { formatUdi } = await import('../codes/udi.js');
  commandTree();
  const path = resolve(file);
  if (!opts.force && statSync(path, { throwIfNoEntry: false })) {
    throw new ExshError('backup.exists', `${file} already exists; give --force to replace it.`);
  }
  const device = ctx.device();
  const doc = device.view((d) => createBackup(d.state, device.name, d.now()));
  try {
    writePrivateFile(path, serializeBackup(doc));
  } catch (e) {
    throw new ExshError('backup.unwritable', `Cannot write ${file}: ${(e as Error).message}.`);
  }
  ctx.io.stdout.write(`Backup of device '${device.name}' (UDI ${formatUdi(doc.payload.state.identity)}) written to ${file}.\n`);
}

export async function backupRestore(ctx: CliContext, file: string): Promise<void> {
  const { commandTree } = await import('../device/index.js');
  const { parseBackup, restoreBackup } = await import('../device/backup.js');
  commandTree();
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ExshError('backup.unreadable', `Cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
  }
  const doc = parseBackup(text, file);
  const device = ctx.device();
  const o = device.mutate((d) => restoreBackup(d, doc));
  const out = ctx.io.stdout;
  if (o.sameSystem) {
    out.write(`Restored ${file} onto device '${device.name}': the same system (UDI ${o.targetUdi}); smart licensing registration and reservation were restored.\n`);
  } else {
    out.write(`Restored ${file} (made on UDI ${o.backupUdi}) onto device '${device.name}', a different system (UDI ${o.targetUdi}); this system kept its identity.\n`);
    if (o.smartLicensing) {
      out.write(
        `Smart Licensing is on, but registration and reservation were not restored${o.smartLicensingDropped ? ' (the backup had some)' : ''}: register this product again.\n`,
      );
    }
  }
}

registerSubcommands((program, getCtx) => {
  const backup = program.command('backup').description('back up a device to a file, or restore one');
  backup
    .command('create')
    .description('write the device (configuration, licensing, identity) to a file, mode 0600')
    .argument('<file>', 'the backup file')
    .option('--force', 'replace the file if it exists')
    .action(async (file: string, opts: { force?: boolean }) => backupCreate(getCtx(), file, opts));
  backup
    .command('restore')
    .description('restore a backup: the same system gets its registration back; a different one must register again')
    .argument('<file>', 'the backup file')
    .action(async (file: string) => backupRestore(getCtx(), file));
});
