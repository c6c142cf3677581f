#!/usr/bin/env node
// `npm run bench`: the quality bars, each printed as a ratio against a baseline measured
// in this same run (never an absolute threshold in a test).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/exsh.cjs', import.meta.url));
const benchLib = createRequire(import.meta.url)('../dist/bench.cjs');
const node = process.execPath;

// NODE_EXTRA_CA_CERTS makes Node load extra certificates at every start (~90 ms on some
// machines), which would inflate both sides of every ratio: measure without it.
const hadExtraCerts = process.env.NODE_EXTRA_CA_CERTS !== undefined;
const env = { ...process.env, NO_COLOR: '1' };
delete env.NODE_EXTRA_CA_CERTS;
for (const k of Object.keys(env)) if (k.startsWith('EXSH_')) delete env[k];
console.log(`NODE_EXTRA_CA_CERTS ${hadExtraCerts ? 'was set: unset for every command and baseline below' : 'is not set'}.`);

function run(args, input) {
  const t = process.hrtime.bigint();
  const r = spawnSync(node, args, { input, env, maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: String(r.stdout) };
}

const wall = (args, input) => run(args, input).ms;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function report(name, value, unit, baseline, ratio, target) {
  console.log(`${name.padEnd(44)} ${value.toFixed(1).padStart(10)} ${unit.padEnd(8)} ratio ${ratio.toFixed(2).padStart(6)} vs ${baseline} (target ${target})`);
}

const READS = 50_000;
const reads = `${Array.from({ length: READS }, (_, i) => (i % 2 ? 'xStatus SystemUnit Uptime' : 'xConfiguration SystemUnit Name')).join('\n')}\n`;
const WRITES = 20_000;
const writes = `${Array.from({ length: WRITES }, (_, i) => `xConfiguration SystemUnit Name: "bench-${i}"`).join('\n')}\n`;

/** Batch read and write rates (lines/s) of one device, best of three runs each. */
function batchRates(home, device) {
  const args = [BIN, '--home', home, '--device', device];
  const best = (input) => Math.min(...[0, 1, 2].map(() => wall(args, input)));
  return { read: READS / (best(reads) / 1000), write: WRITES / (best(writes) / 1000) };
}

const home = mkdtempSync(join(tmpdir(), 'exsh-bench-'));
try {
  // One-shot: a status read in a fresh process, against `node -e 0`.
  wall([BIN, '--home', home, '-c', 'xStatus SystemUnit']);
  const RUNS = 21;
  const one = [];
  const base = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(wall(['-e', '0']));
    one.push(wall([BIN, '--home', home, '-c', 'xStatus SystemUnit']));
  }
  const b = median(base);
  const o = median(one);
  report("one-shot -c 'xStatus SystemUnit' (median)", o, 'ms', `node -e 0 (${b.toFixed(1)} ms)`, o / b, '<= 2.0, goal 1.5');

  // Batch throughput: one process reading N lines from a pipe.
  const echoMs = wall(['-e', "process.stdin.on('data', d => process.stdout.write(d))"], reads);
  const plain = batchRates(home, 'expressway');
  report('batch read lines/s', plain.read, 'lines/s', `target 50,000/s (echo floor ${(READS / (echoMs / 1000)).toFixed(0)}/s)`, plain.read / 50_000, '>= 1.0');
  report('batch state-changing lines/s', plain.write, 'lines/s', 'target 20,000/s', plain.write / 20_000, '>= 1.0');

  // The same with a 50-entitlement SLR installed: per-line cost must not grow with state.
  const slr = ['--home', home, '--device', 'slr50', '--now', '2026-03-01T10:00:00Z'];
  const requested = run([BIN, ...slr, '-c', 'xConfiguration License Smart ReservationEnable: On', '-c', 'xCommand License Smart Reservation Request']);
  const request = /(CB-\S+)/.exec(requested.stdout)[1];
  const code = benchLib.largeSlrCode(request, 50, Date.parse('2026-03-01T09:00:00Z'));
  const installed = run([BIN, ...slr, '-c', `xCommand License Smart Reservation Install "${code}"`]);
  if (!installed.stdout.startsWith('Authorization code installed.')) throw new Error(`install failed: ${installed.stdout}`);
  const big = batchRates(home, 'slr50');
  report('batch read lines/s, 50-entitlement SLR', big.read, 'lines/s', `${plain.read.toFixed(0)}/s without`, plain.read / big.read, '<= 2.0 (slowdown)');
  report(
    'batch state-changing lines/s, 50-entitlement SLR',
    big.write,
    'lines/s',
    `${plain.write.toFixed(0)}/s without`,
    plain.write / big.write,
    '<= 2.0 (slowdown)',
  );

  // In-process figures from the subsystems' own bench functions.
  const installs = await benchLib.benchInstalls(4000);
  report('SLR installs/s (in-process)', installs.perSecond, 'per s', 'target 4,000/s', installs.perSecond / 4000, '>= 1.0');
  const reservations = await benchLib.benchReservations(2000);
  report('CSSM reservations/s (in-process)', reservations.perSecond, 'per s', 'target 1,000/s', reservations.perSecond / 1000, '>= 1.0');
  const registrations = await benchLib.benchRegistrations(1000);
  report('CSSM registrations/s (in-process)', registrations.perSecond, 'per s', 'target 500/s', registrations.perSecond / 500, '>= 1.0');
  await registerOverHttps();
  const cluster = await benchLib.benchCluster(60);
  const plainWrite = 1000 / plain.write;
  report(
    'Traffic Set in a 6-node cluster, ms',
    cluster.trafficSetMs,
    'ms',
    `${plainWrite.toFixed(3)} ms a batch write`,
    cluster.trafficSetMs / plainWrite,
    'reported',
  );
  report(
    'usage report round trip (in-process), ms',
    cluster.usageUpdateMs,
    'ms',
    `${plainWrite.toFixed(3)} ms a batch write`,
    cluster.usageUpdateMs / plainWrite,
    'reported',
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}

/**
 * One Register round trip over HTTPS against `exsh cssm serve` (a separate process): the
 * median wall time of `exsh -c 'xCommand License Smart Register …'` (Force, so every run
 * registers), against the same command's process doing a status read.
 */
async function registerOverHttps() {
  const serveHome = mkdtempSync(join(tmpdir(), 'exsh-bench-serve-'));
  const server = spawn(node, [BIN, '--home', serveHome, 'cssm', 'serve', '--json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      server.on('exit', (code) => reject(new Error(`cssm serve exited ${code}`)));
    });
    const { urls } = JSON.parse(line);
    const token = run([BIN, '--home', serveHome, 'cssm', 'tokens', 'create']).stdout.trim();
    const base = [BIN, '--home', serveHome, '--cssm-url', urls.base];
    run([...base, '-c', 'xConfiguration IP DNS Domain Name: example.com']);
    const register = [...base, '-c', `xCommand License Smart Register IdToken: ${token} Force: True`];
    const first = run(register);
    if (!first.stdout.includes('Registration: "Registered"')) throw new Error(`register failed: ${first.stdout}`);
    const times = Array.from({ length: 9 }, () => wall(register));
    const reads = Array.from({ length: 9 }, () => wall([...base, '-c', 'xStatus SystemUnit']));
    const ms = median(times);
    report('Register over HTTPS (one exsh -c), ms', ms, 'ms', `${median(reads).toFixed(0)} ms status read`, ms / median(reads), 'reported');
  } finally {
    server.kill('SIGTERM');
    rmSync(serveHome, { recursive: true, force: true });
  }
}

// The front ends' own benchmarks (each prints its lines in the same format).
for (const extra of ['rest.js', 'ssh.js']) {
  const r = spawnSync(node, [fileURLToPath(new URL(`./${extra}`, import.meta.url))], { env, stdio: 'inherit' });
  if (r.status !== 0) console.log(`bench/${extra} exited ${r.status}`);
}
