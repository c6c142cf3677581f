import { afterEach, describe, expect, it } from 'vitest';
import { confirmationCode, formatUdi, makeReturnCode, parseAuthorizationCode, signatureBytes } from '../../src/codes/index.js';
import { unregistered } from '../../src/device/registration-state.js';
import { editTrust } from '../../src/device/trust-state.js';
import {
  AAS,
  ANOTHER_DEVICE,
  cleanHomes,
  errorReply,
  OK,
  otherAuthority,
  piidOf,
  plrCode,
  requestCodeOf,
  returnCodeOf,
  RMS,
  RMS_TERM,
  slrCode,
  strangerPiid,
  T_ISSUED,
  testDevice,
  type TestDevice,
} from './helpers.js';

/**
 * The reservation state machine (§6.1, §6.3) in-process: a device on a temporary home
 * with a pinned clock and seed, driven through a Session exactly as the shell drives it.
 * Every refused transition asserts its stable code and that the stored state is unchanged.
 */

afterEach(cleanHomes);

const ENABLE = 'xConfiguration License Smart ReservationEnable: On';
const DISABLE = 'xConfiguration License Smart ReservationEnable: Off';
const REQUEST = 'xCommand License Smart Reservation Request';
const INSTALL = 'xCommand License Smart Reservation Install';
const RETURN = 'xCommand License Smart Reservation Return';
const RETURN_AUTH = 'xCommand License Smart Reservation ReturnAuthorization';
const CANCEL = 'xCommand License Smart Reservation Cancel';

/**
 * Connected-mode registration is a later wave (§9): this stands in for its subsystem,
 * declaring the `registration` section whose status reservation's hook reads.
 */

type Cmd = 'Request' | 'Install' | 'Return' | 'ReturnAuthorization' | 'Cancel';

/** Runs a line that must be refused with `code`, and checks that nothing was written. */
async function refused(t: TestDevice, cmd: Cmd | 'Config', line: string, code: string, body?: string): Promise<string> {
  const before = await t.stored();
  const out = await t.run(line, body);
  const name = cmd === 'Config' ? 'Result' : `LicenseSmartReservation${cmd}Result`;
  const m = new RegExp(`^\\*r ${name} \\(status=Error\\):\\n {4}Reason: "(.*)"\\n {4}Code: "([^"]+)"\\n\\*r/end\\n\\nERROR\\n$`).exec(out);
  expect(m, out).not.toBeNull();
  expect(m![2]).toBe(code);
  expect(await t.stored()).toBe(before);
  return m![1]!;
}

async function enabled(): Promise<TestDevice> {
  const t = await testDevice();
  expect(await t.run(ENABLE)).toBe(OK);
  return t;
}

async function inProgress(): Promise<{ t: TestDevice; request: string; piid: string }> {
  const t = await enabled();
  const request = requestCodeOf(await t.run(REQUEST));
  return { t, request, piid: piidOf(t.udi, request) };
}

async function plrReserved(opts: { exportControl?: boolean } = {}) {
  const p = await inProgress();
  const code = plrCode(p.t.udi, p.piid, opts);
  expect(await p.t.run(`${INSTALL} ${code}`)).toBe('Authorization code installed.\n\nOK\n');
  return { ...p, code };
}

async function slrReserved(entitlements = [RMS]) {
  const p = await inProgress();
  const code = slrCode(p.t.udi, p.piid, { entitlements });
  const out = await p.t.run(`${INSTALL} "${code}"`);
  expect(out).toMatch(/^Authorization code installed\.\nPlease enter the confirmation code to CSSM account: [0-9a-f]{8}\n\nOK\n$/);
  return { ...p, code };
}

