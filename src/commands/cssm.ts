import { resolve } from 'node:path';
import type { CssmEnv, LicenceRequest } from '../cssm/service.js';
import { ExshError, usageError } from '../errors.js';
import { writePrivateFile } from '../files.js';
import { formatTable } from '../table.js';
import type { CliContext } from './context.js';

/** `exsh cssm …` (§7): plain functions of the CLI context; SQLite and signing load with them. */

const service = () => import('../cssm/service.js');

function env(ctx: CliContext): CssmEnv {
  return { home: ctx.home, now: () => ctx.clock(), rng: ctx.rng('cssm') };
}

function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

function json(ctx: CliContext, value: unknown): void {
  line(ctx.io.stdout, JSON.stringify(value, null, 2));
}

/** `"Expressway Rich Media Session=4"` → name and quantity; the service judges the quantity. */
export function parseLicenceArgument(arg: string): LicenceRequest {
  const eq = arg.lastIndexOf('=');
  if (eq < 0) {
    throw usageError('cssm.badLicenceArgument', `--license "${arg}" needs a quantity: --license "<tag-or-name>=<qty>".`);
  }
  const name = arg.slice(0, eq).trim();
  const qtyText = arg.slice(eq + 1).trim();
  return { name, qty: /^\d+$/.test(qtyText) ? Number(qtyText) : Number.NaN, qtyText };
}

/** `reserve` and `update` print the code alone, or write it to `--out` (inside the transaction). */
function delivery(out: string | undefined): ((code: string) => void) | undefined {
  if (out === undefined) return undefined;
  return (code) => {
    try {
      writePrivateFile(resolve(out), `${code}\n`);
    } catch (e) {
      throw new ExshError('cssm.outUnwritable', `Cannot write the authorization code to ${out}: ${(e as Error).message}; nothing was reserved.`);
    }
  };
}

function issued(ctx: CliContext, code: string, out: string | undefined): void {
  if (out === undefined) line(ctx.io.stdout, code);
  else line(ctx.io.stderr, `Authorization code written to ${out}.`);
}

function formatContact(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export interface InitOptions {
  newKey?: boolean;
  account?: string;
  virtualAccount?: string;
}

export async function cssmInit(ctx: CliContext, o: InitOptions): Promise<void> {
  const svc = await service();
  const r = svc.init({ ...env(ctx), newKey: o.newKey === true, account: o.account, virtualAccount: o.virtualAccount });
  const out = ctx.io.stdout;
  line(
    out,
    r.created
      ? `Created ${r.databasePath}: smart account "${r.account}", virtual account ${r.virtualAccount} with the demo inventory.`
      : `${r.databasePath} already exists: smart account "${r.account}".${r.virtualAccountCreated ? ` Added the empty virtual account ${r.virtualAccount}.` : ''}`,
  );
  if (r.authority === 'demo') {
    line(out, `Codes are signed by the built-in demo authority (fingerprint ${r.fingerprint}); devices trust it out of the box.`);
  } else {
    line(
      out,
      `Codes are signed by the private authority key ${r.authorityKeyPath} (fingerprint ${r.fingerprint}); add this public key to each device's trust store:`,
    );
    out.write(r.publicKeyPem.endsWith('\n') ? r.publicKeyPem : `${r.publicKeyPem}\n`);
  }
}

export async function cssmLicenses(ctx: CliContext, o: { virtualAccount?: string; json?: boolean }): Promise<void> {
  const rows = (await service()).licenses({ ...env(ctx), virtualAccount: o.virtualAccount });
  if (o.json) return json(ctx, rows);
  line(
    ctx.io.stdout,
    formatTable(
      ['License', 'Purchased', 'In Use', 'Reserved', 'Balance'],
      rows.map((r) => [r.license, r.purchased, r.inUse, r.reserved, r.balance]),
    ),
  );
}

export interface ReserveOptions {
  request?: string;
  plr?: boolean;
  exportControl?: boolean;
  license: string[];
  virtualAccount?: string;
  out?: string;
}

export async function cssmReserve(ctx: CliContext, o: ReserveOptions): Promise<void> {
  const svc = await service();
  if (o.request === undefined) throw usageError('cssm.missingOption', 'cssm reserve needs --request <code>.');
  // --plr / --license / --export-control combinations are judged by reserve() itself.
  const code = svc.reserve({
    ...env(ctx),
    request: o.request,
    plr: o.plr === true,
    exportControl: o.exportControl === true,
    licenses: o.license.map(parseLicenceArgument),
    virtualAccount: o.virtualAccount,
    deliver: delivery(o.out),
  });
  issued(ctx, code, o.out);
}

export async function cssmUpdate(ctx: CliContext, o: { instance?: string; license: string[]; out?: string }): Promise<void> {
  const svc = await service();
  if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm update needs --instance <serial>.');
  const code = svc.update({ ...env(ctx), instance: o.instance, licenses: o.license.map(parseLicenceArgument), deliver: delivery(o.out) });
  issued(ctx, code, o.out);
}

export async function cssmConfirm(ctx: CliContext, o: { instance?: string; code?: string }): Promise<void> {
  const svc = await service();
  if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm confirm needs --instance <serial>.');
  if (o.code === undefined) throw usageError('cssm.missingOption', 'cssm confirm needs --code <hex>.');
  const r = svc.confirm({ ...env(ctx), instance: o.instance, code: o.code });
  line(
    ctx.io.stdout,
    r.completed
      ? `Update of product instance ${r.serial} confirmed; its reserved licences now match the installed code.`
      : `Confirmation code accepted for product instance ${r.serial}.`,
  );
}

export async function cssmRemove(ctx: CliContext, o: { returnCode?: string; instance?: string }): Promise<void> {
  const svc = await service();
  if (o.returnCode === undefined) throw usageError('cssm.missingOption', 'cssm remove needs --return-code <code>.');
  const r = svc.remove({ ...env(ctx), returnCode: o.returnCode, instance: o.instance });
  const n = r.licencesReturned;
  line(ctx.io.stdout, `Product instance ${r.udiLabel} removed; ${n} licence${n === 1 ? '' : 's'} returned to ${r.virtualAccount}.`);
}

export async function cssmInstances(ctx: CliContext, o: { virtualAccount?: string; json?: boolean }): Promise<void> {
  const rows = (await service()).instances({ ...env(ctx), virtualAccount: o.virtualAccount });
  if (o.json) return json(ctx, rows);
  if (rows.length === 0) return line(ctx.io.stdout, 'No product instances.');
  line(
    ctx.io.stdout,
    formatTable(
      ['Serial', 'Product Type', 'Reservation', 'Status', 'Virtual Account', 'Last Contact', 'Licenses'],
      rows.map((r) => [
        r.serial,
        r.productType,
        r.reservationType,
        r.status,
        r.virtualAccount,
        formatContact(r.lastContact),
        r.licenses
          .map((l) => `${l.license}: ${l.reserved}${l.pending !== undefined && l.pending !== l.reserved ? ` (${l.pending} in transit)` : ''}`)
          .join(', '),
      ]),
    ),
  );
}
