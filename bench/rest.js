#!/usr/bin/env node
// `node bench/rest.js` (after `npm run build`): requests/s of the REST status on loopback,
// over keep-alive HTTPS, against a bare HTTPS server answering the same bytes with the
// same certificate, measured in this same run. Both servers run in this process beside
// the client, so both sides pay the same for the client and for TLS.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { startBenchRestServer } = createRequire(import.meta.url)('../dist/rest-bench.cjs');

const PASSWORD = 'bench-password';
const PATH = '/api/v1/status/common/smartlicensing/licensing';
const AUTH = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
const REQUESTS = 5000;
const WARMUP = 300;

function report(name, value, unit, baseline, ratio, target) {
  console.log(`${name.padEnd(44)} ${value.toFixed(1).padStart(10)} ${unit.padEnd(8)} ratio ${ratio.toFixed(2).padStart(6)} vs ${baseline} (target ${target})`);
}

function get(url, agent, ca) {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${PATH}`, { agent, ca, headers: { authorization: AUTH } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests/s of `count` GETs spread over `connections` keep-alive connections. */
async function rate(url, ca, connections, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  try {
    const loop = async (budget) => {
      while (budget.left > 0) {
        budget.left--;
        await get(url, agent, ca);
      }
    };
    const spread = (budget) => Promise.all(Array.from({ length: connections }, () => loop(budget)));
    await spread({ left: WARMUP });
    const work = { left: count };
    const t = process.hrtime.bigint();
    await spread(work);
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    return count / s;
  } finally {
    agent.destroy();
  }
}

const home = mkdtempSync(join(tmpdir(), 'exsh-bench-rest-'));
let rest;
let bare;
try {
  rest = await startBenchRestServer({ home, password: PASSWORD });
  const ca = rest.ca;
  // The same bytes the REST server answers, from a server that does nothing else.
  const body = await get(rest.url, new Agent({ keepAlive: false }), ca);
  bare = createServer({ cert: rest.cert, key: rest.key, minVersion: 'TLSv1.2' }, (req, res) => {
    req.resume();
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(body.length),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  });
  await new Promise((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `https://127.0.0.1:${bare.address().port}`;

  for (const connections of [1, 8]) {
    const base = await rate(bareUrl, ca, connections, REQUESTS);
    const served = await rate(rest.url, ca, connections, REQUESTS);
    const name = `REST status requests/s (${connections} keep-alive conn.)`;
    report(name, served, 'req/s', `bare HTTPS, same bytes (${base.toFixed(0)}/s)`, served / base, 'none set; informational');
  }
} finally {
  await rest?.close();
  await new Promise((resolve) => (bare ? bare.close(resolve) : resolve()));
  rmSync(home, { recursive: true, force: true });
}
