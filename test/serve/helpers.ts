import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientChannel, Client as SshClient } from 'ssh2';
import { NOW, spawnExsh } from '../helpers/exsh.js';

/**
 * Helpers for the `exsh serve --ssh` tests: the server as a black box (the built CLI,
 * started with --json and stopped with a signal), an ssh2 client for byte-exact checks,
 * and the real clients (OpenSSH, python, expect) found on the machine or skipped.
 */

const ssh2 = createRequire(import.meta.url)('ssh2') as typeof import('ssh2');

export const PASSWORD = 'correct horse battery staple';

export interface ServeInfo {
  ssh: Array<{ device: string; host: string; port: number }>;
  https: { host: string; port: number; url: string } | null;
  username: string;
  password?: string;
  hostKeyFingerprint: string;
}

export interface Served {
  home: string;
  info: ServeInfo;
  /** The first (or only) device's SSH port. */
  port: number;
  password: string;
  stderr(): string;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  child: ReturnType<typeof spawnExsh>;
}

const running: Served[] = [];

export interface ServeOptions {
  /** Extra arguments after `serve` (default: --ssh 0). */
  args?: string[];
  /** Global arguments before `serve` (default: --now NOW). */
  global?: string[];
  /** The password (EXSH_SSH_PASSWORD); null: none, so that exsh generates one. */
  password?: string | null;
  env?: Record<string, string | undefined>;
}

