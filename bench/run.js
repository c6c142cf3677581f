#!/usr/bin/env node
// `npm run bench`: the §11 quality bars, each printed as a ratio against a baseline
// measured in this same run (never an absolute threshold in a test).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/exsh.js', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'exsh-bench-'));
const node = process.execPath;

function wall(args, input) {
  const t = process.hrtime.bigint();
  const r = spawnSync(node, args, { input, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const rows = [];
function report(name, value, unit, baselineName, ratio, target) {
  rows.push({ name, value, unit, baselineName, ratio, target });
  console.log(`${name.padEnd(38)} ${value.toFixed(1).padStart(10)} ${unit.padEnd(9)} ratio ${ratio.toFixed(2).padStart(6)} vs ${baselineName} (target ${target})`);
}

try {
  // Warm the device and the file cache.
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
  report("one-shot -c 'xStatus SystemUnit'", o, 'ms', `node -e 0 (${b.toFixed(1)} ms)`, o / b, '<= 2.0');

  // Batch throughput: the same spawned process reading N lines from a pipe. The
  // baseline is a node process that reads the same input and writes as many bytes.
  const READS = 50_000;
  const reads = `${Array.from({ length: READS }, (_, i) => (i % 2 ? 'xStatus SystemUnit Uptime' : 'xConfiguration SystemUnit Name')).join('\n')}\n`;
  const rMs = wall([BIN, '--home', home], reads);
  const echoMs = wall(['-e', "process.stdin.on('data', d => process.stdout.write(d))"], reads);
  const readRate = READS / (rMs / 1000);
  report('batch read lines/s', readRate, 'lines/s', `target 20,000/s (echo floor ${(READS / (echoMs / 1000)).toFixed(0)}/s)`, readRate / 20_000, '>= 1.0');

  const WRITES = 20_000;
  const writes = `${Array.from({ length: WRITES }, (_, i) => `xConfiguration SystemUnit Name: "bench-${i}"`).join('\n')}\n`;
  const wMs = wall([BIN, '--home', home], writes);
  const writeRate = WRITES / (wMs / 1000);
  report('batch state-changing lines/s', writeRate, 'lines/s', 'target 2,000/s', writeRate / 2_000, '>= 1.0');

  // In-process figures from the subsystems' own bench functions.
  const inProcess = [
    ['../dist/device/reservation-bench.js', 'benchInstalls', 'SLR installs/s (in-process)', 2_000],
    ['../dist/cssm/bench.js', 'benchReservations', 'CSSM reservations/s (in-process)', 500],
  ];
  for (const [path, fn, name, target] of inProcess) {
    let mod;
    try {
      mod = await import(path);
    } catch {
      console.log(`${name.padEnd(38)} (not built)`);
      continue;
    }
    const r = await mod[fn](fn === 'benchReservations' ? 1000 : 2000);
    report(name, r.perSecond, 'per s', `target ${target.toLocaleString('en')}/s`, r.perSecond / target, '>= 1.0');
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
