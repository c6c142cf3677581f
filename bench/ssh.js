#!/usr/bin/env node
// `node bench/ssh.js` (after `npm run build`; bench/run.js calls it): the SSH front end's
// quality bar (§13: an SSH session's round trip for `xStatus SystemUnit` <= 5 ms median on
// loopback) and its session rate, each as a ratio against a baseline measured in this run:
//
// - round trip: the same request and reply sizes over a plain TCP echo on loopback, the
//   floor any network front end sits on (what is above it is SSH's crypto and exsh);
// - sessions/s (connect, log in, one command, bye): the same client against an ssh2
//   server in this process that answers at once, the floor of the SSH handshake itself
//   (key exchange, host key signature, auth), so what is above it is exsh's.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Client, Server, utils } = require('ssh2');

const BIN = fileURLToPath(new URL('../bin/exsh.cjs', import.meta.url));
const PASSWORD = 'bench-password';
const ROUND_TRIPS = 300;
const SESSIONS = 40;
const REQUEST = 'xStatus SystemUnit\n';

function report(name, value, unit, baseline, ratio, target) {
  console.log(`${name.padEnd(44)} ${value.toFixed(1).padStart(10)} ${unit.padEnd(8)} ratio ${ratio.toFixed(2).padStart(6)} vs ${baseline} (target ${target})`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** `exsh serve --ssh 0 --json` in a throw-away home; resolves with its port once it is up. */
function startExsh(home) {
  const env = { ...process.env, EXSH_SSH_PASSWORD: PASSWORD, NO_COLOR: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  for (const k of Object.keys(env)) if (k.startsWith('EXSH_') && k !== 'EXSH_SSH_PASSWORD') delete env[k];
  const child = spawn(process.execPath, [BIN, '--home', home, 'serve', '--ssh', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, port: JSON.parse(out.slice(0, nl)).ssh[0].port });
    });
    child.on('exit', (code) => reject(new Error(`exsh serve exited ${code}`)));
  });
}

function login(port) {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c)).on('error', reject);
    c.connect({ host: '127.0.0.1', port, username: 'admin', password: PASSWORD });
    c.setNoDelay(true);
  });
}

function openShell(client) {
  return new Promise((resolve, reject) => client.shell(false, (err, stream) => (err ? reject(err) : resolve(stream))));
}

/** Resolves when the stream's output since the call ends with `marker`. */
function reply(stream, marker) {
  return new Promise((resolve) => {
    let got = '';
    const on = (d) => {
      got += d;
      if (got.endsWith(marker)) {
        stream.off('data', on);
        resolve(got);
      }
    };
    stream.on('data', on);
  });
}

/** Median round trip of `xStatus SystemUnit` on one session (no pty, as scripts use it). */
async function sshRoundTrips(port) {
  const client = await login(port);
  const stream = await openShell(client);
  await reply(stream, 'OK\n\n');
  const times = [];
  let size = 0;
  for (let i = 0; i < ROUND_TRIPS + 20; i++) {
    const t = now();
    const answer = reply(stream, '\nOK\n');
    stream.write(REQUEST);
    size = (await answer).length;
    if (i >= 20) times.push(now() - t); // the first ones warm the JIT
  }
  stream.end('bye\n');
  client.end();
  return { ms: median(times), size };
}

/** The same sizes over plain TCP on loopback: a server that answers each line with `size` bytes. */
async function tcpRoundTrips(size) {
  const body = `${'x'.repeat(size - 4)}\nOK\n`;
  const server = createServer((sock) => sock.on('data', () => sock.write(body)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sock = tcpConnect(server.address().port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r) => sock.once('connect', r));
  const times = [];
  for (let i = 0; i < ROUND_TRIPS + 20; i++) {
    const t = now();
    const answer = reply(sock, '\nOK\n');
    sock.write(REQUEST);
    await answer;
    if (i >= 20) times.push(now() - t);
  }
  sock.destroy();
  server.close();
  return median(times);
}

/** Sessions per second: connect, log in, banner, one command, bye, closed. */
async function sessionRate(port) {
  const one = async () => {
    const client = await login(port);
    const stream = await openShell(client);
    await reply(stream, 'OK\n\n');
    const answer = reply(stream, '\nOK\n');
    stream.write(REQUEST);
    await answer;
    const closed = new Promise((r) => stream.on('close', r));
    stream.write('bye\n');
    await closed;
    client.end();
  };
  await one();
  const t = now();
  for (let i = 0; i < SESSIONS; i++) await one();
  return SESSIONS / ((now() - t) / 1000);
}

/** An ssh2 server in this process that logs anyone in and answers at once: the handshake floor. */
async function floorServer() {
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  const banner = 'Welcome to floor\nCisco Expressway X14.2.7\n*r Login successful\n\nOK\n\n';
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    client.setNoDelay(true);
    client.on('authentication', (ctx) => (ctx.method === 'password' ? ctx.accept() : ctx.reject(['password'])));
    client.on('ready', () =>
      client.on('session', (accept) => {
        accept().on('shell', (acceptShell) => {
          const stream = acceptShell();
          stream.write(banner);
          stream.on('data', (d) => {
            if (String(d).startsWith('bye')) {
              stream.exit(0);
              stream.end();
            } else stream.write('*s SystemUnit: /\n*s/end\n\nOK\n');
          });
        });
      }),
    );
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const home = mkdtempSync(join(tmpdir(), 'exsh-bench-ssh-'));
let exsh;
try {
  exsh = await startExsh(home);
  const rtt = await sshRoundTrips(exsh.port);
  const tcp = await tcpRoundTrips(rtt.size);
  // In microseconds: report() prints one decimal, and the round trip is well under a millisecond.
  report(
    "SSH round trip 'xStatus SystemUnit' (median)",
    rtt.ms * 1000,
    'µs',
    `TCP echo on loopback (${(tcp * 1000).toFixed(0)} µs)`,
    rtt.ms / tcp,
    '<= 5000 µs',
  );

  const floor = await floorServer();
  const floorRate = await sessionRate(floor.address().port);
  floor.close();
  const rate = await sessionRate(exsh.port);
  report(
    'SSH sessions/s (login, 1 command, bye)',
    rate,
    'sess/s',
    `ssh2 answering at once (${floorRate.toFixed(0)}/s)`,
    rate / floorRate,
    '>= 0.5 of the floor',
  );
} finally {
  exsh?.child.kill('SIGTERM');
  if (exsh) await new Promise((r) => exsh.child.on('exit', r));
  rmSync(home, { recursive: true, force: true });
}
