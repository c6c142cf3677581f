import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, EXSH_BIN, NOW, REPO_ROOT, runExsh, tempHome } from '../helpers/exsh.js';

/**
 * §13 start-up: a one-shot status read loads only what it needs. What it must not load
 * (each costs milliseconds of every start): node:crypto, readline, child_process, and
 * the packages kept for rare paths (enquirer, the XML parser).
 */

afterAll(cleanHomes);

async function loadedBy(home: string, args: string[]): Promise<{ builtins: string[]; packages: string[]; stdout: string }> {
  const preload = join(tempHome('exsh-preload-'), 'report.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => {
      const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
      const packages = Object.keys(require.cache).filter((f) => f.includes('node_modules')).map((f) => f.split('node_modules/').pop());
      require('fs').writeSync(2, JSON.stringify({ builtins, packages }));
    });`,
  );
  const r = await execa(process.execPath, ['-r', preload, EXSH_BIN, '--home', home, '--now', NOW, ...args], {
    reject: false,
    extendEnv: false,
    env: cleanEnv(),
    cwd: REPO_ROOT,
    input: '',
  });
  expect(r.exitCode).toBe(0);
  return { ...(JSON.parse(r.stderr) as { builtins: string[]; packages: string[] }), stdout: r.stdout };
}

describe('start-up', () => {
  it('a status read loads no crypto, readline, child_process, enquirer or XML parser', async () => {
    const home = tempHome();
    // The first use creates the device (its identity and trust store need node:crypto).
    // (node:net is not in the list: Node itself loads it for stdout when that is a pipe.)
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit'])).exitCode).toBe(0);
    const { builtins, packages, stdout } = await loadedBy(home, ['-c', 'xStatus SystemUnit']);
    expect(stdout).toContain('Product: "Cisco Expressway-C"');
    for (const m of ['crypto', 'readline', 'child_process', 'tls', 'http', 'zlib']) expect({ m, loaded: builtins.includes(m) }).toEqual({ m, loaded: false });
    // From node_modules only SQLite's native addon: its JavaScript is in the bundle.
    expect(packages).toEqual(['better-sqlite3/build/Release/better_sqlite3.node']);
  });

  it('a configuration change loads no crypto either', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit'])).exitCode).toBe(0);
    const { builtins } = await loadedBy(home, ['-c', 'xConfiguration SystemUnit Name: "fast"']);
    expect(builtins.includes('crypto')).toBe(false);
  });
});
