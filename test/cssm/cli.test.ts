import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import Database from 'better-sqlite3';
import { confirmationCode, makeReturnCode, parseAuthorizationCode, signatureBytes } from '../../src/codes/index.js';
import { closeDatabases } from '../../src/cssm/db.js';
import { sink } from '../device/helpers.js';
import { cleanHomes, request, T0, tempHome, udi } from './helpers.js';

afterEach(cleanHomes);

/** Runs `exsh cssm <args>` in-process through main(); a failure's diagnostic is parsed back into its code and sentence. */
async function run(home: string, ...args: string[]): Promise<{ stdout: string; stderr: string; error?: { code: string; exitCode: number; message: string } }> {
  return runWith(home, [], ...args);
}

/** `exsh <globals> cssm <args>`, e.g. with `--output json`. */
async function runWith(
  home: string,
  globals: string[],
  ...args: string[]
): Promise<{ stdout: string; stderr: string; error?: { code: string; exitCode: number; message: string } }> {
  const stdout = sink();
  const stderr = sink();
  const exitCode = await main(['--home', home, '--now', T0.toISOString(), '--seed', '1', ...globals, 'cssm', ...args], {
    stdin: process.stdin,
    stdout,
    stderr,
    env: {},
  });
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
    expect(table[0]).toBe('Serial    Product Type  Reservation  Status      Virtual Account  Last Contact             Cert Expires  Licenses');
    expect(table[1]).toBe(
      '08F8FF3C  EXPY          SLR          In Transit  Default          2024-05-01 12:00:00 UTC  -             Expressway Rich Media Session: 4 (6 in transit), Expressway Room Registration: 1',
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
    [['remove', '--instance', 'A1'], 'cssm.missingOption', 2],
    [['remove', '--force'], 'cssm.missingOption', 2],
    [['remove', '--instance', 'A1', '--force', '--return-code', 'Cxyz'], 'cssm.conflictingOptions', 2],
    [['code'], 'cssm.missingOption', 2],
    [['code', '--instance', 'A1'], 'cssm.unknownInstance', 1],
    [['code', '--instance', 'A-1'], 'cssm.badSerial', 2],
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

  it('remove needs a return code or --force, naming both ways', async () => {
    const r = await run(tempHome(), 'remove', '--instance', '08F8FF3C');
    expect(r.error).toEqual({
      code: 'cssm.missingOption',
      exitCode: 2,
      message: 'cssm remove needs --return-code <code> (the return code from the device), or --instance <serial> --force to remove the instance without one.',
    });
  });

  it('remove --instance --force removes without a return code and says what it released', async () => {
    const home = tempHome();
    await run(
      home,
      'reserve',
      '--request',
      request(udi('08F8FF3C')).code,
      '--license',
      'Expressway Rich Media Session=4',
      '--license',
      'Expressway Room Registration=2',
    );
    await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=5');
    const r = await run(home, 'remove', '--instance', '08F8FF3C', '--force');
    expect(r).toEqual({
      stdout:
        'Product instance UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0 removed without a return code; 7 licences returned to Default: Expressway Rich Media Session 5, Expressway Room Registration 2.\n',
      stderr: '',
    });
    expect((await run(home, 'instances')).stdout).toBe('No product instances.\n');
  });

  it('code --instance prints the codes issued, latest first, to show them again', async () => {
    const home = tempHome();
    const u = udi('08F8FF3C');
    const first = (await run(home, 'reserve', '--request', request(u).code, '--license', 'Expressway Rich Media Session=4')).stdout.trim();
    expect((await run(home, 'code', '--instance', '08F8FF3C')).stdout).toBe(`Current code, issued 2024-05-01 12:00:00 UTC:\n${first}\n`);
    const next = (await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=6')).stdout.trim();
    expect((await run(home, 'code', '--instance', '08F8FF3C')).stdout).toBe(
      `Pending code (update in transit), issued 2024-05-01 12:00:00 UTC:\n${next}\n\nCurrent code, issued 2024-05-01 12:00:00 UTC:\n${first}\n`,
    );
    const p = parseAuthorizationCode(next);
    await run(home, 'confirm', '--instance', '08F8FF3C', '--code', confirmationCode(u, p.payload.piid, signatureBytes(p)));
    expect((await run(home, 'code', '--instance', '08F8FF3C')).stdout).toBe(
      `Current code, issued 2024-05-01 12:00:00 UTC, confirmed 2024-05-01 12:00:00 UTC:\n${next}\n\nSuperseded code, issued 2024-05-01 12:00:00 UTC:\n${first}\n`,
    );
    const json = JSON.parse((await run(home, 'code', '--instance', '08F8FF3C', '--json')).stdout) as {
      instance: string;
      codes: Array<{ state: string; code: string }>;
    };
    expect(json.instance).toBe('08F8FF3C');
    expect(json.codes.map((c) => [c.state, c.code])).toEqual([
      ['current', next],
      ['superseded', first],
    ]);
  });

  it('a second reserve for the serial points to cssm code', async () => {
    const home = tempHome();
    const req = request(udi('08F8FF3C')).code;
    await run(home, 'reserve', '--request', req, '--plr');
    const r = await run(home, 'reserve', '--request', req, '--plr');
    expect(r.error).toMatchObject({ code: 'cssm.alreadyReserved', exitCode: 1 });
    expect(r.error?.message).toContain('show its code with exsh cssm code --instance 08F8FF3C');
  });

  it('update while an update is in transit is refused, pointing to confirm', async () => {
    const home = tempHome();
    await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--license', 'Expressway Rich Media Session=4');
    await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=6');
    const r = await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=2');
    expect(r).toEqual({
      stdout: '',
      stderr:
        'exsh: Product instance 08F8FF3C has an update in transit: confirm it first (exsh cssm confirm --instance 08F8FF3C --code <confirmation code>), or return the reservation on the device and remove the instance. [cssm.updateInTransit]\n',
      error: expect.objectContaining({ code: 'cssm.updateInTransit', exitCode: 1 }),
    });
  });

  describe('--json, and --output json, print exactly one JSON document', () => {
    async function flow(json: (...args: string[]) => Promise<{ stdout: string; stderr: string }>) {
      const u = udi('08F8FF3C');
      const docs: Record<string, unknown> = {};
      const parse = (name: string, r: { stdout: string; stderr: string }) => {
        expect(r.stderr).toBe('');
        expect(r.stdout.endsWith('}\n') || r.stdout.endsWith(']\n')).toBe(true);
        docs[name] = JSON.parse(r.stdout);
        return docs[name] as Record<string, unknown>;
      };
      parse('init', await json('init'));
      const reserved = parse('reserve', await json('reserve', '--request', request(u).code, '--license', 'Expressway Rich Media Session=4'));
      const updated = parse('update', await json('update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=6'));
      const p = parseAuthorizationCode(updated.code as string);
      parse('confirm', await json('confirm', '--instance', '08F8FF3C', '--code', confirmationCode(u, p.payload.piid, signatureBytes(p))));
      parse('code', await json('code', '--instance', '08F8FF3C'));
      parse('licenses', await json('licenses'));
      parse('instances', await json('instances'));
      const first = parseAuthorizationCode(reserved.code as string);
      parse('remove', await json('remove', '--return-code', makeReturnCode('unused', u, first.payload.piid, signatureBytes(first))));
      return docs;
    }

    it('--json on every subcommand', async () => {
      const home = tempHome();
      const docs = await flow((...args) => run(home, ...[...args, '--json']));
      expect(docs.init).toMatchObject({ created: true, account: 'Demo Smart Account', virtualAccount: 'Default', authority: 'demo' });
      expect(docs.reserve).toEqual({
        code: expect.stringMatching(/^<specificPLR>/),
        instance: '08F8FF3C',
        udi: 'UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0',
        piid: expect.any(String),
        reservationType: 'SLR',
        virtualAccount: 'Default',
        status: 'Reserved Licenses',
        timestamp: T0.toISOString(),
        licenses: [{ license: 'Expressway Rich Media Session', tag: expect.any(String), count: 4 }],
      });
      expect(docs.update).toMatchObject({ instance: '08F8FF3C', status: 'In Transit', licenses: [{ license: 'Expressway Rich Media Session', count: 6 }] });
      expect(docs.confirm).toMatchObject({ instance: '08F8FF3C', completed: true, licenses: [{ license: 'Expressway Rich Media Session', reserved: 6 }] });
      expect(docs.code).toMatchObject({ instance: '08F8FF3C', status: 'Reserved Licenses', codes: [{ state: 'current' }, { state: 'superseded' }] });
      expect(docs.remove).toEqual({
        instance: '08F8FF3C',
        udi: 'UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0',
        virtualAccount: 'Default',
        licencesReturned: 6,
        licenses: [{ license: 'Expressway Rich Media Session', tag: expect.any(String), count: 6 }],
        returnKind: 'unused',
        forced: false,
        registered: false,
      });
    });

    it('--output json implies --json, with the same documents', async () => {
      const a = tempHome();
      const b = tempHome();
      const withFlag = await flow((...args) => run(a, ...[...args, '--json']));
      const withOutput = await flow((...args) => runWith(b, ['--output', 'json'], ...args));
      // Codes and piids differ (each request has its own nonce): compare the documents' shapes.
      const shape = (v: unknown): unknown =>
        Array.isArray(v) ? v.map(shape) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)])) : typeof v;
      expect(shape(withOutput)).toEqual(shape(withFlag));
    });

    it('reserve --out --json names the file instead of printing the code', async () => {
      const home = tempHome();
      const out = join(home, 'auth.txt');
      const r = await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--plr', '--out', out, '--json');
      expect(r.stderr).toBe('');
      const doc = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(doc).toMatchObject({ instance: '08F8FF3C', file: out, reservationType: 'PLR' });
      expect(doc).not.toHaveProperty('code');
      expect(readFileSync(out, 'utf8')).toMatch(/^C[1-9A-HJ-NP-Za-km-z-]+\n$/);
    });
  });

  describe('control characters are never printed raw', () => {
    it('a request code with an escape sequence in its serial is refused, and the serial shown escaped', async () => {
      const r = await run(tempHome(), 'reserve', '--request', request(udi('AB\x1b[2JCD')).code, '--plr');
      expect(r.error).toEqual({
        code: 'cssm.requestBadSerial',
        exitCode: 1,
        message: "The reservation request code's serial number 'AB\\x1b[2JCD' is not one this CSSM accepts: a serial number is 1 to 16 letters and digits.",
      });
      expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    });

    it('in --instance and licence names echoed by errors', async () => {
      const home = tempHome();
      const bad = await run(home, 'update', '--instance', '08F8\x1b]0;pwned\x07FF3C', '--license', 'x=1');
      expect(bad.error).toMatchObject({ code: 'cssm.badSerial', exitCode: 2 });
      expect(bad.stderr).toBe(
        "exsh: '08F8\\x1b]0;pwned\\x07FF3C' is not a serial number: a product instance's serial number is 1 to 16 letters and digits, such as 08F8FF3C. [cssm.badSerial]\n",
      );
      const licence = await run(home, 'reserve', '--request', request(udi('A1')).code, '--license', 'Expressway\x1b[31m=1');
      expect(licence.stderr).toBe('exsh: No licence in the catalogue is named "Expressway\\x1b[31m". [cssm.unknownLicence]\n');
      await run(home, 'reserve', '--request', request(udi('A1')).code, '--license', 'Expressway Rich Media Session=1');
      const code = await run(home, 'confirm', '--instance', 'A1', '--code', '\x9b2J');
      expect(code.stderr).toBe(
        "exsh: The confirmation code '\\x9b2J' does not match the authorization code of product instance A1; install that code on the device and enter the confirmation code it prints. [cssm.wrongConfirmationCode]\n",
      );
    });

    it('in tables, messages and JSON, for what is already stored (a virtual account, an older database)', async () => {
      const home = tempHome();
      const init = await run(home, 'init', '--virtual-account', 'Lab\x1b[2J');
      expect(init.stdout).toContain('virtual account Lab\\x1b[2J with the demo inventory.');
      await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--plr');
      closeDatabases();
      // A serial stored before serials were checked (or written by hand).
      const db = new Database(join(home, 'cssm.sqlite'));
      db.prepare(`UPDATE product_instance SET udi_serial = ?, udi_pid = ?`).run('08F8\x1b[2J\x9b', 'Exp\x07');
      db.close();
      const table = await run(home, 'instances');
      expect(table.stdout.split('\n')[1]).toBe(
        '08F8\\x1b[2J\\x9b  EXPY          PLR          Reserved Licenses  Lab\\x1b[2J       2024-05-01 12:00:00 UTC  -             Expressway PLR without Export Control: 1',
      );
      const json = await run(home, 'instances', '--json');
      expect(json.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      expect(json.stdout).toContain('"serial": "08F8\\u001b[2J\\u009b"');
      expect((JSON.parse(json.stdout) as Array<{ serial: string }>)[0]!.serial).toBe('08F8\x1b[2J\x9b');
      const missing = await run(home, 'licenses', '--virtual-account', 'Nope\x1b[2J');
      expect(missing.stderr).toBe('exsh: There is no virtual account "Nope\\x1b[2J"; the smart account has Lab\\x1b[2J. [cssm.unknownVirtualAccount]\n');
    });
  });
});
