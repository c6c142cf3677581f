import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, EXSH_BIN, NOW, REPO_ROOT, runExsh, spawnExsh, tempHome } from '../helpers/exsh.js';

/**
 * §5.2: the device store is never silently overwritten when it cannot be used (exit 3,
 * the file named, the bytes kept), is private to its owner, and a change is on disk
 * before its OK is printed.
 */

afterEach(cleanHomes);

function storeFile(home: string): string {
  return join(home, 'devices', 'expressway.json');
}

/** A device store holding these exact bytes. */
function plant(home: string, bytes: string): string {
  const file = storeFile(home);
  mkdirSync(join(home, 'devices'), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

/** Every way in: -c read, -c write, batch on stdin, run -, and the tsh login. */
const ENTRY_POINTS: { name: string; args: string[]; input?: string }[] = [
  { name: '-c read', args: ['-c', 'xStatus SystemUnit Name'] },
  { name: '-c write', args: ['-c', 'xConfiguration SystemUnit Name: "x"'] },
  { name: 'batch', args: [], input: 'xConfiguration SystemUnit Name\n' },
  { name: 'run -', args: ['run', '-'], input: 'xCommand Simulator Clock Advance Minutes: 1\n' },
  { name: 'tsh', args: ['tsh'], input: 'echo off\n' },
];

async function expectRefused(home: string, file: string, detail: string, code = 'store.corrupt'): Promise<void> {
  const before = readFileSync(file);
  for (const entry of ENTRY_POINTS) {
    const r = await runExsh(['--home', home, '--now', NOW, ...entry.args], { input: entry.input });
    expect({ entry: entry.name, exitCode: r.exitCode, stdout: r.stdout }).toEqual({ entry: entry.name, exitCode: 3, stdout: '' });
    expect(r.stderr).toBe(
      code === 'store.corrupt'
        ? `exsh: The device store ${file} is corrupt (${detail}). It was left untouched: move it aside to start this device afresh, or restore it from a backup. [store.corrupt]\n`
        : `exsh: ${detail} [${code}]\n`,
    );
    expect(readFileSync(file)).toEqual(before);
  }
  // Nothing else was left beside it (no temp file, no lock).
  expect(readdirSync(join(home, 'devices'))).toEqual(['expressway.json']);
}

describe('a store that cannot be used', () => {
  it('is not JSON: every entry point exits 3, names the file, and keeps its bytes', async () => {
    const home = tempHome();
    const file = plant(home, '{not json');
    const r = await runExsh(['--home', home, '-c', 'xStatus SystemUnit Name']);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('[store.corrupt]');
    const parseError = /is not valid JSON: ([^)]*)\)/.exec(r.stderr)?.[1];
    expect(parseError).toBeDefined();
    await expectRefused(home, file, `it is not valid JSON: ${parseError}`);
  });

  it('is JSON of the wrong shape: refused the same way, saying what is wrong', async () => {
    const home = tempHome();
    await expectRefused(home, plant(home, '[1, 2, 3]\n'), 'schemaVersion is missing');
    await expectRefused(home, plant(home, '{"schemaVersion": 1, "identity": "FE03A7DB"}\n'), 'identity is missing');

    // A valid store with one field broken.
    const good = tempHome();
    expect((await runExsh(['--home', good, '--now', NOW, '-c', 'xStatus SystemUnit Name'])).exitCode).toBe(0);
    const state = JSON.parse(readFileSync(storeFile(good), 'utf8')) as { clock: { offsetMs: unknown } };
    state.clock.offsetMs = 'soon';
    await expectRefused(good, plant(good, JSON.stringify(state)), 'clock.offsetMs is invalid');
  });

  it('was written by a newer exsh: refused, untouched', async () => {
    const home = tempHome();
    const file = plant(home, '{"schemaVersion": 999}\n');
    await expectRefused(
      home,
      file,
      `The device store ${file} was written by a newer exsh (schema 999); upgrade exsh to use it. The file was left untouched.`,
      'store.newerVersion',
    );
  });

  it('recovers once the bad file is moved aside, as the message says', async () => {
    const home = tempHome();
    plant(home, '{not json');
    expect((await runExsh(['--home', home, '-c', 'xStatus SystemUnit Name'])).exitCode).toBe(3);
    writeFileSync(`${storeFile(home)}.bad`, readFileSync(storeFile(home)));
    writeFileSync(storeFile(home), ''); // an empty file is corrupt too
    expect((await runExsh(['--home', home, '-c', 'xStatus SystemUnit Name'])).exitCode).toBe(3);
    unlinkSync(storeFile(home));
    const r = await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit Name']);
    expect(r).toEqual({ exitCode: 0, stdout: '*s SystemUnit: /\n    Name: ""\n*s/end\n\nOK\n', stderr: '' });
    expect(readFileSync(`${storeFile(home)}.bad`, 'utf8')).toBe('{not json');
  });
});

describe('store files', () => {
  it('are private whatever the umask: devices dir 0700, store 0600', async () => {
    const home = tempHome();
    // umask 000 would leave a file created with the default mode world-writable.
    const r = await execa('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, EXSH_BIN, '--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name: "private"'], {
      reject: false,
      extendEnv: false,
      env: cleanEnv(),
      cwd: REPO_ROOT,
    });
    expect({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ exitCode: 0, stdout: '\nOK', stderr: '' });
    expect(statSync(join(home, 'devices')).mode & 0o777).toBe(0o700);
    expect(statSync(storeFile(home)).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(home, 'devices'))).toEqual(['expressway.json']);
  });
});

describe('a change is on disk before its OK', () => {
  it('one -c process sets, the next one reads it', async () => {
    const home = tempHome();
    expect(await runExsh(['--home', home, '-c', 'xConfiguration SystemUnit Name: "seen"'])).toEqual({ exitCode: 0, stdout: '\nOK\n', stderr: '' });
    expect(await runExsh(['--home', home, '-c', 'xConfiguration SystemUnit Name'])).toEqual({
      exitCode: 0,
      stdout: '*c xConfiguration SystemUnit Name: "seen"\n\nOK\n',
      stderr: '',
    });
  });

  it('a running session: another process sees the change as soon as OK is printed, and vice versa', async () => {
    const home = tempHome();
    const session = spawnExsh(['--home', home, '--now', NOW]);
    let out = '';
    session.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const replies = async (n: number): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while ((out.match(/^(OK|ERROR)$/gm) ?? []).length < n) {
        if (Date.now() > deadline) throw new Error(`no reply ${n}; got ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    session.stdin?.write('xConfiguration SystemUnit Name: "aaaa"\n');
    await replies(1);
    // The session is still running (its stdin is open): the write cannot be waiting for exit.
    expect(session.exitCode ?? null).toBeNull();
    expect((await runExsh(['--home', home, '-c', 'xConfiguration SystemUnit Name'])).stdout).toBe('*c xConfiguration SystemUnit Name: "aaaa"\n\nOK\n');

    // Another process changes it (same length, so only a fresh read can tell); the session sees it.
    expect((await runExsh(['--home', home, '-c', 'xConfiguration SystemUnit Name: "bbbb"'])).exitCode).toBe(0);
    session.stdin?.write('xConfiguration SystemUnit Name\n');
    await replies(2);
    session.stdin?.end();
    const done = await session;
    expect(done.exitCode).toBe(0);
    expect(out).toBe('\nOK\n*c xConfiguration SystemUnit Name: "bbbb"\n\nOK\n');
  });
});
