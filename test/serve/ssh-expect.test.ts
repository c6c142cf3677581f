import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, EXSH_BIN, NOW, runExsh, tempHome } from '../helpers/exsh.js';
import { findProgram, PASSWORD, serve, skipReason, stopAll } from './helpers.js';

/**
 * An expect script drives the whole PLR flow through OpenSSH against `exsh serve --ssh`
 * (§11, notes/ssh-clients.md §3), typing at the password prompt of a real terminal.
 * Skipped, saying why, where expect or ssh is missing.
 */

const SCRIPT = fileURLToPath(new URL('./clients/plr.exp', import.meta.url));
const EXPECT = findProgram(['expect'], ['-v']);
const SSH = findProgram(['ssh']);
const missing = skipReason('the expect PLR test', EXPECT === undefined || SSH === undefined, EXPECT === undefined ? 'expect' : 'openssh-client (ssh)');

afterEach(async () => {
  await stopAll();
  cleanHomes();
});

describe('expect over ssh', () => {
  it.skipIf(missing)('the PLR flow: enable, Request, exsh cssm reserve --plr, Install, status, bye (exit 0)', async () => {
    const home = tempHome();
    const s = await serve(home);
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(EXPECT ?? 'expect', [SCRIPT, String(s.port), PASSWORD, process.execPath, EXSH_BIN, home, NOW], {
        env: cleanEnv() as NodeJS.ProcessEnv,
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(r.out).toMatch(/PLR DONE status=0 request=CB-PExpressway,/);
    expect(r.code).toBe(0);
    // The device the session changed is the one the home holds.
    const status = await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus License Smart Reservation Status']);
    expect(status.stdout).toContain('Status: "Reserved - Permanent License Reservation"');
  });
});
