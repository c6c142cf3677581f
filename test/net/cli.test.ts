import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLink, IN_PROCESS } from '../../src/net/link.js';
import { readServeRecord, serveRecordPath } from '../../src/net/record.js';
import type { RegisterReply } from '../../src/protocol/messages.js';
import { cleanHomes, DIRECT, newToken, onPrem, registerRequest, tempHome, testEnv } from './helpers.js';

/**
 * `cssm serve` as its own process: the command function (src/commands/serve.ts) with the
 * CLI's context and error reporting, bundled from test/net/serve-entry.ts, since src/cli.ts
 * does not declare the command yet.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
let outDir = '';
let entry = '';
let runner = '';

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'exsh-net-entry-'));
  entry = join(outDir, 'serve-entry.cjs');
  runner = join(outDir, 'run.cjs');
  await build({
    entryPoints: [join(REPO, 'test/net/serve-entry.ts')],
    outfile: entry,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['bindings', 'enquirer', 'fast-xml-parser'],
    // As in the real bundle, modules find the package (fixtures, the SQLite addon) from here.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(REPO, 'src/entry.ts')).href) },
    logLevel: 'error',
  });
  // Run as bin/exsh.cjs runs the real bundle: compiled by vm.Script, where a dynamic
  // import() of anything esbuild left as one fails ("A dynamic import callback was not specified").
  writeFileSync(
    runner,
    `const { readFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { Script } = require('node:vm');
const bundle = ${JSON.stringify(entry)};
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle });
const loaded = { exports: {} };
script.runInThisContext().call(loaded.exports, loaded.exports, Module.createRequire(bundle), loaded, bundle, path.dirname(bundle));
`,
  );
});

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cleanHomes();
});

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with stdout once it has `lines` lines. */
  lines(n: number): Promise<string[]>;
}

function start(home: string, options: Record<string, unknown> = {}): Running {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('EXSH_')) delete env[k];
  const child = spawn(process.execPath, [runner, home, JSON.stringify(options)], { env, cwd: REPO });
  children.push(child);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += String(d);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += String(d);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = (n: number) =>
    new Promise<string[]>((resolve, reject) => {
      const check = () => {
        const got = out.split('\n');
        if (got.length > n) resolve(got.slice(0, n));
        else if (child.exitCode !== null) reject(new Error(`exited ${child.exitCode}: ${err}`));
        else waiters.push(check);
      };
      exit.then(check, reject);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, exit, lines };
}

