import { usageError } from '../errors.js';
import { printable } from '../text.js';
import type { CliContext } from './context.js';

/**
 * `exsh cssm serve [--host 127.0.0.1] [--port 0] [--json]` (§9.7): the home's CSSM over
 * HTTPS until SIGINT or SIGTERM, which close it (connections ended, the home's record
 * removed) and end the command with status 0. The API client's id and secret are printed
 * here and nowhere else: the home is the operator's own.
 */

export interface ServeOptions {
  host?: string;
  port?: string;
  json?: boolean;
}

export function parsePort(text: string | undefined): number {
  if (text === undefined) return 0;
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) > 65535) {
    throw usageError('serve.badPort', `Invalid --port '${printable(text)}': expected a port number from 0 to 65535 (0 picks a free one).`);
  }
  return Number(t);
}

export async function cssmServe(ctx: CliContext, o: ServeOptions): Promise<void> {
  const port = parsePort(o.port);
  const host = o.host === undefined ? '127.0.0.1' : o.host.trim();
  if (host === '') throw usageError('serve.badHost', 'The --host address is empty: give an address to listen on, such as 127.0.0.1.');
  const { startCssmServer } = await import('../net/serve.js');
  const server = await startCssmServer({
    home: ctx.home,
    host,
    port,
    env: { home: ctx.home, now: () => ctx.clock(), rng: ctx.rng('cssm') },
    log: (line) => ctx.io.stderr.write(`${printable(line)}\n`),
  });

  const stopped = new Promise<void>((resolve) => {
    const unsubscribe: Array<() => void> = [];
    const stop = (): void => {
      for (const u of unsubscribe.splice(0)) u();
      server.close().then(resolve, resolve);
    };
    unsubscribe.push(ctx.io.interrupts ? ctx.io.interrupts(stop) : onSignal('SIGINT', stop));
    unsubscribe.push(onSignal('SIGTERM', stop));
  });

  const { urls, client } = server;
  if (o.json === true || ctx.output === 'json') {
    // One line, so a script can read the first line and parse it while the server stays up.
    const doc = {
      pid: process.pid,
      host: server.host,
      port: server.port,
      urls,
      rootCaPath: server.rootCaPath,
      client: { id: client.id, secret: client.secret },
    };
    ctx.io.stdout.write(`${JSON.stringify(doc).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`);
  } else {
    const rows: Array<[string, string]> = [
      ['Cloud (Direct)', urls.cloud],
      ['On-Prem', urls.onPrem],
      ['Smart Account API', urls.api],
      ['On-Prem API', urls.onPremApi],
      ['OAuth token', urls.oauth],
      ['On-Prem OAuth token', urls.onPremOauth],
      ['Root CA', server.rootCaPath],
      ['Client ID', client.id],
      ['Client secret', client.secret],
    ];
    const width = Math.max(...rows.map(([k]) => k.length)) + 1;
    const text = [`CSSM serving on ${urls.base} (pid ${process.pid})`, ...rows.map(([k, v]) => `  ${`${k}:`.padEnd(width)} ${v}`), 'Press Ctrl+C to stop.'];
    ctx.io.stdout.write(`${text.map(printable).join('\n')}\n`);
  }
  await stopped;
}

function onSignal(signal: 'SIGINT' | 'SIGTERM', handler: () => void): () => void {
  process.on(signal, handler);
  return () => process.off(signal, handler);
}
