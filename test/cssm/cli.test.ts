import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { confirmationCode, makeReturnCode, parseAuthorizationCode, signatureBytes } from '../../src/codes/index.js';
import { sink } from '../device/helpers.js';
import { cleanHomes, request, T0, tempHome, udi } from './helpers.js';

afterEach(cleanHomes);

/** Runs `exsh cssm <args>` in-process through main(); a failure's diagnostic is parsed back into its code and sentence. */
async function run(home: string, ...args: string[]): Promise<{ stdout: string; stderr: string; error?: { code: string; exitCode: number; message: string } }> {
  const stdout = sink();
  const stderr = sink();
  const exitCode = await main(['--home', home, '--now', T0.toISOString(), '--seed', '1', 'cssm', ...args], { stdin: process.stdin, stdout, stderr, env: {} });
  if (exitCode === 0) return { stdout: stdout.text(), stderr: stderr.text() };
  const m = /^exsh: (.*) \[([\w.]+)\]\n$/m.exec(stderr.text());
  if (!m) throw new Error(`exit ${exitCode} without a diagnostic: ${stderr.text()}`);
  return { stdout: stdout.text(), stderr: stderr.text(), error: { code: m[2] as string, exitCode, message: m[1] as string } };
}

describe('exsh cssm', () => {
  it('licenses prints aligned columns, and --json an array', async () => {
    const home = tempHome();
    const { stdout } = await run(home, 'licenses');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('License                                         Purchased  In Use  Reserved  Balance');
    expect(lines[1]).toBe('Expressway Rich Media Session                         100       0         0      100');
    expect(lines).toHaveLength(19);
    const json = JSON.parse((await run(home, 'licenses', '--json')).stdout) as Array<{ license: string; balance: number }>;
    expect(json[0]).toMatchObject({ license: 'Expressway Rich Media Session', purchased: 100, inUse: 0, reserved: 0, balance: 100 });
  });

  it('reserve prints the code alone; remove prints the summary', async () => {
    const home = tempHome();
    const u = udi('08F8FF3C');
    const { stdout, stderr } = await run(home, 'reserve', '--request', request(u).code, '--plr');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^C[1-9A-HJ-NP-Za-km-z-]+\n$/);
    const code = parseAuthorizationCode(stdout);
    const ret = makeReturnCode('installed', u, code.payload.piid, signatureBytes(code));
    const removed = await run(home, 'remove', '--return-code', ret);
    expect(removed.stdout).toBe('Product instance UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0 removed; 1 licence returned to Default.\n');
  });

  it('reserve --license … --out writes the file and says where on stderr; update, instances and confirm', async () => {
    const home = tempHome();
    const u = udi('08F8FF3C');
    const out = join(home, 'auth.xml');
    const r = await run(
      home,
      'reserve',
      '--request',
      request(u).code,
      '--license',
      'Expressway Rich Media Session=4',
      '--license',
      'expressway room registration=1',
      '--out',
      out,
    );
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`Authorization code written to ${out}.\n`);
    const xml = readFileSync(out, 'utf8');
    expect(xml).toMatch(/^<specificPLR>.*<\/specificPLR>\n$/);
    const first = parseAuthorizationCode(xml);
    expect(first.type === 'SLR' && first.payload.entitlements.map((e) => e.count)).toEqual([4, 1]);

    const up = await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=6');
    const next = parseAuthorizationCode(up.stdout);
    const table = (await run(home, 'instances')).stdout.split('\n');
    expect(table[0]).toBe('Serial    Product Type  Reservation  Status      Virtual Account  Last Contact             Licenses');
    expect(table[1]).toBe(
      '08F8FF3C  EXPY          SLR          In Transit  Default          2024-05-01 12:00:00 UTC  Expressway Rich Media Session: 4 (6 in transit), Expressway Room Registration: 1',
    );
    const c = await run(home, 'confirm', '--instance', '08F8FF3C', '--code', confirmationCode(u, next.payload.piid, signatureBytes(next)));
    expect(c.stdout).toBe('Update of product instance 08F8FF3C confirmed; its reserved licences now match the installed code.\n');
    const json = JSON.parse((await run(home, 'instances', '--json')).stdout) as Array<{ status: string }>;
    expect(json).toHaveLength(1);
    expect(json[0]!.status).toBe('Reserved Licenses');
  });

  it('an unwritable --out reserves nothing', async () => {
    const home = tempHome();
    const r = await run(home, 'reserve', '--request', request(udi('X1')).code, '--plr', '--out', join(home, 'no', 'such', 'dir', 'x'));
    expect(r.error?.code).toBe('cssm.outUnwritable');
    expect((await run(home, 'instances')).stdout).toBe('No product instances.\n');
  });

  it.each([
    [['reserve', '--plr'], 'cssm.missingOption', 2],
    [['reserve', '--request', 'CB-x', '--plr', '--license', 'RMS=1'], 'cssm.conflictingOptions', 2],
    [['reserve', '--request', 'CB-x', '--export-control'], 'cssm.conflictingOptions', 2],
    [['reserve', '--request', 'CB-x'], 'cssm.missingOption', 2],
    [['reserve', '--request', 'CB-x', '--license', 'Expressway Rich Media Session'], 'cssm.badLicenceArgument', 2],
    [['reserve', '--request', 'CB-x', '--plr'], 'cssm.requestMistyped', 1],
    [['update', '--license', 'x=1'], 'cssm.missingOption', 2],
    [['update', '--instance', 'A'], 'cssm.missingOption', 2],
    [['confirm', '--instance', 'A'], 'cssm.missingOption', 2],
    [['remove'], 'cssm.missingOption', 2],
    [['licenses', '--virtual-account', 'Nope'], 'cssm.unknownVirtualAccount', 1],
  ])('%j fails with %s (exit %d)', async (args, code, exitCode) => {
    const r = await run(tempHome(), ...args);
    expect(r.error).toMatchObject({ code, exitCode });
  });

  it('a quantity that is not a whole number reaches the service as a bad quantity', async () => {
    const r = await run(tempHome(), 'reserve', '--request', request(udi('X1')).code, '--license', 'Expressway Rich Media Session=2.5');
    expect(r.error?.code).toBe('cssm.badQuantity');
    expect(r.error?.message).toBe("The quantity for Expressway Rich Media Session must be a whole number of 1 or more, not '2.5'.");
  });

  it('init reports the authority, and --new-key prints the public key to trust', async () => {
    const home = tempHome();
    const a = await run(home, 'init');
    expect(a.stdout).toMatch(
      /^Created .*cssm\.sqlite: smart account "Demo Smart Account", virtual account Default with the demo inventory\.\nCodes are signed by the built-in demo authority \(fingerprint [0-9a-f]{16}\); devices trust it out of the box\.\n$/,
    );
    const b = await run(home, 'init', '--new-key');
    expect(b.stdout).toContain('already exists');
    expect(b.stdout).toContain('-----BEGIN PUBLIC KEY-----');
    expect(existsSync(join(home, 'authority', 'private-key.pem'))).toBe(true);
  });
});
