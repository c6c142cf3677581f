import { spawn } from 'node:child_process';
import type { Client as SshClient } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, NOW, runExsh, tempHome } from '../helpers/exsh.js';
import { connect, execToEnd, findProgram, OpenSsh, PASSWORD, serve, shell, stopAll } from './helpers.js';

/**
 * Sessions of `exsh serve --ssh` write through the same store and lock as every other
 * process (§11, §12): no update is lost with 50 sessions writing one device at once, and
 * a client that vanishes mid-command leaves the store consistent (the change committed
 * or not, never half) and the server serving.
 */

const clients: SshClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.end();
  await stopAll();
  cleanHomes();
});

/** The device's simulated time, read by a separate process. */
async function clock(home: string): Promise<string> {
  const r = await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit Time']);
  expect(r.exitCode).toBe(0);
  return /Time: "([^"]+)"/.exec(r.stdout)?.[1] ?? '';
}

const minutesAfterNow = (iso: string) => (Date.parse(iso) - Date.parse(NOW)) / 60_000;

describe('concurrency over SSH', () => {
  it('50 concurrent sessions each advance the clock one minute: it moved exactly 50 minutes', async () => {
    const home = tempHome();
    const s = await serve(home);
    const N = 50;
    const logins = await Promise.all(Array.from({ length: N }, () => connect(s.port)));
    clients.push(...logins);
    const sessions = await Promise.all(logins.map((c) => shell(c)));
    await Promise.all(sessions.map((sh) => sh.until('banner', () => sh.text.endsWith('OK\n\n'))));
    for (const sh of sessions) sh.send('xCommand Simulator Clock Advance Minutes: 1\nbye\n');
    const exits = await Promise.all(sessions.map((sh) => sh.exit));
    expect(exits.every((e) => e.code === 0)).toBe(true);
    for (const sh of sessions) expect(sh.text).toMatch(/\*r SimulatorClockAdvanceResult \(status=OK\):\n {4}Time: "2026-01-01T00:\d\d:00Z"\n\*r\/end\n\nOK\n$/);
    expect(await clock(home)).toBe('2026-01-01T00:50:00Z');
    // Every session saw a different minute: the 50 changes were serialised, none lost.
    const times = sessions.map((sh) => /Time: "([^"]+)"/.exec(sh.text)?.[1]);
    expect(new Set(times).size).toBe(N);
  }, 120_000);

  it('a client that drops its connection mid-command leaves the store consistent and the server serving', async () => {
    const home = tempHome();
    const s = await serve(home);
    const c = await connect(s.port);
    const sh = await shell(c);
    await sh.until('banner', () => sh.text.endsWith('OK\n\n'));
    const LINES = 400;
    sh.send('xCommand Simulator Clock Advance Minutes: 1\n'.repeat(LINES));
    await new Promise((r) => setTimeout(r, 15));
    // Gone without a goodbye: the TCP connection is cut.
    (c as unknown as { _sock: { destroy(): void } })._sock.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const shown = await runExsh(['--home', home, 'devices', 'show', 'expressway', '--json']);
    expect(shown.exitCode).toBe(0);
    const moved = minutesAfterNow(await clock(home));
    expect(Number.isInteger(moved)).toBe(true);
    expect(moved).toBeGreaterThanOrEqual(0);
    expect(moved).toBeLessThanOrEqual(LINES);
    const again = await connect(s.port);
    clients.push(again);
    expect((await execToEnd(again, 'xCommand Simulator Clock Advance Minutes: 1')).code).toBe(0);
    expect(minutesAfterNow(await clock(home))).toBe(moved + 1);
  });

  it.skipIf(findProgram(['ssh']) === undefined)('an OpenSSH client killed (SIGKILL) mid-stream: the same', async () => {
    const home = tempHome();
    const s = await serve(home);
    const openssh = new OpenSsh(PASSWORD);
    try {
      const child = spawn('ssh', ['-T', ...openssh.args(s.port)], { env: cleanEnv(openssh.env()) as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const deadline = Date.now() + 15_000;
      while (!out.includes('OK\n\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < 20; i++) child.stdin.write('xCommand Simulator Clock Advance Minutes: 1\n'.repeat(20));
      await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      await new Promise((r) => setTimeout(r, 500));
      expect((await runExsh(['--home', home, 'devices', 'show', 'expressway'])).exitCode).toBe(0);
      const moved = minutesAfterNow(await clock(home));
      expect(Number.isInteger(moved) && moved >= 0 && moved <= 400).toBe(true);
      const again = await connect(s.port);
      clients.push(again);
      expect((await execToEnd(again, 'xStatus SystemUnit Product')).code).toBe(0);
    } finally {
      openssh.cleanup();
    }
  });
});
