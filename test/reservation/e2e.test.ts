import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The seed's procedures end to end against the built `exsh` and `exsh cssm` (run
 * `npm run build` first; `npm test` does): PLR, SLR with updates, Cancel +
 * ReturnAuthorization, a pasted multi-line code, the refusals, a VCS, a private authority.
 */

const BIN = fileURLToPath(new URL('../../bin/exsh.cjs', import.meta.url));
const NOW = '2026-03-01T10:00:00Z';
const homes: string[] = [];

function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'exsh-resv-e2e-'));
  homes.push(h);
  return h;
}
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function exsh(h: string, args: string[], input = ''): Promise<Run> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EXSH_') && k !== 'NO_COLOR') env[k] = v;
  const r = await execa(process.execPath, [BIN, '--home', h, '--now', NOW, ...args], {
    input,
    env: { ...env, NO_COLOR: '1' },
    extendEnv: false,
    stripFinalNewline: false,
    reject: false,
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The device shell: each line a -c, in one process. */
function device(h: string, ...lines: string[]): Promise<Run> {
  return exsh(
    h,
    lines.flatMap((l) => ['-c', l]),
  );
}

async function ok(p: Promise<Run>): Promise<string> {
  const r = await p;
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

const ENABLE = 'xConfiguration License Smart ReservationEnable: On';
const REQUEST = 'xCommand License Smart Reservation Request';
const INSTALL = 'xCommand License Smart Reservation Install';
const RETURN = 'xCommand License Smart Reservation Return';

const REQUEST_REPLY =
  /^\nEnter the following reservation request code into the CSSM:\n(CB-PExpressway,S[0-9A-F]{8},V1\.0,H[0-9a-f]{8}-A[1-9A-HJ-NP-Za-km-z]{8}-[0-9A-F]{2})\n\nOK\n$/;
const RETURN_REPLY =
  /^\nEnter the following return code into the CSSM:\n(C[1-9A-HJ-NP-Za-km-z]{5}(?:-[1-9A-HJ-NP-Za-km-z]{6}){7}-[1-9A-HJ-NP-Za-km-z]{3})\n\nOK\n$/;
const SLR_INSTALLED = /^Authorization code installed\.\nPlease enter the confirmation code to CSSM account: ([0-9a-f]{8})\n\nOK\n$/;

function match(re: RegExp, text: string): string {
  const m = re.exec(text);
  expect(m, text).not.toBeNull();
  return m![1]!;
}

async function enableAndRequest(h: string, deviceName?: string): Promise<string> {
  const args = deviceName ? ['--device', deviceName] : [];
  // A second device of the home is created explicitly: made on first use, exsh notes it on stderr.
  if (deviceName) expect((await exsh(h, ['devices', 'create', deviceName])).exitCode).toBe(0);
  const out = await ok(exsh(h, [...args, '-c', ENABLE, '-c', REQUEST]));
  expect(out.startsWith('\nOK\n')).toBe(true);
  return match(REQUEST_REPLY, out.slice('\nOK\n'.length));
}

interface LicenceRow {
  license: string;
  purchased: number;
  inUse: number;
  reserved: number;
  balance: number;
}

async function licences(h: string): Promise<Map<string, LicenceRow>> {
  const rows = JSON.parse(await ok(exsh(h, ['cssm', 'licenses', '--json']))) as LicenceRow[];
  return new Map(rows.map((r) => [r.license, r]));
}

async function serialOf(h: string): Promise<string> {
  return match(/SerialNumber: "([0-9A-F]{8})"/, await ok(device(h, 'xStatus SystemUnit Hardware SerialNumber')));
}

function errorReply(result: string, reason: string, code: string): string {
  return `*r ${result} (status=Error):\n    Reason: ${JSON.stringify(reason)}\n    Code: "${code}"\n*r/end\n\nERROR\n`;
}

async function reservationStatus(h: string): Promise<string> {
  return match(/ {8}Status: "([^"]+)"/, await ok(device(h, 'xStatus License Smart Reservation Status')));
}

describe('Permanent License Reservation, the seed procedure', () => {
  it('request → cssm reserve --plr → install → return → cssm remove: licences back in the pool', async () => {
    const h = home();
    const before = await licences(h);
    const request = await enableAndRequest(h);
    // Repeated while in progress: the same code.
    expect(await ok(device(h, REQUEST))).toBe(`\nEnter the following reservation request code into the CSSM:\n${request}\n\nOK\n`);

    const code = (await ok(exsh(h, ['cssm', 'reserve', '--request', request, '--plr']))).trim();
    expect(code).toMatch(/^C[1-9A-HJ-NP-Za-km-z]{5}(-[1-9A-HJ-NP-Za-km-z]{6})+(-[1-9A-HJ-NP-Za-km-z]{1,6})?$/);
    expect((await licences(h)).get('Expressway PLR without Export Control')!.reserved).toBe(before.get('Expressway PLR without Export Control')!.reserved + 1);

    expect(await ok(device(h, `${INSTALL} ${code}`))).toBe('Authorization code installed.\n\nOK\n');
    const status = await ok(device(h, 'xStatus License Smart'));
    expect(status).toContain('        Status: "Reserved - Permanent License Reservation"\n');
    expect(status).toContain('      Authorization:\n        Status: "Authorized - Reserved"\n');

    const returnCode = match(RETURN_REPLY, await ok(device(h, RETURN)));
    expect(await reservationStatus(h)).toBe('Not Reserved');
    const serial = await serialOf(h);
    expect(await ok(exsh(h, ['cssm', 'remove', '--return-code', returnCode]))).toBe(
      `Product instance UDI_PID:Expressway; UDI_SN:${serial}; UDI_VID:1.0 removed; 1 licence returned to Default.\n`,
    );
    expect(await licences(h)).toEqual(before);
    expect(await ok(device(h, 'xConfiguration License Smart ReservationEnable: Off'))).toBe('\nOK\n');
  });
});

describe('Specific License Reservation with an increase and a decrease', () => {
  it('each update is installed and confirmed at the CSSM; the return releases the final count', async () => {
    const h = home();
    const rms = 'Expressway Rich Media Session';
    const before = (await licences(h)).get(rms)!;
    const request = await enableAndRequest(h);
    const file = join(h, 'auth.xml');
    const reserved = await exsh(h, ['cssm', 'reserve', '--request', request, '--license', `${rms}=4`, '--out', file]);
    expect(reserved).toMatchObject({ exitCode: 0, stdout: '', stderr: `Authorization code written to ${file}.\n` });
    const xml = readFileSync(file, 'utf8').trim();
    expect(xml.startsWith('<specificPLR><authorizationCode><flag>A</flag><version>C</version><piid>')).toBe(true);

    const first = match(SLR_INSTALLED, await ok(device(h, `${INSTALL} "${xml}"`)));
    const serial = await serialOf(h);
    expect(await ok(exsh(h, ['cssm', 'confirm', '--instance', serial, '--code', first]))).toBe(`Confirmation code accepted for product instance ${serial}.\n`);
    expect((await licences(h)).get(rms)!.reserved).toBe(before.reserved + 4);

    for (const qty of [6, 2]) {
      const update = (await ok(exsh(h, ['cssm', 'update', '--instance', serial, '--license', `${rms}=${qty}`]))).trim();
      const confirmation = match(SLR_INSTALLED, await ok(device(h, `${INSTALL} "${update}"`)));
      expect(await ok(device(h, 'xStatus License Smart Reservation LastConfirmationCode'))).toContain(`LastConfirmationCode: "${confirmation}"`);
      expect(await ok(device(h, 'xStatus License Smart Entitlement 1 Count'))).toBe(
        `*s License: /\n    Smart:\n      Entitlement 1:\n        Count: ${qty}\n*s/end\n\nOK\n`,
      );
      expect(await ok(exsh(h, ['cssm', 'confirm', '--instance', serial, '--code', confirmation]))).toBe(
        `Update of product instance ${serial} confirmed; its reserved licences now match the installed code.\n`,
      );
      expect((await licences(h)).get(rms)!.reserved).toBe(before.reserved + qty);
    }

    const returnCode = match(RETURN_REPLY, await ok(device(h, RETURN)));
    expect(await ok(exsh(h, ['cssm', 'remove', '--return-code', returnCode]))).toBe(
      `Product instance UDI_PID:Expressway; UDI_SN:${serial}; UDI_VID:1.0 removed; 2 licences returned to Default.\n`,
    );
    expect((await licences(h)).get(rms)).toEqual(before);
  });
});

describe('Cancel, then release a code that will never be installed', () => {
  it('Cancel → ReturnAuthorization → cssm remove', async () => {
    const h = home();
    const before = await licences(h);
    const request = await enableAndRequest(h);
    const code = (await ok(exsh(h, ['cssm', 'reserve', '--request', request, '--license', 'Expressway Room Registration=3']))).trim();
    expect(await ok(device(h, 'xCommand License Smart Reservation Cancel'))).toBe('\nOK\n');
    expect(await reservationStatus(h)).toBe('Not Reserved');
    const returnCode = match(RETURN_REPLY, await ok(device(h, `xCommand License Smart Reservation ReturnAuthorization "${code}"`)));
    expect(await ok(device(h, 'xStatus License Smart Reservation LastReturnCode'))).toContain(`LastReturnCode: "${returnCode}"`);
    const serial = await serialOf(h);
    expect(await ok(exsh(h, ['cssm', 'remove', '--return-code', returnCode]))).toBe(
      `Product instance UDI_PID:Expressway; UDI_SN:${serial}; UDI_VID:1.0 removed; 3 licences returned to Default.\n`,
    );
    expect(await licences(h)).toEqual(before);
    // The next Request is a new one.
    expect(match(REQUEST_REPLY, await ok(device(h, REQUEST)))).not.toBe(request);
  });
});

describe('an SLR code pasted as a dot-terminated multi-line body', () => {
  it('installs with line breaks inside tags, the signature and a display name (CRLF too)', async () => {
    const h = home();
    const request = await enableAndRequest(h);
    const xml = (
      await ok(
        exsh(h, [
          'cssm',
          'reserve',
          '--request',
          request,
          '--license',
          'Expressway Rich Media Session=4',
          '--license',
          'Expressway Advanced Account Security=1',
        ]),
      )
    ).trim();
    const cuts = [
      xml.indexOf('<authorizationCode>') + 7,
      xml.indexOf('Rich Media') + 7,
      xml.indexOf('<signature>') + 11 + 33,
      xml.indexOf('<signature>') + 11 + 70,
      xml.indexOf('<udi>') + 3,
    ].sort((a, b) => a - b);
    const pieces: string[] = [];
    let at = 0;
    for (const c of cuts) {
      pieces.push(xml.slice(at, c));
      at = c;
    }
    pieces.push(xml.slice(at));
    expect(pieces.some((p) => p.endsWith('Rich Me'))).toBe(true);
    const input = `${INSTALL}\r\n${pieces.join('\r\n')}\r\n.\r\nxStatus License Smart ExportControlled\n`;
    const r = await exsh(h, [], input);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const [install, status] = r.stdout.split(/(?<=\nOK\n)/);
    match(SLR_INSTALLED, install!);
    expect(status).toBe('*s License: /\n    Smart:\n      ExportControlled: "Allowed"\n*s/end\n\nOK\n');
  });
});

describe('refusals, each with its code and nothing changed', () => {
  it('Install with no request in progress', async () => {
    const h = home();
    const request = await enableAndRequest(h);
    const code = (await ok(exsh(h, ['cssm', 'reserve', '--request', request, '--plr']))).trim();
    await ok(device(h, 'xCommand License Smart Reservation Cancel'));
    const r = await device(h, `${INSTALL} ${code}`);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe(
      errorReply(
        'LicenseSmartReservationInstallResult',
        'Cannot install the authorization code: no reservation request in progress; use ReturnAuthorization to release a code that will not be installed.',
        'reservation.noRequest',
      ),
    );
    expect(await reservationStatus(h)).toBe('Not Reserved');
  });

  it('a tampered signature, a code for another device, then a PLR code over the SLR, a stale update, and Off while reserved', async () => {
    const h = home();
    const request = await enableAndRequest(h);
    const xml = (await ok(exsh(h, ['cssm', 'reserve', '--request', request, '--license', 'Expressway Rich Media Session=4']))).trim();

    const tampered = xml.replace('<count>4</count>', '<count>40</count>');
    const t = await device(h, `${INSTALL} "${tampered}"`);
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toBe(
      errorReply(
        'LicenseSmartReservationInstallResult',
        'The authorization code signature is not valid: the code was altered, or it was signed by an authority this system does not trust (see exsh trust list).',
        'reservation.badSignature',
      ),
    );
    expect(await reservationStatus(h)).toBe('Reservation In Progress');

    // A second device asks for its own code; installing that on the first one fails.
    const otherRequest = await enableAndRequest(h, 'other');
    const otherCode = (await ok(exsh(h, ['cssm', 'reserve', '--request', otherRequest, '--license', 'Expressway Rich Media Session=1']))).trim();
    const otherUdi = match(/<udi>([^<]+)<\/udi>/, otherCode);
    const mine = await ok(device(h, 'xStatus SystemUnit UDI'));
    const myUdi = `P:Expressway,S:${match(/SerialNumber: "(\w+)"/, mine)},V:1.0,H:${match(/HostIdentifier: "(\w+)"/, mine)}`;
    const o = await device(h, `${INSTALL} "${otherCode}"`);
    expect(o.stdout).toBe(
      errorReply(
        'LicenseSmartReservationInstallResult',
        `The authorization code does not match this product instance (UDI ${myUdi}): it was issued for UDI ${otherUdi}.`,
        'reservation.udiMismatch',
      ),
    );
    expect(o.exitCode).toBe(1);

    match(SLR_INSTALLED, await ok(device(h, `${INSTALL} "${xml}"`)));

    // A PLR code for the same request from another CSSM (another home): not over an SLR.
    const plr = (await ok(exsh(home(), ['cssm', 'reserve', '--request', request, '--plr']))).trim();
    const p = await device(h, `${INSTALL} ${plr}`);
    expect(p.exitCode).toBe(1);
    expect(p.stdout).toBe(
      errorReply(
        'LicenseSmartReservationInstallResult',
        'A PLR authorization code cannot update the Specific License Reservation installed on this system; return it first with xCommand License Smart Reservation Return.',
        'reservation.typeMismatch',
      ),
    );

    // Install an update, then the original again: stale.
    const serial = await serialOf(h);
    const update = (await ok(exsh(h, ['cssm', 'update', '--instance', serial, '--license', 'Expressway Rich Media Session=5']))).trim();
    match(SLR_INSTALLED, await ok(device(h, `${INSTALL} "${update}"`)));
    const s = await device(h, `${INSTALL} "${xml}"`);
    expect(s.exitCode).toBe(1);
    expect(s.stdout).toMatch(
      /^\*r LicenseSmartReservationInstallResult \(status=Error\):\n {4}Reason: "The authorization code is not newer than the one installed \(issued [^)]+\); install the latest code from CSSM\."\n {4}Code: "reservation\.stale"\n\*r\/end\n\nERROR\n$/,
    );
    expect(await ok(device(h, 'xStatus License Smart Entitlement 1 Count'))).toContain('Count: 5');

    const off = await device(h, 'xConfiguration License Smart ReservationEnable: Off');
    expect(off.exitCode).toBe(1);
    expect(off.stdout).toBe(
      errorReply(
        'Result',
        'License reservation cannot be turned off while a reservation is installed (Reserved - Specific License Reservation); return it first with xCommand License Smart Reservation Return.',
        'reservation.cannotDisable',
      ),
    );
    expect(await ok(device(h, 'xConfiguration License Smart ReservationEnable'))).toBe('*c xConfiguration License Smart ReservationEnable: On\n\nOK\n');
  });
});

describe('a Cisco VCS', () => {
  it('refuses every License Smart command and ReservationEnable', async () => {
    const h = home();
    expect((await exsh(h, ['devices', 'create', 'v1', '--brand', 'VCS'])).exitCode).toBe(0);
    const lines = [
      ['Result', ENABLE],
      ['LicenseSmartReservationRequestResult', REQUEST],
      ['LicenseSmartReservationInstallResult', `${INSTALL} CAAAAA`],
      ['LicenseSmartReservationReturnResult', RETURN],
      ['LicenseSmartReservationReturnAuthorizationResult', 'xCommand License Smart Reservation ReturnAuthorization CAAAAA'],
      ['LicenseSmartReservationCancelResult', 'xCommand License Smart Reservation Cancel'],
    ];
    const r = await exsh(h, ['--device', 'v1', ...lines.flatMap(([, l]) => ['-c', l!])]);
    expect(r.exitCode).toBe(1);
    const reason = 'Smart Licensing is not available on Cisco VCS: this system uses option keys. Switch it to Expressway with xCommand ServiceSelect first.';
    expect(r.stdout).toBe(lines.map(([name]) => errorReply(name!, reason, 'license.notAvailableOnVcs')).join(''));
  });
});

describe('a private authority (§6.7)', () => {
  it('codes from cssm init --new-key verify only after exsh trust add', async () => {
    const h = home();
    const init = await ok(exsh(h, ['cssm', 'init', '--new-key']));
    const fingerprint = match(/\(fingerprint ([0-9a-f]{16})\)/, init);
    const pem = join(h, 'authority.pem');
    writeFileSync(pem, init.slice(init.indexOf('-----BEGIN')));

    const request = await enableAndRequest(h);
    const code = (await ok(exsh(h, ['cssm', 'reserve', '--request', request, '--plr']))).trim();
    const refused = await device(h, `${INSTALL} ${code}`);
    expect(refused.stdout, refused.stderr).toContain('Code: "reservation.badSignature"');
    expect(refused.exitCode).toBe(1);

    expect(await ok(exsh(h, ['trust', 'add', pem, '--name', 'lab']))).toBe(`Trusted lab (fingerprint ${fingerprint}) on device expressway.\n`);
    const list = await ok(exsh(h, ['trust', 'list']));
    expect(list.split('\n')[0]).toBe('Name  Fingerprint       Source                   Added');
    expect(list).toContain(`lab   ${fingerprint}  added                    2026-03-01T10:00:00Z\n`);
    expect(list).toContain('demo  071eaf50ca4f1a49  built-in demo authority');

    const again = await exsh(h, ['trust', 'add', pem]);
    expect(again).toMatchObject({ exitCode: 1, stdout: '', stderr: `exsh: The key ${fingerprint} is already trusted, as 'lab'. [trust.duplicate]\n` });

    expect(await ok(device(h, `${INSTALL} ${code}`))).toBe('Authorization code installed.\n\nOK\n');
    expect(await ok(exsh(h, ['trust', 'remove', 'demo']))).toBe('Removed demo (fingerprint 071eaf50ca4f1a49) from the trust store of device expressway.\n');
    const json = JSON.parse(await ok(exsh(h, ['trust', 'list', '--json']))) as Array<{ name: string; fingerprint: string; builtin: boolean }>;
    expect(json.map((k) => [k.name, k.fingerprint, k.builtin])).toEqual([['lab', fingerprint, false]]);
    const missing = await exsh(h, ['trust', 'remove', 'demo']);
    expect(missing).toMatchObject({
      exitCode: 1,
      stderr: "exsh: No trusted key is named or has the fingerprint 'demo' (see exsh trust list). [trust.notFound]\n",
    });
    // The private key file works too: only its public half is kept.
    const viaPrivate = await exsh(h, ['--device', 'lab2', 'trust', 'add', join(h, 'authority', 'private-key.pem')]);
    expect(viaPrivate.exitCode).toBe(0);
    expect(viaPrivate.stdout).toBe(`Trusted authority-${fingerprint.slice(0, 8)} (fingerprint ${fingerprint}) on device lab2.\n`);
    expect(viaPrivate.stderr).toContain('holds a private key; only its public key was added');
  });
});
