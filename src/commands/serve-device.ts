import { validateDeviceName } from '../device/device.js';
import { usageError } from '../errors.js';
import { formatTable } from '../table.js';
import { printable } from '../text.js';
import type { CliContext } from './context.js';

/**
 * `exsh serve --ssh <port> [--https <port>] [--host 127.0.0.1] [--device <name>…]
 * [--password-file <file>] [--json]` (§11): the devices of this home over SSH, one port
 * each (`port`, `port+1`, …; 0 picks a free one for each), and the REST API over HTTPS,
 * until SIGINT or SIGTERM, which end every session cleanly and exit 0.
 */

export interface ServeDevicesOptions {
  ssh?: string;
  https?: string;
  host?: string;
  /** Devices to serve (default: the global --device). */
  devices?: string[];
  passwordFile?: string;
  json?: boolean;
}

interface Stoppable {
  close(): Promise<void>;
}

interface RestServer extends Stoppable {
  host: string;
  port: number;
  url: string;
}

function parsePort(flag: string, text: string): number {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) > 65535) {
    throw usageError('serve.badPort', `Invalid ${flag} '${printable(text)}': expected a port number from 0 to 65535 (0 picks a free one).`);
  }
  return Number(t);
}

/** The device list: given names in order, each once; the global --device when none. */
function deviceNames(ctx: CliContext, given: string[] | undefined): string[] {
  const names = [...new Set(given !== undefined && given.length > 0 ? given : [ctx.deviceName])];
  for (const n of names) validateDeviceName(n);
  return names;
}

export async function serveDevices(ctx: CliContext, o: ServeDevicesOptions): Promise<void> {
  if (o.ssh === undefined && o.https === undefined) {
    throw usageError('serve.nothingToServe', 'Nothing to serve: give --ssh <port> (SSH, one port per device), --https <port> (the REST API), or both.');
  }
  const sshBase = o.ssh === undefined ? undefined : parsePort('--ssh', o.ssh);
  const httpsPort = o.https === undefined ? undefined : parsePort('--https', o.https);
  const host = o.host === undefined ? '127.0.0.1' : o.host.trim();
  if (host === '') throw usageError('serve.badHost', 'The --host address is empty: give an address to listen on, such as 127.0.0.1.');
  const devices = deviceNames(ctx, o.devices);
  if (sshBase !== undefined && sshBase > 0 && sshBase + devices.length - 1 > 65535) {
    throw usageError('serve.badPort', `--ssh ${sshBase} leaves no room for ${devices.length} devices (one port each, up to 65535).`);
  }

  const [{ serverPassword }, { openSettings }, { loadHostKey }, { startSshServer }] = await Promise.all([
    import('../serve/auth.js'),
    import('../serve/settings.js'),
    import('../serve/host-key.js'),
    import('../serve/ssh.js'),
  ]);
  const password = serverPassword(o.passwordFile, ctx.io.env);
  const settings = await openSettings(ctx.home);
  const { users, hostKeyPath } = settings.read();
  const hostKey = loadHostKey(hostKeyPath);
  // Each device exists before the first client arrives (created on first use, as everywhere).
  for (const name of devices) await (await ctx.device(name)).read();

  const log = (line: string) => ctx.io.stderr.write(`${printable(line)}\n`);
  const started: Stoppable[] = [];
  const ssh: Array<{ device: string; host: string; port: number }> = [];
  let rest: RestServer | undefined;
  try {
    if (sshBase !== undefined) {
      for (const [i, device] of devices.entries()) {
        const server = await startSshServer({
          host,
          port: sshBase === 0 ? 0 : sshBase + i,
          hostKey: hostKey.privateKey,
          password: password.password,
          users,
          openDevice: () => ctx.device(device),
          log,
        });
        started.push(server);
        ssh.push({ device, host: server.host, port: server.port });
      }
    }
    if (httpsPort !== undefined) {
      rest = await startRest(ctx, host, httpsPort, devices, password.password);
      started.push(rest);
    }
  } catch (e) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw e;
  }
  settings.recordStart({ host, ssh: Object.fromEntries(ssh.map((s) => [s.device, s.port])), https: rest?.port ?? null });

  const stopped = new Promise<void>((resolve) => {
    const unsubscribe: Array<() => void> = [];
    const stop = (): void => {
      for (const u of unsubscribe.splice(0)) u();
      Promise.allSettled(started.map((s) => s.close())).then(() => resolve());
    };
    unsubscribe.push(ctx.io.interrupts ? ctx.io.interrupts(stop) : onSignal('SIGINT', stop));
    unsubscribe.push(onSignal('SIGTERM', stop));
  });

  const https = rest ? { host: rest.host, port: rest.port, url: rest.url } : null;
  if (o.json === true || ctx.output === 'json') {
    // One line, so that a script can read it and parse it while the server stays up.
    const doc = {
      ssh,
      https,
      username: 'admin',
      ...(password.generated ? { password: password.password } : {}),
      hostKeyFingerprint: hostKey.fingerprint,
    };
    ctx.io.stdout.write(`${JSON.stringify(doc).replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`);
  } else {
    const lines: string[] = [];
    if (ssh.length > 0) {
      lines.push(`exsh serve (pid ${process.pid}): SSH`);
      lines.push(
        ...formatTable(
          ['Device', 'Host', 'Port', 'User'],
          ssh.map((s) => [s.device, s.host, s.port, 'admin']),
        ).split('\n'),
      );
      lines.push(
        `User admin gets the xAPI shell${users.includes('root') ? ', root the root shell (tsh, factory-reset, exit)' : ''}; both take the same password.`,
      );
      lines.push(`Host key: ${hostKey.fingerprint}${hostKey.created ? ' (new)' : ''}`);
    }
    if (https) lines.push(`HTTPS (REST API, Basic auth as admin): ${https.url}`);
    if (password.generated)
      lines.push(`Password: ${password.password}  (generated for this run and shown only now; set EXSH_SSH_PASSWORD or --password-file to choose one)`);
    lines.push('Press Ctrl+C to stop.');
    ctx.io.stdout.write(`${lines.map(printable).join('\n')}\n`);
  }
  await stopped;
}

/** The REST front end (src/serve/rest.ts), loaded only with --https. */
async function startRest(ctx: CliContext, host: string, port: number, devices: string[], password: string): Promise<RestServer> {
  const { startRestServer } = await import('../serve/rest.js');
  return startRestServer({ ctx, host, port, devices, password });
}

function onSignal(signal: 'SIGINT' | 'SIGTERM', handler: () => void): () => void {
  process.on(signal, handler);
  return () => process.off(signal, handler);
}
