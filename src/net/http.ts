import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:net';
import { ExshError } from '../errors.js';

/** What the HTTPS servers (exsh cssm serve, exsh serve --https) share: listening, bind errors, capped bodies. */

/** How a host appears in a URL; a wildcard address is reached through loopback. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  if (host.includes(':') && !host.startsWith('[')) return `[${host}]`;
  return host;
}

/** Where the error messages say the server was: `what` names it ("HTTPS"), `option` the flag that picks a free port. */
export interface ListenLabel {
  what: string;
  option: string;
}

export function listen(server: Server, host: string, port: number, label: ListenLabel): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(bindError(e, host, port, label));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: host.replace(/^\[(.*)\]$/, '$1'), port, exclusive: true });
  });
}

export function bindError(e: NodeJS.ErrnoException, host: string, port: number, label: ListenLabel): ExshError {
  const where = `${label.what ? `${label.what} ` : ''}on ${host} port ${port}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return new ExshError('serve.addressInUse', `Cannot serve ${where}: the port is already in use (${label.option} 0 picks a free one).`);
    case 'EACCES':
    case 'EPERM':
      return new ExshError('serve.cannotBind', `Cannot serve ${where}: permission denied (ports below 1024 need privileges).`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ExshError('serve.cannotBind', `Cannot serve ${where}: no such address on this machine.`);
    default:
      return new ExshError('serve.cannotBind', `Cannot serve ${where}: ${e.message}.`);
  }
}

/** A request body of at most `max` bytes; beyond, declared or streamed, it rejects with `tooLarge()`. */
export function readBody(req: IncomingMessage, max: number, tooLarge: () => unknown): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        over = true;
        req.off('data', onData);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.once('error', reject);
  });
}

/** Reads and drops what is left of a body already answered (up to 4 × `max`, then the connection is cut). */
export function drain(req: IncomingMessage, max: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > 4 * max) req.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/** A path or method echoed in an error: printable ASCII, bounded. */
export function printablePath(path: string): string {
  return path.replace(/[^\x21-\x7e]/g, '?').slice(0, 200);
}
