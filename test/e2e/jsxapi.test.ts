import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import jsxapi from 'jsxapi';
import TSHBackendMod from 'jsxapi/lib/backend/tsh.js';
import excMod from 'jsxapi/lib/xapi/exc.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, EXSH_BIN, NOW, runExsh, tempHome } from '../helpers/exsh.js';
import { rejection } from '../helpers/jsxapi.js';

/**
 * §3.2 / tsh-protocol §2: the real jsxapi v6 client, driven over `exsh tsh` exactly as
 * `new XAPI(new TSHBackend(stream))` would drive a device's tsh over stdio.
 */

const exc = excMod as unknown as { UNKNOWN_ERROR: 0; ILLEGAL_VALUE: 2; INVALID_PATH: 3; PARAMETER_ERROR: 4 };

type Xapi = InstanceType<typeof jsxapi.XAPI>;
// The CJS module's default export arrives as `.default` or as the module itself.
const TSHBackend = ((TSHBackendMod as unknown as { default?: unknown }).default ?? TSHBackendMod) as new (transport: Duplex) => unknown;

interface Connection {
  xapi: Xapi;
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<number | null>;
  errors: unknown[];
}

const open: Connection[] = [];

async function connect(home: string): Promise<Connection> {
  const child = spawn(process.execPath, [EXSH_BIN, '--home', home, '--now', NOW, 'tsh', '--port', '4000'], {
    env: cleanEnv() as NodeJS.ProcessEnv,
    stdio: 'pipe',
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stream = new Duplex({
    write(chunk, _enc, done) {
      child.stdin.write(chunk, done);
    },
    read() {},
  });
  child.stdout.on('data', (d: Buffer) => stream.push(d));
  child.stdout.on('end', () => stream.push(null));
  Object.assign(stream, { close: () => child.stdin.end() });
  const xapi = new jsxapi.XAPI(new TSHBackend(stream) as ConstructorParameters<typeof jsxapi.XAPI>[0]);
  const conn: Connection = { xapi, child, stderr: () => stderr, exited, errors: [] };
  // Any non-JSON byte after `xpreferences outputmode json` surfaces here (tsh-protocol §2.3).
  xapi.on('error', (e: unknown) => conn.errors.push(e));
  open.push(conn);
  await new Promise<void>((resolve, reject) => {
    xapi.on('ready', () => resolve());
    exited.then((code) => reject(new Error(`exsh tsh exited (${code}) before the handshake: ${stderr}`)));
  });
  return conn;
}

async function close(conn: Connection): Promise<number | null> {
  conn.xapi.close();
  return conn.exited;
}

afterEach(() => {
  for (const c of open.splice(0)) if (c.child.exitCode === null) c.child.kill();
  cleanHomes();
});

describe('jsxapi v6 over exsh tsh', () => {
  it('gets, sets, reads status, runs commands and reports errors as jsxapi errors', async () => {
    const conn = await connect(tempHome());
    const { xapi } = conn;

    expect(await xapi.Config.SystemUnit.Name.get()).toBe('');
    await expect(xapi.Config.SystemUnit.Name.set('lab "one" é')).resolves.toBeNull();
    expect(await xapi.Config.SystemUnit.Name.get()).toBe('lab "one" é');
    // An enum is sent quoted (jsxapi JSON.stringifies every string) and read back bare.
    await xapi.Config.License.Smart.Transport.Mode.set('OnPrem');
    expect(await xapi.Config.License.Smart.Transport.Mode.get()).toBe('OnPrem');

    expect(await xapi.Status.SystemUnit.Product.get()).toBe('Cisco Expressway-C');
    expect(await xapi.Status.SystemUnit.Time.get()).toBe('2026-01-01T00:00:00Z');

    expect(await xapi.Command.Simulator.Clock.Advance({ Minutes: 1 })).toEqual({ status: 'OK', Time: '2026-01-01T00:01:00Z' });
    expect(await xapi.Status.SystemUnit.Time.get()).toBe('2026-01-01T00:01:00Z');

    expect([exc.UNKNOWN_ERROR, exc.ILLEGAL_VALUE, exc.INVALID_PATH, exc.PARAMETER_ERROR]).toEqual([0, 2, 3, 4]);
    const illegal = await rejection(xapi.Config.License.Smart.Transport.Mode.set('Maybe'));
    expect(illegal.code).toBe(exc.ILLEGAL_VALUE); // IllegalValueError, 2
    expect(illegal.message).toBe("Invalid value 'Maybe' for License Smart Transport Mode: expected one of Direct, OnPrem or Proxy.");
    expect(await xapi.Config.License.Smart.Transport.Mode.get()).toBe('OnPrem');

    const failed = await rejection(xapi.Command.Simulator.Clock.Set({ Time: 'garbage' }));
    expect(failed.code).toBe(exc.UNKNOWN_ERROR); // a command's own failure: 0, with the body as data
    expect(failed.message).toBe("Invalid time 'garbage': expected ISO 8601, for example 2026-03-01T10:15:00Z.");
    expect(failed.data).toEqual({
      status: 'Error',
      Reason: "Invalid time 'garbage': expected ISO 8601, for example 2026-03-01T10:15:00Z.",
      ErrorCode: 'clock.badTime',
    });

    const unknown = await rejection(xapi.Command.No.Such.Thing());
    expect(unknown.code).toBe(exc.INVALID_PATH); // InvalidPathError, 3
    // The list of expected top-level commands grows with the tree, so only its start is fixed.
    expect(unknown.message).toMatch(/^Unknown command: there is no 'No' under xCommand \(expected [A-Za-z, ]+\)\.$/);
    expect((unknown.data as { xpath?: string }).xpath).toBe('/No');

    const badParam = await rejection(xapi.Command.Simulator.Clock.Advance({ Minutes: 60 }));
    expect(badParam.code).toBe(exc.PARAMETER_ERROR); // ParameterError, 4
    expect(badParam.message).toBe('Invalid or missing parameters');

    expect(conn.errors).toEqual([]);
    expect(await close(conn)).toBe(1);
    expect(conn.stderr()).toBe('');
  });

  it('pushes configuration feedback to a registered listener, without a ResultId', async () => {
    const conn = await connect(tempHome());
    const { xapi } = conn;
    const seen: unknown[] = [];
    const off = xapi.Config.SystemUnit.Name.on((value: unknown) => seen.push(value)) as (() => void) & { registration: Promise<unknown> };
    await off.registration;
    await xapi.Config.SystemUnit.Name.set('fb-1');
    // Feedback is written right after the set's reply, in the same chunk; one more round trip flushes it.
    await xapi.Config.SystemUnit.Name.get();
    expect(seen).toEqual(['fb-1']);

    // A change elsewhere is not reported to this listener.
    await xapi.Config.License.Smart.Transport.Mode.set('Proxy');
    await xapi.Config.SystemUnit.Name.get();
    expect(seen).toEqual(['fb-1']);

    off();
    await xapi.Config.SystemUnit.Name.set('fb-2');
    await xapi.Config.SystemUnit.Name.get();
    expect(seen).toEqual(['fb-1']);

    expect(conn.errors).toEqual([]);
    expect(await close(conn)).toBe(0);
  });
});

describe('jsxapi sends an authorization code as a {N} byte-counted body (§2.3)', () => {
  it('requests, installs an SLR code signed by the CSSM, and reads the reservation back', async () => {
    const home = tempHome();
    const conn = await connect(home);
    const { xapi } = conn;
    await xapi.Config.License.Smart.ReservationEnable.set('On');
    const { RequestCode } = (await xapi.Command.License.Smart.Reservation.Request()) as { RequestCode: string };
    expect(RequestCode).toMatch(/^CB-PExpressway,S[0-9A-F]{8},V1\.0,H[0-9a-f]{8}-A[1-9A-HJ-NP-Za-km-z]{8}-[0-9A-F]{2}$/);
    const reserve = await runExsh(['--home', home, '--now', NOW, 'cssm', 'reserve', '--request', RequestCode, '--license', 'Expressway Rich Media Session=4']);
    expect(reserve.exitCode).toBe(0);
    // The code goes as the body, wrapped the way a mail client would, breaks and all.
    const wrapped = reserve.stdout.trim().replace(/(.{70})/g, '$1\n');
    const installed = (await xapi.command('License Smart Reservation Install', wrapped)) as { status: string; ConfirmationCode: string };
    expect(installed.status).toBe('OK');
    expect(installed.ConfirmationCode).toMatch(/^[0-9a-f]{8}$/);
    expect(await xapi.Status.License.Smart.Reservation.Status.get()).toBe('Reserved - Specific License Reservation');
    expect(await xapi.Status.License.Smart.Entitlement[1].Count.get()).toBe('4');
    expect(conn.errors).toEqual([]);
    expect(await close(conn)).toBe(0);
  });
});

describe("jsxapi's own tsh: transport through a `tsh` shim", () => {
  it('connect("tsh://…") spawns `tsh --port N`; a shim that runs `exsh tsh` works unchanged', async () => {
    const home = tempHome();
    const bin = mkdtempSync(join(tmpdir(), 'exsh-shim-'));
    const shim = join(bin, 'tsh');
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${EXSH_BIN}" --home "${home}" --now ${NOW} tsh "$@"\n`, { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    try {
      const xapi = jsxapi.connect('tsh://localhost:4000') as Xapi;
      const errors: unknown[] = [];
      xapi.on('error', (e: unknown) => errors.push(e));
      await new Promise<void>((resolve) => xapi.on('ready', () => resolve()));
      await xapi.Config.SystemUnit.Name.set('via-shim');
      expect(await xapi.Config.SystemUnit.Name.get()).toBe('via-shim');
      expect(await xapi.Status.SystemUnit.UDI.ProductId.get()).toBe('Expressway');
      xapi.close();
      expect(errors).toEqual([]);
    } finally {
      process.env.PATH = savedPath;
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
