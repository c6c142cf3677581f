import type { AddressInfo } from 'node:net';
import type { AuthContext, Connection, ServerChannel, Session as SshSession } from 'ssh2';
import type { Device } from '../device/device.js';
import { ExshError, exitStatusOf, formatDiagnostic } from '../errors.js';
import { REFUSAL_DELAY_MS, passwordMatches } from './auth.js';
import { SshChannelIo } from './channel.js';
import { isTshCommand, runRootCommand, runRootShell } from './root-shell.js';
import type { SshUser } from './settings.js';
import { ssh2 } from './ssh2.js';
import { runOneLine, runTshSession } from './xapi-shell.js';

/**
 * `exsh serve --ssh` (§11): one SSH server per device, pure JavaScript (ssh2), that real
 * automation clients drive as they drive an Expressway (notes/ssh-clients.md §H):
 *
 * - password and keyboard-interactive auth (one `Password: ` prompt: jsxapi can use
 *   nothing else), the same password for `admin` and `root`; a refusal comes after a
 *   constant delay, and too many end the connection;
 * - `admin`: the tsh xAPI shell on `shell`, or on `exec` of tsh/tshell/…; any other
 *   exec runs that one line, as `exsh -c`; `root`: the root shell;
 * - any number of session channels per connection, each with its own Session and
 *   Device object (the store serialises their writes); every channel ends with
 *   `exit-status` (never `exit-signal`), EOF and close.
 */

const METHODS: AuthContext['method'][] = ['password', 'keyboard-interactive'];
/** OpenSSH's MaxAuthTries: after this many refusals the connection is closed. */
const MAX_AUTH_FAILURES = 6;
/** OpenSSH's LoginGraceTime: a connection that has not logged in by then is closed. */
const LOGIN_GRACE_MS = 120_000;
/** How long stopping waits for sessions to finish the request they are running. */
const STOP_WAIT_MS = 10_000;

export interface SshServerOptions {
  host: string;
  port: number;
  hostKey: Buffer;
  password: string;
  users: readonly SshUser[];
  /** The device this port serves: a fresh Device object for each channel. */
  openDevice: () => Promise<Device>;
  /** Where refusals and unexpected failures are described (never to the client). */
  log?: (line: string) => void;
  refusalDelayMs?: number;
}

export interface SshServer {
  host: string;
  port: number;
  /** Ends every session (each channel gets its exit-status and is closed), then stops listening. */
  close(): Promise<void>;
}

interface Running {
  io: SshChannelIo;
  done: Promise<void>;
}