/** Starts `exsh --home <home> serve --ssh 0 --json …` and waits for its JSON line. */
export async function serve(home: string, opts: ServeOptions = {}): Promise<Served> {
  const password = opts.password === undefined ? PASSWORD : opts.password;
  const child = spawnExsh(['--home', home, ...(opts.global ?? ['--now', NOW]), 'serve', ...(opts.args ?? ['--ssh', '0']), '--json'], {
    env: { EXSH_SSH_PASSWORD: password ?? undefined, ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const info = await new Promise<ServeInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exsh serve printed no JSON line in 20 s; stderr: ${stderr}`)), 20_000);
    const poll = setInterval(() => {
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearInterval(poll);
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.slice(0, nl)) as ServeInfo);
      } catch (e) {
        reject(new Error(`exsh serve printed ${JSON.stringify(stdout)}: ${(e as Error).message}`));
      }
    }, 10);
    child.then(
      (r) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`exsh serve exited ${r.exitCode} before printing its JSON line; stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`));
      },
      () => undefined,
    );
  });
  const served: Served = {
    home,
    info,
    port: info.ssh[0]?.port ?? 0,
    password: password ?? info.password ?? '',
    stderr: () => stderr,
    child,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      const r = await child;
      return { exitCode: r.exitCode, stdout, stderr };
    },
  };
  running.push(served);
  return served;
}

/** Stops every server a test started (afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    running.splice(0).map(async (s) => {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.child.catch(() => undefined);
      }
    }),
  );
}

// ---------------------------------------------------------------------------
// An ssh2 client, to see exactly what the server sends

export interface ConnectOptions {
  username?: string;
  password?: string;
  /** Authenticate with keyboard-interactive only (as jsxapi does). */
  keyboard?: boolean;
}

export function connect(port: number, opts: ConnectOptions = {}): Promise<SshClient> {
  const client = new ssh2.Client();
  const password = opts.password ?? PASSWORD;
  return new Promise((resolve, reject) => {
    client.on('ready', () => resolve(client));
    client.on('error', reject);
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)));
    client.connect({
      host: '127.0.0.1',
      port,
      username: opts.username ?? 'admin',
      ...(opts.keyboard ? { tryKeyboard: true } : { password }),
      readyTimeout: 20_000,
    });
  });
}

/** A channel's output as it arrives, with its exit status. */
export class Channel {
  raw = Buffer.alloc(0);
  stderr = '';
  exit: Promise<{ code: number | null; signal?: string }>;
  closed: Promise<void>;
  private mark = 0;

  constructor(readonly stream: ClientChannel) {
    stream.on('data', (d: Buffer) => {
      this.raw = Buffer.concat([this.raw, d]);
    });
    stream.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exit = new Promise((resolve) => {
      stream.on('exit', (code: number | null, signal?: string) => resolve({ code, signal }));
      stream.on('close', () => resolve({ code: null, signal: 'no exit-status' }));
    });
    this.closed = new Promise((resolve) => stream.on('close', () => resolve()));
  }

  get text(): string {
    return this.raw.toString('utf8');
  }

  /** What came since the last send(). */
  get recent(): string {
    return this.raw.subarray(this.mark).toString('utf8');
  }

  send(text: string | Buffer): void {
    this.mark = this.raw.length;
    this.stream.write(text);
  }

  async until(what: string, predicate: () => boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Waits for `s` since the last send(). */
  async waitFor(s: string, ms?: number): Promise<string> {
    await this.until(JSON.stringify(s), () => this.recent.includes(s), ms);
    return this.recent;
  }
}

export function shell(client: SshClient, pty: false | { term?: string; cols?: number; rows?: number } = false): Promise<Channel> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | undefined, stream: ClientChannel) => (err ? reject(err) : resolve(new Channel(stream)));
    if (pty === false) client.shell(false, cb);
    else client.shell({ term: pty.term ?? 'vt100', cols: pty.cols ?? 80, rows: pty.rows ?? 24 }, cb);
  });
}

export function exec(client: SshClient, command: string, pty = false): Promise<Channel> {
  return new Promise((resolve, reject) => {
    client.exec(command, pty ? { pty: { term: 'vt100', cols: 80, rows: 24 } } : {}, (err, stream) => (err ? reject(err) : resolve(new Channel(stream))));
  });
}

/** Runs one exec to its end: output and exit status. */
export async function execToEnd(client: SshClient, command: string, input?: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const ch = await exec(client, command);
  if (input !== undefined) ch.stream.end(input);
  const { code } = await ch.exit;
  await ch.closed;
  return { stdout: ch.text, stderr: ch.stderr, code };
}

export const BANNER = 'Welcome to expressway\nCisco Expressway X14.2.7\n*r Login successful\n\nOK\n\n';

// ---------------------------------------------------------------------------
// Real clients on this machine

/** The first program on PATH (or given as an absolute path) that runs; undefined when none does. */
export function findProgram(candidates: string[], args: string[] = ['-V']): string | undefined {
  for (const c of candidates) {
    const r = spawnSync(c, args, { stdio: 'ignore' });
    if (r.error === undefined && r.status !== null) return c;
  }
  return undefined;
}

/** A python that imports all of `modules` (Debian's own python3 first: that is where apt puts them). */
export function pythonWith(modules: string[]): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** Says once, in the test output, why a test cannot run here. */
export function skipReason(what: string, missing: boolean, install: string): boolean {
  if (missing) console.log(`SKIPPED ${what}: ${install} is not installed here (.ci/run installs it with apt-get when it can).`);
  return missing;
}

/** An SSH_ASKPASS script that answers the password, and the OpenSSH options every test uses. */
export class OpenSsh {
  readonly dir = mkdtempSync(join(tmpdir(), 'exsh-askpass-'));
  readonly askpass = join(this.dir, 'askpass.sh');

  constructor(password: string) {
    writeFileSync(this.askpass, `#!/bin/sh\nprintf '%s\\n' '${password.replace(/'/g, `'\\''`)}'\n`);
    chmodSync(this.askpass, 0o700);
  }

  args(port: number, user = 'admin', extra: string[] = []): string[] {
    return [
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'BatchMode=no',
      '-F',
      '/dev/null',
      '-p',
      String(port),
      ...extra,
      `${user}@127.0.0.1`,
    ];
  }

  env(): Record<string, string> {
    return { SSH_ASKPASS: this.askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
