import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `exsh/testing` (§11): a test harness for automation that drives Expressways. Each
 * `startDevice()` is an isolated simulated device: its own temporary home (0700), its own
 * seed and clock, and, when asked, its own SSH and REST servers (`exsh serve`). Everything
 * runs this package's CLI in child processes, exactly as a user's script would: nothing
 * is shared with the test process or with another device, and the caller's EXSH_*
 * environment never leaks in. docs/testing.md has the guide.
 *
 * Node built-ins only: this file is bundled on its own (dist/testing.cjs) and must stay
 * small and free of the simulator's internals.
 */

/** Options of {@link startDevice}; all optional. */
export interface StartDeviceOptions {
  /** The device's name in its home (default `expressway`). */
  name?: string;
  /** Deterministic identities, nonces and keys (`--seed`): the same seed gives the same serial number and codes. */
  seed?: string | number;
  /** Pins the base of the simulated clock (`--now`); `xCommand Simulator Clock Advance` still moves the device on. */
  now?: string | Date;
  /** `Expressway` (default) or `VCS`, as `exsh devices create --brand`. */
  brand?: 'Expressway' | 'VCS';
  /** `ExpresswayC` (default) or `ExpresswayE`. */
  type?: 'ExpresswayC' | 'ExpresswayE';
  /** Start `exsh serve --ssh`: the device over SSH (users admin and root). */
  ssh?: boolean;
  /** Start the REST API over HTTPS (`exsh serve --https`). */
  https?: boolean;
  /** How long a CLI run, or the servers' start, may take before it is killed and fails (default 60 000 ms). */
  timeoutMs?: number;
}

/** What a CLI run printed, and how it ended (`exitCode` 0 ok, 1 a line failed, 2 usage, 3 store; 128+n killed by signal n). */
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  /** Written to the CLI's stdin (batch mode reads it); stdin is empty otherwise. */
  input?: string;
}

export interface SshEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  /** `SHA256:…` of the server's host key. */
  hostKeyFingerprint: string;
}

export interface RestEndpoint {
  /** `https://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  username: string;
  password: string;
  /** The PEM of the root CA the server's certificate chains to (give it to `https.request({ ca })`). */
  ca: string;
  /** The same root CA as a file (for `NODE_EXTRA_CA_CERTS`, curl `--cacert`). */
  caPath: string;
}

export interface TokenOptions {
  virtualAccount?: string;
  description?: string;
  /** 1 to 365 (default 30). */
  expiresDays?: number;
  maxUses?: number;
  /** false: the token does not allow export-controlled functionality (default true). */
  exportControl?: boolean;
}

export interface Cssm {
  /** `exsh cssm <args…>` on this device's home. */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** `exsh cssm tokens create …`: a registration token of this home's CSSM (rejects if the command fails). */
  createToken(opts?: TokenOptions): Promise<string>;
}

