import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, spawnExsh, tempHome } from '../helpers/exsh.js';

/**
 * §5.2, §12, §13: concurrent exsh processes on one device serialise on the store's write
 * lock; none loses an acknowledged update, not even when one is killed -9 in the middle
 * of a transaction, and a dead process never leaves the lock stuck.
 */

afterEach(cleanHomes);

const PROCESSES = 20;
const ADVANCE = 'xCommand Simulator Clock Advance Minutes: 1';

/** Minutes the simulated clock of a device has moved from NOW, read through xStatus. */
async function minutesMoved(home: string, device = 'expressway'): Promise<number> {
  const r = await runExsh(['--home', home, '--device', device, '--now', NOW, '-c', 'xStatus SystemUnit Time']);
  expect(r.exitCode).toBe(0);
  const m = /Time: "([^"]+)"/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return (Date.parse((m as RegExpExecArray)[1] as string) - Date.parse(NOW)) / 60_000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A tiny seeded generator, so a failing round can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A batch process fed `line(i)` in small groups as fast as it takes them, killed -9
 * after `killAfterMs`: many of its bursts commit, and the kill lands while one is open,
 * committing, or printing. Returns how many lines were sent and how many were
 * acknowledged (an OK or ERROR reply on stdout) before the kill.
 */
async function killedWriter(home: string, device: string, line: (i: number) => string, killAfterMs: number): Promise<{ sent: number; acked: number }> {
  const child = spawnExsh(['--home', home, '--device', device, '--now', NOW]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.catch(() => undefined);
  let sent = 0;
  let alive = true;
  const feed = (async () => {
    while (alive && sent < 5000) {
      const n = 1 + (sent % 4);
      let text = '';
      for (let k = 0; k < n; k++) text += `${line(++sent)}\n`;
      child.stdin?.write(text);
      await sleep(1);
    }
  })();
  await sleep(killAfterMs);
  alive = false;
  child.kill('SIGKILL');
  await feed;
  await child.catch(() => undefined);
  return { sent, acked: (out.match(/^(OK|ERROR)$/gm) ?? []).length };
}

describe('concurrent exsh processes on one device', () => {
  it(`${PROCESSES} processes each advance the clock a minute: all succeed, no update lost`, async () => {
    const home = tempHome();
    // The device does not exist yet: the processes also race to create it (§5.1), and the
    // database too.
    const runs = Array.from({ length: PROCESSES }, () => spawnExsh(['--home', home, '--now', NOW, '-c', ADVANCE], { input: '' }));
    const results = await Promise.all(runs);
    const times: string[] = [];
    for (const r of results) {
      expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: '' });
      const m = /^\*r SimulatorClockAdvanceResult \(status=OK\):\n {4}Time: "(2026-01-01T00:\d\d:00Z)"\n\*r\/end\n\nOK\n$/.exec(String(r.stdout));
      expect(m, String(r.stdout)).not.toBeNull();
      times.push((m as RegExpExecArray)[1] as string);
    }
    // Each process saw the result of all those before it: 00:01 ... 00:20, once each.
    expect(times.sort()).toEqual(Array.from({ length: PROCESSES }, (_, i) => `2026-01-01T00:${String(i + 1).padStart(2, '0')}:00Z`));
    expect(await minutesMoved(home)).toBe(PROCESSES);
  });

  it('30 writers while a writer is killed -9 mid-transaction, 10 rounds: every acknowledged update is in the store', async () => {
    const home = tempHome();
    const rnd = prng(30);
    let expected = 0;
    for (let round = 0; round < 10; round++) {
      const writers = Array.from({ length: 30 }, () => spawnExsh(['--home', home, '--now', NOW, '-c', ADVANCE], { input: '' }));
      const victim = await killedWriter(home, 'expressway', () => ADVANCE, 60 + Math.floor(rnd() * 250));
      const results = await Promise.all(writers);
      for (const r of results) expect({ round, exitCode: r.exitCode, stderr: r.stderr }).toEqual({ round, exitCode: 0, stderr: '' });
      const moved = await minutesMoved(home);
      // Acknowledged: all 30, and what the victim printed before it died. A burst it had
      // committed but not yet printed may be in the store too; nothing beyond what it was sent.
      const low = expected + 30 + victim.acked;
      const high = expected + 30 + victim.sent;
      expect({ round, atLeast: moved >= low, atMost: moved <= high }).toEqual({ round, atLeast: true, atMost: true });
      expected = moved;
    }
  });

  it('kill -9 at random points of a stream of writes, 200 trials: the store holds a prefix with every acknowledged write, and the lock is never stuck', async () => {
    const rnd = prng(200);
    // Odd lines advance the clock a minute, even lines name the system after themselves:
    // after k lines, the clock has moved ceil(k/2) minutes and the name is w<2*floor(k/2)>.
    const line = (i: number) => (i % 2 === 1 ? ADVANCE : `xConfiguration SystemUnit Name: "w${i}"`);
    const trial = async (t: number): Promise<void> => {
      // A home of its own: the device is the home's first, created quietly by whichever runs first.
      const home = tempHome();
      const device = `d${t}`;
      const { sent, acked } = await killedWriter(home, device, line, 40 + Math.floor(rnd() * 160));
      const r = await runExsh(
        ['--home', home, '--device', device, '--now', NOW, '-c', 'xStatus SystemUnit Time', '-c', 'xConfiguration SystemUnit Name', '-c', ADVANCE],
        {
          env: { EXSH_LOCK_TIMEOUT: '5000' },
        },
      );
      expect({ t, exitCode: r.exitCode, stderr: r.stderr }).toEqual({ t, exitCode: 0, stderr: '' });
      const time = /Time: "([^"]+)"/.exec(r.stdout)?.[1] as string;
      const minutes = (Date.parse(time) - Date.parse(NOW)) / 60_000;
      const name = /SystemUnit Name: "([^"]*)"/.exec(r.stdout)?.[1] as string;
      const j = name === '' ? 0 : Number(name.slice(1));
      const k = minutes === j / 2 ? j : minutes === j / 2 + 1 ? j + 1 : Number.NaN;
      expect({ t, prefix: Number.isInteger(k), atLeastAcked: k >= acked, atMostSent: k <= sent }).toEqual({
        t,
        prefix: true,
        atLeastAcked: true,
        atMostSent: true,
      });
      // The write after the kill went through: the lock was not left behind.
      expect(r.stdout.endsWith('*r/end\n\nOK\n')).toBe(true);
    };
    for (let t = 0; t < 200; t += 4) await Promise.all([trial(t), trial(t + 1), trial(t + 2), trial(t + 3)]);
  });

  it('gives up on a write lock held past the timeout: exit 3, an ERROR for the change, naming the store; reads still work', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "before"'])).exitCode).toBe(0);
    const store = join(home, 'exsh.sqlite');
    // Another process holding the write lock, as a long transaction would.
    const holder = new Database(store);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const env = { EXSH_LOCK_TIMEOUT: '200' };
      const sentence = `The device store ${store} is locked by another process; gave up after 200 ms. Try again when the other exsh has finished.`;
      const blocked = await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "after" | resultId="w"'], { env });
      expect(blocked).toEqual({
        exitCode: 3,
        stdout: `*r Result (status=Error):\n    Reason: ${JSON.stringify(sentence)}\n    Code: "store.locked"\n*r/end\n\n** resultId: "w"\nERROR\n`,
        stderr: `exsh: ${sentence} [store.locked]\n`,
      });

      // Lines before the blocked one ran and were shown; the rest never ran.
      const partial = await runExsh(
        [
          '--home',
          home,
          '--now',
          NOW,
          '-c',
          'xConfiguration SystemUnit Name',
          '-c',
          'xCommand Simulator Clock Advance Minutes: 5',
          '-c',
          'xStatus SystemUnit Time',
        ],
        { env },
      );
      expect(partial.exitCode).toBe(3);
      expect(partial.stdout).toBe(
        `*c xConfiguration SystemUnit Name: "before"\n\nOK\n*r Result (status=Error):\n    Reason: ${JSON.stringify(sentence)}\n    Code: "store.locked"\n*r/end\n\nERROR\n`,
      );
      expect(partial.stderr).toBe(`exsh: ${sentence} [store.locked]\n`);

      // Reads take no lock.
      const read = await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name'], { env });
      expect(read).toEqual({ exitCode: 0, stdout: '*c xConfiguration SystemUnit Name: "before"\n\nOK\n', stderr: '' });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    // Once the other transaction ends, writes go through.
    expect(await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "after"'])).toEqual({
      exitCode: 0,
      stdout: '\nOK\n',
      stderr: '',
    });
  });
});