describe('ReservationEnable', () => {
  it('defaults to Off, turns On with a blank line and OK, and shows in xConfiguration', async () => {
    const t = await testDevice();
    expect(await t.run('xConfiguration License Smart ReservationEnable')).toBe('*c xConfiguration License Smart ReservationEnable: Off\n\nOK\n');
    expect(await t.run(ENABLE)).toBe(OK);
    expect(await t.run('xConfiguration License Smart ReservationEnable')).toBe('*c xConfiguration License Smart ReservationEnable: On\n\nOK\n');
    expect(await t.run(DISABLE)).toBe(OK);
  });

  it('cannot be turned On while registered to the CSSM', async () => {
    const t = await testDevice();
    await t.mutate((ctx) => {
      ctx.edit('registration', () => ({
        ...unregistered(),
        phase: 'registered',
        idCertificate: 'PEM',
        nextRenewalAttempt: '2098-01-01T00:00:00.000Z',
        registrationExpires: '2099-01-01T00:00:00.000Z',
      }));
    });
    const reason = await refused(t, 'Config', ENABLE, 'reservation.registered');
    expect(reason).toBe(
      'License reservation cannot be enabled while this product is registered to the CSSM; deregister it first (xCommand License Smart Deregister).',
    );
  });

  it('cannot be turned Off while a request is in progress or a reservation is installed', async () => {
    const { t } = await inProgress();
    expect(await refused(t, 'Config', DISABLE, 'reservation.cannotDisable')).toBe(
      'License reservation cannot be turned off while a reservation request is in progress; cancel it first with xCommand License Smart Reservation Cancel.',
    );
    const r = await plrReserved();
    expect(await refused(r.t, 'Config', DISABLE, 'reservation.cannotDisable')).toBe(
      'License reservation cannot be turned off while a reservation is installed (Reserved - Permanent License Reservation); return it first with xCommand License Smart Reservation Return.',
    );
  });

  it('rejects a value outside <On/Off>', async () => {
    const t = await testDevice();
    expect(await t.run('xConfiguration License Smart ReservationEnable: Maybe')).toContain(
      "Invalid value 'Maybe' for License Smart ReservationEnable: expected On or Off.",
    );
  });
});

describe('with reservation disabled', () => {
  const NOT_ENABLED = 'License reservation is not enabled; enable it first with xConfiguration License Smart ReservationEnable: On.';
  it.each([
    ['Request', REQUEST],
    ['Return', RETURN],
    ['Cancel', CANCEL],
  ] as const)('%s is refused with reservation.notEnabled', async (cmd, line) => {
    const t = await testDevice();
    expect(await refused(t, cmd, line, 'reservation.notEnabled')).toBe(NOT_ENABLED);
  });

  it.each([
    ['Install', INSTALL],
    ['ReturnAuthorization', RETURN_AUTH],
  ] as const)('%s is refused with reservation.notEnabled', async (cmd, line) => {
    const t = await testDevice();
    const code = plrCode(t.udi, strangerPiid(t.udi));
    expect(await refused(t, cmd, `${line} ${code}`, 'reservation.notEnabled')).toBe(NOT_ENABLED);
  });
});

describe('Request and Cancel', () => {
  it('prints the seed sentence and a request code for this UDI; the same code while in progress', async () => {
    const t = await enabled();
    const first = await t.run(REQUEST);
    const code = requestCodeOf(first);
    const { pid, serial, vid, hostId } = t.udi;
    expect(code).toMatch(new RegExp(`^CB-P${pid},S${serial},V${vid.replace('.', '\\.')},H${hostId}-A[1-9A-HJ-NP-Za-km-z]{8}-[0-9A-F]{2}$`));
    // The seed's layout: a blank line after the command, the sentence, then the code.
    expect(first).toBe(`\nEnter the following reservation request code into the CSSM:\n${code}\n\nOK\n`);
    expect(await t.run(REQUEST)).toBe(first);
    expect(await t.run('xCommand License Smart Reservation Request')).toBe(first);
    expect((await t.reservation()).request?.code).toBe(code);
  });

  it('Cancel forgets the request (blank line, OK); the next Request makes a new code', async () => {
    const { t, request } = await inProgress();
    expect(await t.run(CANCEL)).toBe(OK);
    expect((await t.reservation()).request).toBeNull();
    const again = requestCodeOf(await t.run(REQUEST));
    expect(again).not.toBe(request);
  });

  it('Cancel with nothing in progress is refused', async () => {
    const t = await enabled();
    expect(await refused(t, 'Cancel', CANCEL, 'reservation.noRequest')).toBe('There is no reservation request in progress to cancel.');
  });

  it('Request and Cancel while reserved are refused (return first)', async () => {
    const { t } = await plrReserved();
    expect(await refused(t, 'Request', REQUEST, 'reservation.alreadyReserved')).toBe(
      'A Permanent License Reservation is already installed; return it first with xCommand License Smart Reservation Return.',
    );
    expect(await refused(t, 'Cancel', CANCEL, 'reservation.alreadyReserved')).toBe(
      'No request is in progress: a Permanent License Reservation is installed. Use xCommand License Smart Reservation Return to release it.',
    );
    const s = await slrReserved();
    expect(await refused(s.t, 'Request', REQUEST, 'reservation.alreadyReserved')).toBe(
      'A Specific License Reservation is already installed; return it first with xCommand License Smart Reservation Return.',
    );
  });

  it('JSON mode carries the request code as a field', async () => {
    const t = await testDevice({ mode: 'json' });
    await t.run(ENABLE);
    const out = await t.run(`${REQUEST} | resultId="7"`);
    const doc = JSON.parse(out) as {
      CommandResponse: { LicenseSmartReservationRequestResult: { status: string; RequestCode: { Value: string } } };
      ResultId: string;
    };
    expect(doc.CommandResponse.LicenseSmartReservationRequestResult.status).toBe('OK');
    expect(doc.CommandResponse.LicenseSmartReservationRequestResult.RequestCode.Value).toBe((await t.reservation()).request!.code);
    expect(doc.ResultId).toBe('7');
  });
});

