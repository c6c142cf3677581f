import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, spawnExsh, tempHome } from '../helpers/exsh.js';

/** §5.2 / §11: concurrent exsh processes on one device serialise; none loses an update. */

afterEach(cleanHomes);

const PROCESSES = 20;

describe('concurrent exsh processes on one device', () => {
  it(`${PROCESSES} processes each advance the clock a minute: all succeed, no update lost`, async () => {
    const home = tempHome();
    // The device does not exist yet: the processes also race to create it (§5.1).
    const runs = Array.from({ length: PROCESSES }, () =>
      spawnExsh(['--home', home, '--now', NOW, '-c', 'xCommand Simulator Clock Advance Minutes: 1'], { input: '' }),
    );
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

    const after = await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit Time']);
    expect(after).toEqual({ exitCode: 0, stdout: '*s SystemUnit: /\n    Time: "2026-01-01T00:20:00Z"\n*s/end\n\nOK\n', stderr: '' });
  });

  it('gives up on a lock held past the timeout: exit 3, naming the file; reads still work', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "before"'])).exitCode).toBe(0);
    const store = join(home, 'devices', 'expressway.json');
    const lock = `${store}.lock`;
    const storeBytes = readFileSync(store);
    // The test runner itself is a live process, so the lock is not stale.
    writeFileSync(lock, String(process.pid));

    const env = { EXSH_LOCK_TIMEOUT: '200' };
    const blocked = await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "after"'], { env });
    expect(blocked.exitCode).toBe(3);
    expect(blocked.stdout).toBe('');
    expect(blocked.stderr).toBe(
      `exsh: The device store ${store} is locked by another exsh process (pid ${process.pid}); gave up after 200 ms. If no exsh is running, remove ${lock}. [store.locked]\n`,
    );
    expect(blocked.stderr).toContain('locked');

    // Lines before the blocked one ran and were shown; the rest never ran.
    const partial = await runExsh(
      ['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name', '-c', 'xCommand Simulator Clock Advance Minutes: 5', '-c', 'xStatus SystemUnit Time'],
      { env },
    );
    expect(partial.exitCode).toBe(3);
    expect(partial.stdout).toBe('*c xConfiguration SystemUnit Name: "before"\n\nOK\n');
    expect(partial.stderr).toMatch(/\[store\.locked\]\n$/);

    // Reads take no lock.
    const read = await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name'], { env });
    expect(read).toEqual({ exitCode: 0, stdout: '*c xConfiguration SystemUnit Name: "before"\n\nOK\n', stderr: '' });

    // Nothing was written and the other process's lock was left alone.
    expect(readFileSync(store)).toEqual(storeBytes);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
  });

  it('takes over a lock left behind by a process that no longer exists', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit Name'])).exitCode).toBe(0);
    // The pid of a process that has exited (a one-shot exsh that was just reaped).
    const dead = spawnExsh(['--home', home, '-c', '# nothing'], { input: '' });
    const deadPid = dead.pid as number;
    await dead;
    writeFileSync(join(home, 'devices', 'expressway.json.lock'), String(deadPid));

    const r = await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "recovered"'], { env: { EXSH_LOCK_TIMEOUT: '200' } });
    expect(r).toEqual({ exitCode: 0, stdout: '\nOK\n', stderr: '' });
  });
});
