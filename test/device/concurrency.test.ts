import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, spawnExsh, tempHome } from '../helpers/exsh.js';

/** §5.2: concurrent processes serialise on the store's write lock (SQLite, BEGIN IMMEDIATE) — no lost update. */

afterEach(cleanHomes);

describe('20 concurrent xCommand OptionKey Add processes on one VCS', () => {
  it('leave all 20 keys', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, 'devices', 'create', 'vcs', '--brand', 'VCS'])).exitCode).toBe(0);
    const keys = Array.from({ length: 20 }, (_, i) => `116341C${String(i).padStart(2, '0')}-1-${(0xab000000 + i).toString(16).toUpperCase()}`);
    const runs = keys.map((k) => spawnExsh(['--home', home, '--device', 'vcs', '--now', NOW, '-c', `xcommand OptionKey Add Key: ${k}`], { input: '' }));
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.exitCode).toBe(0);
      expect(String(r.stdout)).toContain('(status=OK)');
    }
    const listed = await runExsh(['--home', home, '--device', 'vcs', '--output', 'json', '-c', 'xstatus OptionKey'], { input: '' });
    const items = (JSON.parse(listed.stdout) as { Status: { OptionKey: Array<{ Key: { Value: string } }> } }).Status.OptionKey;
    expect(items.map((i) => i.Key.Value).sort()).toEqual([...keys].sort());
  });
});
