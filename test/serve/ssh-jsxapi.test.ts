import jsxapi from 'jsxapi';
import excMod from 'jsxapi/lib/xapi/exc.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, tempHome } from '../helpers/exsh.js';
import { PASSWORD, serve, stopAll } from './helpers.js';
import { rejection } from '../helpers/jsxapi.js';

/**
 * jsxapi v6 over `ssh://` against `exsh serve --ssh` (§11, tsh-protocol §2): its SSH
 * transport opens a shell without a pty and logs in by keyboard-interactive only, then
 * speaks JSON. The same checks as test/e2e/jsxapi.test.ts makes over `exsh tsh`.
 */

const exc = excMod as unknown as { UNKNOWN_ERROR: 0; ILLEGAL_VALUE: 2; INVALID_PATH: 3; PARAMETER_ERROR: 4 };
type Xapi = InstanceType<typeof jsxapi.XAPI>;

const open: Xapi[] = [];

afterEach(async () => {
  for (const x of open.splice(0)) x.close();
  await stopAll();
  cleanHomes();
});

async function connect(port: number, opts: Record<string, unknown> = {}): Promise<{ xapi: Xapi; errors: unknown[] }> {
  const xapi = jsxapi.connect(`ssh://127.0.0.1:${port}`, { username: 'admin', password: PASSWORD, ...opts }) as Xapi;
  open.push(xapi);
  const errors: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    xapi.on('ready', () => resolve());
    xapi.on('error', (e: unknown) => {
      errors.push(e);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
  return { xapi, errors };
}

describe('jsxapi v6 over ssh://', () => {
  it('gets, sets, reads status, runs commands and reports errors as jsxapi errors', async () => {
    const s = await serve(tempHome());
    const { xapi, errors } = await connect(s.port);

    expect(await xapi.Config.SystemUnit.Name.get()).toBe('');
    await expect(xapi.Config.SystemUnit.Name.set('lab "one" é')).resolves.toBeNull();
    expect(await xapi.Config.SystemUnit.Name.get()).toBe('lab "one" é');
    await xapi.Config.License.Smart.Transport.Mode.set('OnPrem');
    expect(await xapi.Config.License.Smart.Transport.Mode.get()).toBe('OnPrem');

    expect(await xapi.Status.SystemUnit.Product.get()).toBe('Cisco Expressway-C');
    expect(await xapi.Status.SystemUnit.Time.get()).toBe('2026-01-01T00:00:00Z');
    expect(await xapi.Command.Simulator.Clock.Advance({ Minutes: 1 })).toEqual({ status: 'OK', Time: '2026-01-01T00:01:00Z' });

    const illegal = await rejection(xapi.Config.License.Smart.Transport.Mode.set('Maybe'));
    expect(illegal.code).toBe(exc.ILLEGAL_VALUE);
    const unknown = await rejection(xapi.Command.No.Such.Thing());
    expect(unknown.code).toBe(exc.INVALID_PATH);
    expect((unknown.data as { xpath?: string }).xpath).toBe('/No');
    const badParam = await rejection(xapi.Command.Simulator.Clock.Advance({ Minutes: 60 }));
    expect(badParam.code).toBe(exc.PARAMETER_ERROR);

    const seen: unknown[] = [];
    const off = xapi.Config.SystemUnit.Name.on((value: unknown) => seen.push(value)) as (() => void) & { registration: Promise<unknown> };
    await off.registration;
    await xapi.Config.SystemUnit.Name.set('fb-1');
    await xapi.Config.SystemUnit.Name.get();
    expect(seen).toEqual(['fb-1']);
    off();

    expect(errors).toEqual([]);
  });

  it('sends an SLR authorization code as a {N} byte-counted body, and the reservation reads back', async () => {
    const home = tempHome();
    const s = await serve(home);
    const { xapi, errors } = await connect(s.port);
    await xapi.Config.License.Smart.ReservationEnable.set('On');
    const { RequestCode } = (await xapi.Command.License.Smart.Reservation.Request()) as { RequestCode: string };
    expect(RequestCode).toMatch(/^CB-PExpressway,S[0-9A-F]{8},V1\.0,H[0-9a-f]{8}-A[1-9A-HJ-NP-Za-km-z]{8}-[0-9A-F]{2}$/);
    const reserve = await runExsh(['--home', home, '--now', NOW, 'cssm', 'reserve', '--request', RequestCode, '--license', 'Expressway Rich Media Session=4']);
    expect(reserve.exitCode).toBe(0);
    const wrapped = reserve.stdout.trim().replace(/(.{70})/g, '$1\n');
    const installed = (await xapi.command('License Smart Reservation Install', wrapped)) as { status: string; ConfirmationCode: string };
    expect(installed.status).toBe('OK');
    expect(installed.ConfirmationCode).toMatch(/^[0-9a-f]{8}$/);
    expect(await xapi.Status.License.Smart.Reservation.Status.get()).toBe('Reserved - Specific License Reservation');
    expect(await xapi.Status.License.Smart.Entitlement[1].Count.get()).toBe('4');
    expect(errors).toEqual([]);
  });

  it.each(['tsh', '/bin/tsh'])("with command: '%s' (a no-pty shell and an exec side by side) it works the same", async (command) => {
    const s = await serve(tempHome());
    const { xapi, errors } = await connect(s.port, { command });
    await xapi.Config.SystemUnit.Name.set('via-exec');
    expect(await xapi.Config.SystemUnit.Name.get()).toBe('via-exec');
    expect(await xapi.Status.SystemUnit.UDI.ProductId.get()).toBe('Expressway');
    expect(errors).toEqual([]);
  });
});
