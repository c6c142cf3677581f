import { isoSeconds } from '../clock.js';
import { formatTable } from '../table.js';
import { readFileSync } from 'node:fs';
import type { CliContext } from '../context.js';
import { addTrustedKey, readAuthorityKey, removeTrustedKey, trustStore, type TrustedKey } from '../device/trust.js';
import { ExshError } from '../errors.js';

/** The `exsh trust` subcommands: plain functions of the CLI context (tests call them directly). */

function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

export function trustAdd(ctx: CliContext, file: string, opts: { name?: string }): TrustedKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new ExshError('trust.unreadable', `Cannot read ${file}: ${why}.`, 2);
  }
  const key = readAuthorityKey(text, file);
  const device = ctx.device();
  const added = device.mutate((d) => addTrustedKey(d.state, key, opts.name, d.now()));
  if (key.fromPrivateKey) {
    line(ctx.io.stderr, `exsh: note: ${file} holds a private key; only its public key was added to the trust store.`);
  }
  line(ctx.io.stdout, `Trusted ${added.name} (fingerprint ${added.fingerprint}) on device ${device.name}.`);
  return added;
}

export function trustList(ctx: CliContext, opts: { json?: boolean }): void {
  const keys = ctx.device().view((d) => trustStore(d.state).map((k) => ({ ...k })));
  if (opts.json) {
    line(ctx.io.stdout, JSON.stringify(keys, null, 2));
    return;
  }
  if (keys.length === 0) {
    line(ctx.io.stdout, 'No authority is trusted: every authorization code will fail verification (see exsh trust add).');
    return;
  }
  const rows = keys.map((k) => [k.name, k.fingerprint, k.builtin ? 'built-in demo authority' : 'added', isoSeconds(k.addedAt)]);
  line(ctx.io.stdout, formatTable(['Name', 'Fingerprint', 'Source', 'Added'], rows));
}

export function trustRemove(ctx: CliContext, ref: string): TrustedKey {
  const device = ctx.device();
  const { gone, left } = device.mutate((d) => {
    const removed = removeTrustedKey(d.state, ref);
    return { gone: removed, left: trustStore(d.state).length };
  });
  line(ctx.io.stdout, `Removed ${gone.name} (fingerprint ${gone.fingerprint}) from the trust store of device ${device.name}.`);
  if (left === 0) {
    line(ctx.io.stderr, 'exsh: warning: no authority is trusted now; every authorization code will fail verification.');
  }
  return gone;
}
