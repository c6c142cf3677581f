import { isoSeconds } from '../clock.js';
import { addTrustedKey, readAuthorityKey, removeTrustedKey } from '../device/trust.js';
import { trustStore, type TrustedKey } from '../device/trust-state.js';
import { usageError } from '../errors.js';
import { readFileCapped } from '../files.js';
import { formatTable } from '../table.js';
import type { CliContext } from './context.js';

/** `exsh trust add | list | remove` (§6.7): plain functions of the CLI context. */

const MAX_PEM_BYTES = 1024 * 1024;

function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

export async function trustAdd(ctx: CliContext, file: string, opts: { name?: string }): Promise<TrustedKey> {
  let text: string;
  try {
    const bytes = readFileCapped(file, MAX_PEM_BYTES);
    if (bytes === undefined) throw new Error(`it is larger than ${MAX_PEM_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw usageError('trust.unreadable', `Cannot read ${file}: ${why}.`);
  }
  const key = readAuthorityKey(text, file);
  const device = await ctx.device();
  const { result: added } = await device.change((d) => addTrustedKey(d, key, opts.name));
  if (key.fromPrivateKey) {
    line(ctx.io.stderr, `exsh: note: ${file} holds a private key; only its public key was added to the trust store.`);
  }
  line(ctx.io.stdout, `Trusted ${added.name} (fingerprint ${added.fingerprint}) on device ${device.name}.`);
  return added;
}

export async function trustList(ctx: CliContext, opts: { json?: boolean }): Promise<void> {
  const keys = await (await ctx.device()).view((d) => trustStore(d.state).map((k) => ({ ...k })));
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

export async function trustRemove(ctx: CliContext, ref: string): Promise<TrustedKey> {
  const device = await ctx.device();
  const { result } = await device.change((d) => {
    const gone = removeTrustedKey(d, ref);
    return { gone, left: trustStore(d.state).length };
  });
  line(ctx.io.stdout, `Removed ${result.gone.name} (fingerprint ${result.gone.fingerprint}) from the trust store of device ${device.name}.`);
  if (result.left === 0) {
    line(ctx.io.stderr, 'exsh: warning: no authority is trusted now; every authorization code will fail verification.');
  }
  return result.gone;
}