export interface TestDevice {
  /** The device's home directory (also the working directory of every run); removed by stop(). */
  readonly home: string;
  readonly name: string;
  /** Runs xAPI lines in one CLI process, each as `-c <line>`, in order. */
  run(lines: string | readonly string[]): Promise<RunResult>;
  /** Runs `exsh <args…>` with this device's home, device, seed and clock. */
  exsh(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** The SSH server, when `ssh: true`. */
  readonly ssh: SshEndpoint | undefined;
  /** The REST API, when `https: true`. */
  readonly rest: RestEndpoint | undefined;
  readonly cssm: Cssm;
  /** Stops the servers and every run still going, and removes the home. Safe to call twice. */
  stop(): Promise<void>;
}

/** The CLI of this package, beside the harness (dist/testing.cjs → bin/exsh.cjs). */
const BIN = fileURLToPath(new URL('../bin/exsh.cjs', import.meta.url));
const DEFAULT_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
/** What of a server's stderr is kept to explain a failed start. */
const STDERR_KEPT = 16_384;

/** The environment of every child: the caller's, minus what exsh reads, never coloured. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('EXSH_') || k === 'NO_COLOR' || k === 'FORCE_COLOR' || k === 'NODE_EXTRA_CA_CERTS') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return signal ? 128 + (constants.signals[signal] ?? 0) : -1;
}

/** Every device not yet stopped, so that an exiting test process leaves none behind. */
const live = new Set<{ kill(): void }>();
let exitHook = false;

function watchExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of live) d.kill();
  });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (await waitExit(child, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await waitExit(child, STOP_GRACE_MS);
}

interface ServeInfo {
  ssh?: { device?: string; host?: string; port?: number }[];
  https?: { host?: string; port?: number; url?: string } | null;
  username?: string;
  hostKeyFingerprint?: string;
}

/**
 * Starts an isolated simulated device. Always `await device.stop()` (in `afterEach` or a
 * `finally`): it ends the servers and removes the home.
 */
export async function startDevice(opts: StartDeviceOptions = {}): Promise<TestDevice> {
  const name = opts.name ?? 'expressway';
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = opts.now instanceof Date ? opts.now.toISOString() : opts.now;
  const seed = opts.seed === undefined ? undefined : String(opts.seed);
  const home = realpathSync(mkdtempSync(join(tmpdir(), 'exsh-testing-')));
  const globals = ['--home', home, ...(seed !== undefined ? ['--seed', seed] : []), ...(now !== undefined ? ['--now', now] : [])];
  const running = new Set<ChildProcess>();
  let stopping: Promise<void> | undefined;

  const spawnCli = (args: readonly string[], o: { env?: Record<string, string>; stdin: 'pipe' | 'ignore' }): ChildProcess => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: childEnv(o.env), stdio: [o.stdin, 'pipe', 'pipe'], windowsHide: true });
    running.add(child);
    child.once('exit', () => running.delete(child));
    return child;
  };

  const cli = (args: readonly string[], input?: string): Promise<RunResult> => {
    if (stopping) return Promise.reject(new Error(`exsh/testing: device '${name}' was stopped; start another with startDevice().`));
    return new Promise<RunResult>((resolve, reject) => {
      const child = spawnCli(args, { stdin: 'pipe' });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (c: Buffer) => out.push(c));
      child.stderr?.on('data', (c: Buffer) => err.push(c));
      child.stdin?.on('error', () => {});
      child.stdin?.end(input ?? '');
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`exsh/testing: 'exsh ${args.slice(globals.length).join(' ')}' took longer than ${timeoutMs} ms and was killed.`));
      }, timeoutMs);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode: exitCodeOf(code, signal) });
      });
    });
  };

  const device = ['--device', name];
  const exsh = (args: readonly string[], o: RunOptions = {}) => cli([...globals, ...device, ...args], o.input);
  const run = (lines: string | readonly string[]) => exsh((typeof lines === 'string' ? [lines] : lines).map((l) => `--command=${l}`));
  const cssm: Cssm = {
    run: (args, o) => exsh(['cssm', ...args], o),
    createToken: async (t = {}) => {
      const args = ['tokens', 'create'];
      if (t.virtualAccount !== undefined) args.push('--virtual-account', t.virtualAccount);
      if (t.description !== undefined) args.push('--description', t.description);
      if (t.expiresDays !== undefined) args.push('--expires-days', String(t.expiresDays));
      if (t.maxUses !== undefined) args.push('--max-uses', String(t.maxUses));
      if (t.exportControl === false) args.push('--no-export-control');
      const r = await cssm.run(args);
      if (r.exitCode !== 0) throw new Error(`exsh/testing: exsh cssm tokens create failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
      return r.stdout.trim();
    },
  };

  const handle = {
    kill: (): void => {
      for (const child of [...running]) child.kill('SIGKILL');
      rmSync(home, { recursive: true, force: true });
    },
  };
  live.add(handle);
  watchExit();

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await Promise.all([...running].map((child) => terminate(child)));
      } finally {
        rmSync(home, { recursive: true, force: true, maxRetries: 3 });
        live.delete(handle);
      }
    })();
    return stopping;
  };

  let ssh: SshEndpoint | undefined;
  let rest: RestEndpoint | undefined;
  try {
    const created = await cli([...globals, 'devices', 'create', name, '--brand', opts.brand ?? 'Expressway', ...(opts.type ? ['--type', opts.type] : [])]);
    if (created.exitCode !== 0) throw new Error(`exsh/testing: could not create device '${name}' (exit ${created.exitCode}): ${created.stderr.trim()}`);
    if (opts.ssh === true || opts.https === true) {
      const password = randomBytes(18).toString('base64url');
      const args = [...globals, 'serve', '--ssh', '0', ...(opts.https === true ? ['--https', '0'] : []), '--device', name, '--json'];
      // A server reads nothing: its stdin is /dev/null, so that no end of input can stop it.
      const server = spawnCli(args, { env: { EXSH_SSH_PASSWORD: password }, stdin: 'ignore' });
      const info = await serverInfo(server, timeoutMs);
      const username = info.username ?? 'admin';
      if (opts.ssh === true) {
        const entry = info.ssh?.find((e) => e.device === name) ?? info.ssh?.[0];
        if (!entry || typeof entry.port !== 'number') throw new Error('exsh/testing: exsh serve printed no SSH port.');
        ssh = { host: entry.host ?? '127.0.0.1', port: entry.port, username, password, hostKeyFingerprint: info.hostKeyFingerprint ?? '' };
      }
      if (opts.https === true) {
        const h = info.https;
        if (!h || typeof h.port !== 'number') throw new Error('exsh/testing: exsh serve printed no HTTPS port.');
        const caPath = join(home, 'cssm', 'pki', 'root-ca.pem');
        rest = { url: h.url ?? `https://${h.host ?? '127.0.0.1'}:${h.port}`, username, password, ca: readFileSync(caPath, 'utf8'), caPath };
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return { home, name, run, exsh, ssh, rest, cssm, stop };
}

/** The server's one JSON line (`exsh serve --json`); its output is read on (and dropped) after it. */
function serverInfo(child: ChildProcess, timeoutMs: number): Promise<ServeInfo> {
  return new Promise<ServeInfo>((resolve, reject) => {
    let out = '';
    let err = '';
    let done = false;
    const finish = (e: Error | undefined, info?: ServeInfo): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(info as ServeInfo);
    };
    const timer = setTimeout(() => finish(new Error(`exsh/testing: exsh serve did not start within ${timeoutMs} ms. ${err.trim()}`)), timeoutMs);
    child.stderr?.on('data', (c: Buffer) => {
      err = (err + c.toString('utf8')).slice(-STDERR_KEPT);
    });
    child.stdout?.on('data', (c: Buffer) => {
      if (done) return;
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, JSON.parse(out.slice(0, nl)) as ServeInfo);
      } catch {
        finish(new Error(`exsh/testing: exsh serve printed something other than its JSON line: ${out.slice(0, 200)}`));
      }
    });
    child.once('error', (e) => finish(e));
    child.once('exit', (code, signal) => {
      finish(new Error(`exsh/testing: exsh serve ended (exit ${exitCodeOf(code, signal)}) before it was ready: ${err.trim()}`));
    });
  });
}