export async function startSshServer(opts: SshServerOptions): Promise<SshServer> {
  const { Server } = ssh2();
  const log = opts.log ?? (() => undefined);
  const delay = opts.refusalDelayMs ?? REFUSAL_DELAY_MS;
  const running = new Set<Running>();
  const connections = new Set<Connection>();
  let closing = false;

  const runChannel = (channel: ServerChannel, pty: boolean, work: (io: SshChannelIo) => Promise<number>): void => {
    const io = new SshChannelIo(channel, pty);
    const entry: Running = {
      io,
      done: (async () => {
        let status: number;
        try {
          status = await work(io);
        } catch (e) {
          // The store could not be opened, or a bug: the client gets exsh's one-line
          // diagnostic and the status the command line would give; the log gets the rest.
          if (!(e instanceof ExshError)) log(`exsh serve: a session failed: ${(e as Error).stack ?? String(e)}`);
          const err = e instanceof ExshError ? e : new ExshError('exsh.internal', `internal error: ${(e as Error).message}`);
          await io.writeError(`${formatDiagnostic(err)}\n`);
          status = exitStatusOf(err);
        }
        if (!io.gone && channel.writable) {
          channel.exit(status);
          channel.end();
        }
      })().finally(() => running.delete(entry)),
    };
    running.add(entry);
    if (closing) io.finish(true);
  };

  const onSession = (session: SshSession, user: SshUser): void => {
    let pty = false;
    const ok = (accept: (() => void) | undefined) => accept?.();
    const no = (_accept: unknown, reject: (() => void) | undefined) => reject?.();
    session.on('pty', (accept: (() => void) | undefined) => {
      pty = true;
      ok(accept);
    });
    // The terminal's size means nothing without line editing; the variables nothing to the shells.
    session.on('window-change', ok);
    session.on('env', ok);
    session.on('signal', ok);
    session.on('auth-agent', no);
    session.on('x11', no);
    session.on('subsystem', no);
    session.on('sftp', no);
    session.on('shell', (accept: () => ServerChannel) => {
      const channel = accept();
      if (user === 'root') runChannel(channel, pty, (io) => runRootShell(io, opts.openDevice));
      else runChannel(channel, pty, async (io) => runTshSession(io, await opts.openDevice()));
    });
    session.on('exec', (accept: () => ServerChannel, _reject: unknown, info: { command: string }) => {
      const channel = accept();
      const command = info.command;
      if (isTshCommand(command)) runChannel(channel, pty, async (io) => runTshSession(io, await opts.openDevice()));
      else if (user === 'root') runChannel(channel, pty, async (io) => (await runRootCommand(io, command, opts.openDevice)).status);
      else runChannel(channel, pty, async (io) => runOneLine(io, await opts.openDevice(), command));
    });
  };

  const onConnection = (client: Connection, info: { ip: string; port: number }): void => {
    connections.add(client);
    // Every reply is one small write the client waits for: Nagle's algorithm would hold
    // it until the delayed ACK of the previous one (40 ms a round trip on Linux).
    (client as Connection & { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    let user: SshUser | undefined;
    let failures = 0;
    const grace = setTimeout(() => {
      if (user === undefined) client.end();
    }, LOGIN_GRACE_MS);
    grace.unref();
    const refuse = (ctx: AuthContext, since: number, why: string): void => {
      failures++;
      log(`exsh serve: ${info.ip}:${info.port} refused as '${ctx.username}' (${why})`);
      setTimeout(
        () => {
          try {
            ctx.reject(METHODS);
            if (failures >= MAX_AUTH_FAILURES) client.end();
          } catch {
            // The client left while it waited.
          }
        },
        Math.max(0, since + delay - Date.now()),
      );
    };
    const check = (ctx: AuthContext, given: string | undefined, since: number): void => {
      // The password is compared for an unknown user too: a refusal takes the same time whatever is wrong.
      const matches = passwordMatches(opts.password, given);
      const known = (opts.users as readonly string[]).includes(ctx.username);
      if (matches && known) {
        user = ctx.username as SshUser;
        ctx.accept();
      } else {
        refuse(ctx, since, known ? 'wrong password' : 'no such user');
      }
    };
    client.on('authentication', (ctx: AuthContext) => {
      if (closing) return ctx.reject([]);
      switch (ctx.method) {
        case 'password':
          return check(ctx, ctx.password, Date.now());
        case 'keyboard-interactive':
          // One prompt, echo off, as OpenSSH's PAM asks; jsxapi answers it with the password.
          return ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers: string[]) => check(ctx, answers[0], Date.now()));
        default:
          // `none` (OpenSSH asks what is allowed), public keys: the methods there are.
          return ctx.reject(METHODS);
      }
    });
    client.on('ready', () => {
      clearTimeout(grace);
      client.on('session', (accept: () => SshSession, reject: () => void) => {
        if (closing || user === undefined) return reject();
        onSession(accept(), user);
      });
    });
    // Forwarding is not offered: ssh2 refuses channel and global requests nobody listens for.
    client.on('error', (e: Error) => {
      // A client that drops the connection mid-handshake is routine; anything else is worth a line.
      if (!/ECONNRESET|EPIPE|read ECONNRESET|Handshake failed|Connection lost/i.test(e.message)) log(`exsh serve: ${info.ip}:${info.port}: ${e.message}`);
    });
    client.on('close', () => {
      clearTimeout(grace);
      connections.delete(client);
    });
  };

  const server = new Server({ hostKeys: [opts.hostKey] }, onConnection);
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => reject(listenError(opts.host, opts.port, e));
    server.once('error', failed);
    server.listen(opts.port, opts.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', (e: Error) => log(`exsh serve: ${e.message}`));
  const address = server.address() as AddressInfo;

  return {
    host: opts.host,
    port: address.port,
    close: async () => {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Each session sees its input end, finishes the request it is running (a change
      // commits or does not: never half), and its channel gets exit-status and close.
      for (const r of running) r.io.finish(true);
      await Promise.race([Promise.allSettled([...running].map((r) => r.done)), sleep(STOP_WAIT_MS)]);
      for (const c of connections) c.end();
      await Promise.race([stopped, sleep(STOP_WAIT_MS)]);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function listenError(host: string, port: number, e: NodeJS.ErrnoException): ExshError {
  const where = `${host}:${port}`;
  if (e.code === 'EADDRINUSE')
    return new ExshError('serve.addressInUse', `Cannot listen on ${where}: the port is in use (choose another with --ssh, or 0 for any free port).`);
  if (e.code === 'EACCES') return new ExshError('serve.noPermission', `Cannot listen on ${where}: permission denied (ports below 1024 need privileges).`);
  if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') return new ExshError('serve.badHost', `Cannot listen on ${where}: no such local address.`);
  return new ExshError('serve.listen', `Cannot listen on ${where}: ${e.message}.`);
}