describe('exsh cssm serve as a process', () => {
  it('--json prints one line, records itself, serves the Link, and SIGTERM stops it with status 0', async () => {
    const home = tempHome();
    const running = start(home, { json: true });
    const [first = ''] = await running.lines(1);
    const doc = JSON.parse(first) as {
      pid: number;
      host: string;
      port: number;
      urls: Record<string, string>;
      rootCaPath: string;
      client: { id: string; secret: string };
    };
    expect(doc.pid).toBe(running.child.pid);
    expect(doc.host).toBe('127.0.0.1');
    expect(Object.keys(doc.urls).sort()).toEqual(['api', 'base', 'cloud', 'oauth', 'onPrem', 'onPremApi', 'onPremOauth']);
    expect(doc.urls.cloud).toBe(`https://127.0.0.1:${doc.port}/licservice/license`);
    expect(doc.rootCaPath).toBe(join(home, 'cssm', 'pki', 'root-ca.pem'));
    expect(statSync(serveRecordPath(home)).mode & 0o777).toBe(0o600);
    expect(readServeRecord(home)).toMatchObject({ pid: running.child.pid, port: doc.port, cloud: doc.urls.cloud });

    // A device of the same home, with no --cssm-url, finds the server through the record.
    const env = testEnv(home);
    const link = createLink({ home, env });
    expect(link.url(DIRECT)).toBe(doc.urls.cloud);
    const { request } = await registerRequest(newToken(env));
    const reply = await link.exchange(DIRECT, request);
    expect(reply.status).toBe('OK');
    expect((reply.body as RegisterReply).smartAccount).toBe('Demo Smart Account');
    const { request: viaOnPrem } = await registerRequest(newToken(env));
    expect((await link.exchange(onPrem(doc.urls.onPrem ?? ''), viaOnPrem)).status).toBe('OK');

    running.child.kill('SIGTERM');
    expect(await running.exit).toEqual({ code: 0, signal: null });
    expect(running.stdout()).toBe(`${first}\n`);
    expect(running.stderr()).toBe('');
    expect(existsSync(serveRecordPath(home))).toBe(false);
    expect(link.url(DIRECT)).toBe(IN_PROCESS);
  });

  it('prints a short human block and stops on Ctrl+C (SIGINT)', async () => {
    const home = tempHome();
    const running = start(home, { port: '0' });
    const lines = await running.lines(11);
    const record = readServeRecord(home);
    const base = `https://127.0.0.1:${record?.port}`;
    expect(lines).toEqual([
      `CSSM serving on ${base} (pid ${running.child.pid})`,
      `  Cloud (Direct):      ${base}/licservice/license`,
      `  On-Prem:             ${base}/SmartTransport`,
      `  Smart Account API:   ${base}/services/api/smart-accounts-and-licensing/v2`,
      `  On-Prem API:         ${base}/backend/api/v1`,
      `  OAuth token:         ${base}/oauth/token`,
      `  On-Prem OAuth token: ${base}/backend/oauth/token`,
      `  Root CA:             ${join(home, 'cssm', 'pki', 'root-ca.pem')}`,
      expect.stringMatching(/^ {2}Client ID: {11}[0-9a-f]{24}$/),
      expect.stringMatching(/^ {2}Client secret: {7}[A-Za-z0-9_-]{32}$/),
      'Press Ctrl+C to stop.',
    ]);
    running.child.kill('SIGINT');
    expect(await running.exit).toEqual({ code: 0, signal: null });
    expect(existsSync(serveRecordPath(home))).toBe(false);
  });

  it('a record left by a killed server is ignored and removed', async () => {
    const home = tempHome();
    const running = start(home, { json: true });
    await running.lines(1);
    running.child.kill('SIGKILL');
    expect((await running.exit).signal).toBe('SIGKILL');
    expect(readServeRecord(home)?.pid).toBe(running.child.pid);
    const env = testEnv(home);
    const link = createLink({ home, env });
    expect(link.url(DIRECT)).toBe(IN_PROCESS);
    expect(existsSync(serveRecordPath(home))).toBe(false);
    const { request } = await registerRequest(newToken(env));
    expect((await link.exchange(DIRECT, request)).status).toBe('OK');
  });

  it('--port out of range is a usage error (exit 2)', async () => {
    const home = tempHome();
    for (const port of ['65536', '-1', 'http', '']) {
      const running = start(home, { port });
      expect((await running.exit).code, port).toBe(2);
      expect(running.stderr()).toBe(`exsh: Invalid --port '${port}': expected a port number from 0 to 65535 (0 picks a free one). [serve.badPort]\n`);
      expect(running.stdout()).toBe('');
    }
  });

  it('a port in use is one sentence and exit 1, with no stack trace and no record', async () => {
    const home = tempHome();
    const first = start(home, { json: true });
    const doc = JSON.parse((await first.lines(1))[0] ?? '') as { port: number };
    const other = tempHome();
    const second = start(other, { port: String(doc.port) });
    expect((await second.exit).code).toBe(1);
    expect(second.stderr()).toBe(
      `exsh: Cannot serve on 127.0.0.1 port ${doc.port}: the port is already in use (--port 0 picks a free one). [serve.addressInUse]\n`,
    );
    expect(existsSync(serveRecordPath(other))).toBe(false);
    first.child.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);
  });
});