describe('Install: PLR', () => {
  it('installs, prints only "Authorization code installed.", and authorizes everything', async () => {
    const { t, code, piid } = await plrReserved();
    const r = await t.reservation();
    expect(r.request).toBeNull();
    expect(r.installed).toMatchObject({ type: 'PLR', piid, timestamp: T_ISSUED, exportControl: false, installedAt: '2026-03-01T10:00:00Z' });
    expect(r.installed!.code).toBe(code);
    expect(await t.run('xStatus License Smart Reservation')).toBe(
      [
        '*s License: /',
        '    Smart:',
        '      Reservation:',
        '        Enabled: "On"',
        '        Status: "Reserved - Permanent License Reservation"',
        '        Type: "PLR"',
        '        RequestCode: ""',
        '        LastConfirmationCode: ""',
        '        LastReturnCode: ""',
        '        InstalledAt: "2026-03-01T10:00:00Z"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
    const status = await t.run('xStatus License Smart');
    expect(status).toContain('      Registration:\n        Status: "Registered - Permanent License Reservation"\n');
    expect(status).toContain('      Authorization:\n        Status: "Authorized - Reserved"\n');
    expect(status).toContain('      ExportControlled: "Not Allowed"\n');
    expect(status).toContain(
      [
        '      Entitlement 1:',
        '        Tag: "regid.2016-07.com.cisco.EXPWY_PLR,14.0_e3cdba0a-36e7-4a13-bd44-fa510fc0a679"',
        '        DisplayName: "Expressway PLR without Export Control"',
        '        Count: 1',
        '        InUse: 0',
        '        Status: "Authorized"',
        '        LicenseType: "PERPETUAL"',
        '        StartDate: ""',
        '        EndDate: ""',
      ].join('\n'),
    );
  });

  it('the export-control variant allows export-controlled functionality', async () => {
    const { t } = await plrReserved({ exportControl: true });
    const status = await t.run('xStatus License Smart');
    expect(status).toContain('      ExportControlled: "Allowed"\n');
    expect(status).toContain('        DisplayName: "Expressway PLR with Export Control"\n');
  });

  it('accepts the code undashed, quoted, or as AuthorizationCode:', async () => {
    for (const form of [
      (c: string) => `${INSTALL} ${c.replaceAll('-', '')}`,
      (c: string) => `${INSTALL} "${c}"`,
      (c: string) => `${INSTALL} AuthorizationCode: "${c}"`,
    ]) {
      const { t, piid } = await inProgress();
      expect(await t.run(form(plrCode(t.udi, piid)))).toBe('Authorization code installed.\n\nOK\n');
    }
  });

  it('a PLR code cannot update a PLR (alreadyReserved) nor an SLR (typeMismatch)', async () => {
    const p = await plrReserved();
    const newer = plrCode(p.t.udi, p.piid, { timestamp: T_ISSUED + 1000 });
    expect(await refused(p.t, 'Install', `${INSTALL} ${newer}`, 'reservation.alreadyReserved')).toBe(
      'A Permanent License Reservation is already installed and cannot be updated; return it first with xCommand License Smart Reservation Return.',
    );
    const s = await slrReserved();
    const plrOverSlr = plrCode(s.t.udi, s.piid, { timestamp: T_ISSUED + 1000 });
    expect(await refused(s.t, 'Install', `${INSTALL} ${plrOverSlr}`, 'reservation.typeMismatch')).toBe(
      'A PLR authorization code cannot update the Specific License Reservation installed on this system; return it first with xCommand License Smart Reservation Return.',
    );
  });

  it('an SLR code cannot update a PLR (typeMismatch)', async () => {
    const p = await plrReserved();
    const slr = slrCode(p.t.udi, p.piid, { timestamp: T_ISSUED + 1000 });
    expect(await refused(p.t, 'Install', `${INSTALL} "${slr}"`, 'reservation.typeMismatch')).toBe(
      'An SLR authorization code cannot update the Permanent License Reservation installed on this system; return it first with xCommand License Smart Reservation Return.',
    );
  });
});

describe('Install: SLR', () => {
  it('prints the confirmation code on the first install, keeps it, and shows exactly the entitlements', async () => {
    const { t, code, piid } = await inProgress().then(async (p) => {
      const c = slrCode(p.t.udi, p.piid, { entitlements: [RMS, AAS, RMS_TERM] });
      return { ...p, code: c };
    });
    const expected = confirmationCode(t.udi, piid, signatureBytes(parseAuthorizationCode(code)));
    expect(await t.run(`${INSTALL} "${code}"`)).toBe(`Authorization code installed.\nPlease enter the confirmation code to CSSM account: ${expected}\n\nOK\n`);
    expect((await t.reservation()).lastConfirmationCode).toBe(expected);
    const status = await t.run('xStatus License Smart');
    expect(status).toContain('        Status: "Registered - Specific License Reservation"\n');
    expect(status).toContain('      Authorization:\n        Status: "Authorized - Reserved"\n');
    // Advanced Account Security reserved with a count of 0: export control cannot be enabled.
    expect(status).toContain('      ExportControlled: "Not Allowed"\n');
    expect(status).toContain(`        LastConfirmationCode: "${expected}"\n`);
    expect(await t.run('xStatus License Smart Entitlement 3')).toBe(
      [
        '*s License: /',
        '    Smart:',
        '      Entitlement 3:',
        `        Tag: "${RMS_TERM.tag}"`,
        '        DisplayName: "Expressway Rich Media Session (Term)"',
        '        Count: 2',
        '        InUse: 0',
        '        Status: "Authorized"',
        '        LicenseType: "TERM"',
        '        StartDate: "2025-Jan-01 UTC"',
        '        EndDate: "2026-Dec-31 UTC"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
    expect(status).not.toContain('Entitlement 4');
  });

  it('Advanced Account Security with a count above 0 allows export control', async () => {
    const { t } = await slrReserved([RMS, { ...AAS, count: 1 }]);
    expect(await t.run('xStatus License Smart ExportControlled')).toBe('*s License: /\n    Smart:\n      ExportControlled: "Allowed"\n*s/end\n\nOK\n');
  });

  it('an already-expired term entitlement installs but shows Expired', async () => {
    const expired = { ...RMS_TERM, startDate: '2024-Jan-01 UTC', endDate: '2025-Jan-01 UTC' };
    const { t } = await slrReserved([RMS, expired]);
    expect(await t.run('xStatus License Smart Entitlement 2 Status')).toBe(
      '*s License: /\n    Smart:\n      Entitlement 2:\n        Status: "Expired"\n*s/end\n\nOK\n',
    );
    expect(await t.run('xStatus License Smart Entitlement 1 Status')).toContain('Status: "Authorized"');
  });

  it('an update with the same piid and a newer timestamp replaces the entitlements and prints a new confirmation code', async () => {
    const s = await slrReserved();
    const first = (await s.t.reservation()).lastConfirmationCode;
    const update = slrCode(s.t.udi, s.piid, { timestamp: T_ISSUED + 60_000, entitlements: [{ ...RMS, count: 6 }] });
    const expected = confirmationCode(s.t.udi, s.piid, signatureBytes(parseAuthorizationCode(update)));
    expect(expected).not.toBe(first);
    expect(await s.t.run(`${INSTALL} "${update}"`)).toBe(
      `Authorization code installed.\nPlease enter the confirmation code to CSSM account: ${expected}\n\nOK\n`,
    );
    expect((await s.t.reservation()).installed).toMatchObject({ timestamp: T_ISSUED + 60_000, entitlements: [{ count: 6 }] });
    expect((await s.t.reservation()).lastConfirmationCode).toBe(expected);
  });

  it('a stale update (same or older timestamp) is refused', async () => {
    const s = await slrReserved();
    const older = slrCode(s.t.udi, s.piid, { timestamp: T_ISSUED - 1 });
    expect(await refused(s.t, 'Install', `${INSTALL} "${older}"`, 'reservation.stale')).toBe(
      'The authorization code is not newer than the one installed (issued 2026-03-01T08:59:59.999Z, installed code issued 2026-03-01T09:00:00.000Z); install the latest code from CSSM.',
    );
    expect(await refused(s.t, 'Install', `${INSTALL} "${s.code}"`, 'reservation.stale')).toBe('This authorization code is already installed.');
  });

  it('an update for another product instance is refused (requestMismatch)', async () => {
    const s = await slrReserved();
    const other = strangerPiid(s.t.udi);
    const code = slrCode(s.t.udi, other, { timestamp: T_ISSUED + 1 });
    expect(await refused(s.t, 'Install', `${INSTALL} "${code}"`, 'reservation.requestMismatch')).toBe(
      `The authorization code is for product instance ${other}, not for the reservation installed on this system (${s.piid}).`,
    );
  });

  it('JSON mode carries the confirmation code', async () => {
    const t = await testDevice({ mode: 'json' });
    await t.run(ENABLE);
    await t.run(REQUEST);
    const code = slrCode(t.udi, (await t.reservation()).request!.piid);
    const doc = JSON.parse(await t.run(`${INSTALL} "${code}"`)) as {
      CommandResponse: { LicenseSmartReservationInstallResult: { status: string; ConfirmationCode: { Value: string } } };
    };
    expect(doc.CommandResponse.LicenseSmartReservationInstallResult.ConfirmationCode.Value).toBe((await t.reservation()).lastConfirmationCode);
  });
});

describe('Install: verification (§6.3), in order, nothing changed on failure', () => {
  it('with no request in progress', async () => {
    const t = await enabled();
    const code = plrCode(t.udi, strangerPiid(t.udi));
    const out = await t.run(`${INSTALL} ${code}`);
    expect(out).toBe(
      errorReply(
        'LicenseSmartReservationInstall',
        'Cannot install the authorization code: no reservation request in progress; use ReturnAuthorization to release a code that will not be installed.',
        'reservation.noRequest',
      ),
    );
  });

  it('1. parse: garbage, a truncated PLR code, broken XML', async () => {
    const { t, piid } = await inProgress();
    expect(await refused(t, 'Install', `${INSTALL} hello`, 'reservation.parse')).toBe(
      'The authorization code is neither SLR XML (starting with <specificPLR>) nor a PLR code (starting with C).',
    );
    const plr = plrCode(t.udi, piid);
    expect(await refused(t, 'Install', `${INSTALL} ${plr.slice(0, -4)}`, 'reservation.parse')).toMatch(/^The PLR authorization code is malformed: /);
    const slr = slrCode(t.udi, piid);
    expect(await refused(t, 'Install', `${INSTALL} "${slr.replace('<count>', '<cnt>')}"`, 'reservation.parse')).not.toBe('');
  });

  it('2. signature: a tampered SLR code, a tampered PLR code, an untrusted authority', async () => {
    const { t, piid } = await inProgress();
    const slr = slrCode(t.udi, piid);
    const tampered = slr.replace('<count>4</count>', '<count>400</count>');
    expect(await refused(t, 'Install', `${INSTALL} "${tampered}"`, 'reservation.badSignature')).toBe(
      'The authorization code signature is not valid: the code was altered, or it was signed by an authority this system does not trust (see exsh trust list).',
    );
    // Change the last character: only the low bytes of the signature move, the piid stays.
    const plr = plrCode(t.udi, piid);
    const last = plr.at(-1)!;
    const flipped = `${plr.slice(0, -1)}${last === 'z' ? 'y' : 'z'}`;
    expect(await refused(t, 'Install', `${INSTALL} ${flipped}`, 'reservation.badSignature')).toBe(
      'The authorization code signature is not valid for this product instance: the code was altered, or it was signed by an authority this system does not trust (see exsh trust list).',
    );
    const otherKey = plrCode(t.udi, piid, { key: otherAuthority() });
    expect(await refused(t, 'Install', `${INSTALL} ${otherKey}`, 'reservation.badSignature')).toMatch(/does not trust/);
    const foreign = slrCode(t.udi, piid, { key: otherAuthority() });
    expect(await refused(t, 'Install', `${INSTALL} "${foreign}"`, 'reservation.badSignature')).toMatch(/does not trust/);
  });

  it('2. signature: with an empty trust store nothing verifies', async () => {
    const { t, piid } = await inProgress();
    await t.mutate((ctx) => {
      editTrust(ctx).keys = [];
    });
    expect(await refused(t, 'Install', `${INSTALL} "${slrCode(t.udi, piid)}"`, 'reservation.badSignature')).toBe(
      'The authorization code cannot be verified: this system trusts no authority (the trust store is empty; see exsh trust add).',
    );
  });

  it('3. UDI: an SLR code for another device names both UDIs', async () => {
    const { t } = await inProgress();
    const code = slrCode(ANOTHER_DEVICE, strangerPiid(ANOTHER_DEVICE));
    expect(await refused(t, 'Install', `${INSTALL} "${code}"`, 'reservation.udiMismatch')).toBe(
      `The authorization code does not match this product instance (UDI ${formatUdi(t.udi)}): it was issued for UDI ${formatUdi(ANOTHER_DEVICE)}.`,
    );
  });

  it('3. UDI: a PLR code for another device (its signature fails and its piid is not the expected one)', async () => {
    const { t } = await inProgress();
    const code = plrCode(ANOTHER_DEVICE, strangerPiid(ANOTHER_DEVICE));
    expect(await refused(t, 'Install', `${INSTALL} ${code}`, 'reservation.udiMismatch')).toBe(
      `The authorization code does not match this product instance (UDI ${formatUdi(t.udi)}): it was issued for another product instance.`,
    );
  });

  it('4. request binding: a code for an earlier (cancelled) request of this device', async () => {
    const { t, request } = await inProgress();
    const stale = slrCode(t.udi, piidOf(t.udi, request));
    await t.run(CANCEL);
    const current = requestCodeOf(await t.run(REQUEST));
    expect(await refused(t, 'Install', `${INSTALL} "${stale}"`, 'reservation.requestMismatch')).toBe(
      `The authorization code does not match the reservation request code in progress (${current}); it was generated from another request code.`,
    );
    const plr = plrCode(t.udi, piidOf(t.udi, request));
    expect(await refused(t, 'Install', `${INSTALL} ${plr}`, 'reservation.requestMismatch')).toMatch(
      /^The authorization code does not match the reservation request code/,
    );
  });

  it('a code longer than the value space is a parameter error', async () => {
    const { t } = await inProgress();
    const out = await t.run(`${INSTALL} ${'C'.repeat(65537)}`);
    expect(out).toMatch(
      /^\*r LicenseSmartReservationInstallResult \(status=ParameterError\):\n {4}Reason: "Invalid value 'C{57}\.\.\.' for AuthorizationCode: expected a string of 1 to 65536 characters\."/,
    );
  });

  it('Install with no code prints its usage', async () => {
    const { t } = await inProgress();
    const out = await t.run(INSTALL);
    expect(out).toBe('*? xCommand License Smart Reservation Install\n    AuthorizationCode(r): <S: 1, 65536>\n\nERROR\n');
  });
});

describe('multi-line bodies (§2.3)', () => {
  it('installs an SLR code broken inside tags, the signature and a display name', async () => {
    const { t, piid } = await inProgress();
    const code = slrCode(t.udi, piid, { entitlements: [RMS, AAS] });
    const cuts = [
      code.indexOf('<authorizationCode>') + 5, // inside a tag
      code.indexOf('Rich Media') + 6, // inside a display name ("Rich M|edia")
      code.indexOf('<signature>') + 11 + 40, // inside the Base64 signature
      code.indexOf('<udi>') + 9,
    ].sort((a, b) => a - b);
    const lines: string[] = [];
    let at = 0;
    for (const c of cuts) {
      lines.push(code.slice(at, c));
      at = c;
    }
    lines.push(code.slice(at));
    // The framer joins body lines with nothing between them (shell/framing.ts).
    const out = await t.run(INSTALL, lines.join(''));
    expect(out).toMatch(/^Authorization code installed\.\nPlease enter the confirmation code to CSSM account: [0-9a-f]{8}\n\nOK\n$/);
    expect((await t.reservation()).installed?.code).toBe(code);
  });

  it('re-indented XML (whitespace between tags) still verifies', async () => {
    const { t, piid } = await inProgress();
    const code = slrCode(t.udi, piid);
    const indented = code.replaceAll('><', '>\n    <');
    expect(await t.run(`${INSTALL}`, indented)).toMatch(/^Authorization code installed\./);
  });
});

describe('Return', () => {
  it('PLR: prints the seed sentence and the return code of the installed code; licences gone; LastReturnCode kept', async () => {
    const { t, code, piid } = await plrReserved();
    const out = await t.run(RETURN);
    const rc = returnCodeOf(out);
    expect(out).toBe(`\nEnter the following return code into the CSSM:\n${rc}\n\nOK\n`);
    expect(rc).toBe(makeReturnCode('installed', t.udi, piid, signatureBytes(parseAuthorizationCode(code))));
    expect(rc).toMatch(/^C[1-9A-HJ-NP-Za-km-z]{5}(-[1-9A-HJ-NP-Za-km-z]{6}){7}-[1-9A-HJ-NP-Za-km-z]{3}$/);
    const r = await t.reservation();
    expect(r.installed).toBeNull();
    expect(r.lastReturnCode).toBe(rc);
    const status = await t.run('xStatus License Smart');
    expect(status).toContain('        Status: "Not Reserved"\n');
    expect(status).toContain(`        LastReturnCode: "${rc}"\n`);
    expect(status).toContain('      Registration:\n        Status: "Unregistered"\n');
    expect(status).toContain('      Authorization:\n        Status: "Evaluation Mode"\n');
    expect(status).not.toContain('Entitlement');
    // Reservation can now be turned off again.
    expect(await t.run(DISABLE)).toBe(OK);
  });

  it('SLR: the return code covers the latest installed code; LastConfirmationCode is kept', async () => {
    const s = await slrReserved();
    const update = slrCode(s.t.udi, s.piid, { timestamp: T_ISSUED + 1 });
    await s.t.run(`${INSTALL} "${update}"`);
    const confirmation = (await s.t.reservation()).lastConfirmationCode;
    const rc = returnCodeOf(await s.t.run(RETURN));
    expect(rc).toBe(makeReturnCode('installed', s.t.udi, s.piid, signatureBytes(parseAuthorizationCode(update))));
    expect((await s.t.reservation()).lastConfirmationCode).toBe(confirmation);
  });

  it('is refused when nothing is installed', async () => {
    const t = await enabled();
    expect(await refused(t, 'Return', RETURN, 'reservation.notReserved')).toBe('No authorization code is installed to return.');
    await t.run(REQUEST);
    expect(await refused(t, 'Return', RETURN, 'reservation.notReserved')).toBe(
      'No authorization code is installed to return: a request is in progress. Use xCommand License Smart Reservation Cancel to forget it, or ReturnAuthorization to release a code that will not be installed.',
    );
  });

  it('JSON mode carries the return code', async () => {
    const { t } = await plrReserved();
    t.session.mode = 'json';
    const doc = JSON.parse(await t.run(RETURN)) as { CommandResponse: { LicenseSmartReservationReturnResult: { ReturnCode: { Value: string } } } };
    expect(doc.CommandResponse.LicenseSmartReservationReturnResult.ReturnCode.Value).toBe((await t.reservation()).lastReturnCode);
  });
});

describe('ReturnAuthorization', () => {
  it('after Cancel: prints the return code of the never-installed code', async () => {
    const { t, piid } = await inProgress();
    const code = slrCode(t.udi, piid);
    expect(await t.run(CANCEL)).toBe(OK);
    const rc = returnCodeOf(await t.run(`${RETURN_AUTH} "${code}"`));
    expect(rc).toBe(makeReturnCode('unused', t.udi, piid, signatureBytes(parseAuthorizationCode(code))));
    expect((await t.reservation()).lastReturnCode).toBe(rc);
    expect((await t.reservation()).installed).toBeNull();
  });

  it('clears a matching request in progress, and leaves another one alone', async () => {
    const { t, piid } = await inProgress();
    const other = plrCode(t.udi, strangerPiid(t.udi));
    returnCodeOf(await t.run(`${RETURN_AUTH} ${other}`));
    expect((await t.reservation()).request?.piid).toBe(piid);
    returnCodeOf(await t.run(`${RETURN_AUTH} ${plrCode(t.udi, piid)}`));
    expect((await t.reservation()).request).toBeNull();
  });

  it('works for a code of an earlier request while a reservation is installed', async () => {
    const { t, request } = await inProgress();
    const unused = plrCode(t.udi, piidOf(t.udi, request));
    await t.run(CANCEL);
    const now = requestCodeOf(await t.run(REQUEST));
    await t.run(`${INSTALL} "${slrCode(t.udi, piidOf(t.udi, now))}"`);
    returnCodeOf(await t.run(`${RETURN_AUTH} ${unused}`));
    expect((await t.reservation()).installed?.type).toBe('SLR');
  });

  it('refuses the installed code (use Return)', async () => {
    const { t, code } = await plrReserved();
    expect(await refused(t, 'ReturnAuthorization', `${RETURN_AUTH} ${code}`, 'reservation.installedCode')).toBe(
      'This authorization code belongs to the Permanent License Reservation installed on this system; use xCommand License Smart Reservation Return to release it.',
    );
  });

  it('verifies the code like Install: tampered, another device, unparsable', async () => {
    const { t, piid } = await inProgress();
    const tampered = slrCode(t.udi, piid).replace('<count>4</count>', '<count>5</count>');
    await refused(t, 'ReturnAuthorization', `${RETURN_AUTH} "${tampered}"`, 'reservation.badSignature');
    await refused(t, 'ReturnAuthorization', `${RETURN_AUTH} "${slrCode(ANOTHER_DEVICE, piid)}"`, 'reservation.udiMismatch');
    await refused(t, 'ReturnAuthorization', `${RETURN_AUTH} ${plrCode(ANOTHER_DEVICE, strangerPiid(ANOTHER_DEVICE))}`, 'reservation.udiMismatch');
    await refused(t, 'ReturnAuthorization', `${RETURN_AUTH} xyz`, 'reservation.parse');
  });
});

describe('Cisco VCS (§5.3)', () => {
  const VCS = 'Smart Licensing is not available on Cisco VCS: this system uses option keys. Switch it to Expressway with xCommand ServiceSelect first.';
  it.each([
    ['Request', REQUEST],
    ['Return', RETURN],
    ['Cancel', CANCEL],
    ['Install', `${INSTALL} CAAAAA`],
    ['ReturnAuthorization', `${RETURN_AUTH} CAAAAA`],
  ] as const)('refuses %s', async (cmd, line) => {
    const t = await testDevice({ brand: 'VCS' });
    expect(await refused(t, cmd, line, 'license.notAvailableOnVcs')).toBe(VCS);
  });

  it('refuses ReservationEnable', async () => {
    const t = await testDevice({ brand: 'VCS' });
    expect(await refused(t, 'Config', ENABLE, 'license.notAvailableOnVcs')).toBe(VCS);
  });

  it('shows Authorization "Not Applicable" and no evaluation in use', async () => {
    const t = await testDevice({ brand: 'VCS' });
    expect(await t.run('xStatus License Smart')).toBe(
      [
        '*s License: /',
        '    Smart:',
        '      Enabled: "False"',
        '      Registration:',
        '        Status: "Unregistered"',
        '      Authorization:',
        '        Status: "Not Applicable"',
        '      Evaluation:',
        '        DaysRemaining: 0',
        '        Status: "Not In Use"',
        '      SmartAccount: ""',
        '      VirtualAccount: ""',
        '      ExportControlled: "Not Allowed"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
  });
});

describe('status before any reservation', () => {
  it('shows Not Reserved with empty codes', async () => {
    const t = await testDevice();
    expect(await t.run('xStatus License Smart Reservation')).toBe(
      [
        '*s License: /',
        '    Smart:',
        '      Reservation:',
        '        Enabled: "Off"',
        '        Status: "Not Reserved"',
        '        Type: ""',
        '        RequestCode: ""',
        '        LastConfirmationCode: ""',
        '        LastReturnCode: ""',
        '        InstalledAt: ""',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
  });
});
