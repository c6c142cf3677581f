import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CssmEnv, IssuedCode, IssuedCodeRecord, LicenceRequest } from '../cssm/service.js';
import { printable, printableJson } from '../text.js';
import { ExshError, isExshError, usageError } from '../errors.js';
import { writePrivateFile } from '../files.js';
import { formatTable } from '../table.js';
import type { CliContext } from './context.js';

/** `exsh cssm …` (§7): plain functions of the CLI context; SQLite and signing load with them. */

const service = () => import('../cssm/service.js');
const tokens = () => import('../cssm/tokens.js');

function env(ctx: CliContext): CssmEnv {
  return { home: ctx.home, now: () => ctx.clock(), rng: ctx.rng('cssm') };
}

/** A sentence for the operator: whatever came from outside is shown with its control characters escaped. */
function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${printable(text)}\n`);
}

/** Lines already made printable (tables of escaped cells, codes CSSM signed). */
function lines(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

function table(ctx: CliContext, headers: string[], rows: Array<Array<string | number>>): void {
  lines(
    ctx.io.stdout,
    formatTable(
      headers,
      rows.map((r) => r.map((cell) => (typeof cell === 'string' ? printable(cell) : cell))),
    ),
  );
}

/** Every cssm subcommand prints one JSON document with `--json`, or under the global `--output json`. */
function wantsJson(ctx: CliContext, o: { json?: boolean }): boolean {
  return o.json === true || ctx.output === 'json';
}

function json(ctx: CliContext, value: unknown): void {
  lines(ctx.io.stdout, printableJson(value));
}

/**
 * Error sentences echo what the user typed or what a request code carried (a licence
 * name, a serial number): escaped here, once, for every cssm command.
 */
async function printableErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isExshError(e)) e.message = printable(e.message);
    throw e;
  }
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

/**
 * `--out` is written only after the transaction committed (a code must never exist for a
 * reservation the CSSM does not hold), so what can be known to fail is refused first,
 * while nothing has been done yet.
 */
function checkOut(out: string, nothingDone: string): void {
  const file = resolve(out);
  let reason: string | undefined;
  try {
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      reason = 'it is a directory';
    } else {
      const dir = dirname(file);
      if (!statSync(dir).isDirectory()) reason = `${dir} is not a directory`;
      else accessSync(dir, constants.W_OK);
    }
  } catch (e) {
    reason = (e as Error).message;
  }
  if (reason !== undefined) {
    throw new ExshError('cssm.outUnwritable', `Cannot write the authorization code to ${out}: ${reason}; ${nothingDone}.`);
  }
}

/**
 * Prints the code `reserve` or `update` issued (committed by now), or writes it to
 * `--out`. A write that fails now leaves the reservation in place: say so, and how to
 * show the code again.
 */
function deliver(ctx: CliContext, o: { out?: string; json?: boolean }, issued: IssuedCode, done: string): void {
  if (o.out === undefined) {
    if (wantsJson(ctx, o)) json(ctx, issued);
    else lines(ctx.io.stdout, issued.code);
    return;
  }
  const file = resolve(o.out);
  try {
    writePrivateFile(file, `${issued.code}\n`);
  } catch (e) {
    throw new ExshError(
      'cssm.codeNotWritten',
      `${done}, but its authorization code could not be written to ${o.out} (${(e as Error).message}); show the code with exsh cssm code --instance ${issued.instance}.`,
    );
  }
  if (wantsJson(ctx, o)) {
    const { code: _written, ...rest } = issued;
    json(ctx, { ...rest, file });
  } else {
    line(ctx.io.stderr, `Authorization code written to ${o.out}.`);
  }
}

function formatTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export interface InitOptions {
  newKey?: boolean;
  account?: string;
  virtualAccount?: string;
  json?: boolean;
}

export async function cssmInit(ctx: CliContext, o: InitOptions): Promise<void> {
  return printableErrors(async () => {
    const svc = await service();
    const r = svc.init({ ...env(ctx), newKey: o.newKey === true, account: o.account, virtualAccount: o.virtualAccount });
    if (wantsJson(ctx, o)) return json(ctx, r);
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
  });
}

export async function cssmLicenses(ctx: CliContext, o: { virtualAccount?: string; json?: boolean }): Promise<void> {
  return printableErrors(async () => {
    const rows = (await service()).licenses({ ...env(ctx), virtualAccount: o.virtualAccount });
    if (wantsJson(ctx, o)) return json(ctx, rows);
    table(
      ctx,
      ['License', 'Purchased', 'In Use', 'Reserved', 'Balance'],
      rows.map((r) => [r.license, r.purchased, r.inUse, r.reserved, r.balance]),
    );
  });
}

export interface ReserveOptions {
  request?: string;
  plr?: boolean;
  exportControl?: boolean;
  license: string[];
  virtualAccount?: string;
  out?: string;
  json?: boolean;
}

export async function cssmReserve(ctx: CliContext, o: ReserveOptions): Promise<void> {
  return printableErrors(async () => {
    const svc = await service();
    if (o.request === undefined) throw usageError('cssm.missingOption', 'cssm reserve needs --request <code>.');
    if (o.out !== undefined) checkOut(o.out, 'nothing was reserved');
    // --plr / --license / --export-control combinations are judged by reserve() itself.
    const issued = svc.reserve({
      ...env(ctx),
      request: o.request,
      plr: o.plr === true,
      exportControl: o.exportControl === true,
      licenses: o.license.map(parseLicenceArgument),
      virtualAccount: o.virtualAccount,
    });
    deliver(ctx, o, issued, `Product instance ${issued.instance} now holds the reservation`);
  });
}

export interface UpdateOptions {
  instance?: string;
  license: string[];
  out?: string;
  json?: boolean;
}

export async function cssmUpdate(ctx: CliContext, o: UpdateOptions): Promise<void> {
  return printableErrors(async () => {
    const svc = await service();
    if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm update needs --instance <serial>.');
    if (o.out !== undefined) checkOut(o.out, 'nothing was updated');
    const issued = svc.update({ ...env(ctx), instance: o.instance, licenses: o.license.map(parseLicenceArgument) });
    deliver(ctx, o, issued, `The update of product instance ${issued.instance} is in transit`);
  });
}

export async function cssmConfirm(ctx: CliContext, o: { instance?: string; code?: string; json?: boolean }): Promise<void> {
  return printableErrors(async () => {
    const svc = await service();
    if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm confirm needs --instance <serial>.');
    if (o.code === undefined) throw usageError('cssm.missingOption', 'cssm confirm needs --code <hex>.');
    const r = svc.confirm({ ...env(ctx), instance: o.instance, code: o.code });
    if (wantsJson(ctx, o)) return json(ctx, r);
    line(
      ctx.io.stdout,
      r.completed
        ? `Update of product instance ${r.instance} confirmed; its reserved licences now match the installed code.`
        : `Confirmation code accepted for product instance ${r.instance}.`,
    );
  });
}

export interface RemoveOptions {
  returnCode?: string;
  instance?: string;
  force?: boolean;
  json?: boolean;
}

export async function cssmRemove(ctx: CliContext, o: RemoveOptions): Promise<void> {
  return printableErrors(async () => {
    const svc = await service();
    // Which of --return-code / --instance --force is needed is judged by remove() itself.
    const r = svc.remove({ ...env(ctx), returnCode: o.returnCode, instance: o.instance, force: o.force === true });
    if (wantsJson(ctx, o)) return json(ctx, r);
    const n = r.licencesReturned;
    const returned = `${n} licence${n === 1 ? '' : 's'} returned to ${r.virtualAccount}`;
    if (r.registered) {
      const listed = r.licenses.length > 0 ? `: ${r.licenses.map((l) => `${l.license} ${l.count}`).join(', ')}` : '';
      return line(
        ctx.io.stdout,
        `Registered product instance ${r.udi} removed; ${n} licence${n === 1 ? '' : 's'} in use returned to ${r.virtualAccount}${listed}. Its next renewal will fail and it will show as unregistered.`,
      );
    }
    line(
      ctx.io.stdout,
      r.forced
        ? `Product instance ${r.udi} removed without a return code; ${returned}: ${r.licenses.map((l) => `${l.license} ${l.count}`).join(', ')}.`
        : `Product instance ${r.udi} removed; ${returned}.`,
    );
  });
}

export async function cssmInstances(ctx: CliContext, o: { virtualAccount?: string; json?: boolean }): Promise<void> {
  return printableErrors(async () => {
    const rows = (await service()).instances({ ...env(ctx), virtualAccount: o.virtualAccount });
    if (wantsJson(ctx, o)) return json(ctx, rows);
    if (rows.length === 0) return line(ctx.io.stdout, 'No product instances.');
    table(
      ctx,
      ['Serial', 'Product Type', 'Reservation', 'Status', 'Virtual Account', 'Last Contact', 'Cert Expires', 'Licenses'],
      rows.map((r) => [
        r.serial,
        r.productType,
        r.reservationType ?? '-',
        r.status,
        r.virtualAccount,
        formatTime(r.lastContact),
        r.registration ? formatTime(r.registration.certificateExpires) : '-',
        r.registration
          ? r.registration.inUse.map((l) => `${l.license}: ${l.count} in use`).join(', ')
          : r.licenses
              .map((l) => `${l.license}: ${l.reserved}${l.pending !== undefined && l.pending !== l.reserved ? ` (${l.pending} in transit)` : ''}`)
              .join(', '),
      ]),
    );
  });
}

const CODE_LABEL: Record<IssuedCodeRecord['state'], string> = {
  pending: 'Pending code (update in transit)',
  current: 'Current code',
  superseded: 'Superseded code',
};

export async function cssmCode(ctx: CliContext, o: { instance?: string; json?: boolean }): Promise<void> {
  return printableErrors(async () => {
    const svc = await service();
    if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm code needs --instance <serial>.');
    const r = svc.codes({ ...env(ctx), instance: o.instance });
    if (wantsJson(ctx, o)) return json(ctx, r);
    const blocks = r.codes.map(
      (c) =>
        `${CODE_LABEL[c.state]}, issued ${formatTime(c.issuedAt)}${c.confirmedAt !== undefined ? `, confirmed ${formatTime(c.confirmedAt)}` : ''}:\n${c.code}`,
    );
    lines(ctx.io.stdout, blocks.join('\n\n'));
  });
}

// ---------------------------------------------------------------------------------------
// tokens (§9.1)

export interface TokensCreateOptions {
  virtualAccount?: string;
  description?: string;
  expiresDays?: string;
  maxUses?: string;
  /** commander's `--no-export-control`: false when given. */
  exportControl?: boolean;
  json?: boolean;
}

/** Prints the new token alone on stdout, ready for `xCommand License Smart Register IdToken: …`. */
export async function cssmTokensCreate(ctx: CliContext, o: TokensCreateOptions): Promise<void> {
  return printableErrors(async () => {
    const t = (await tokens()).createToken(env(ctx), {
      virtualAccount: o.virtualAccount,
      description: o.description,
      expiresDays: o.expiresDays,
      maxUses: o.maxUses,
      exportControlled: o.exportControl !== false,
    });
    if (wantsJson(ctx, o)) return json(ctx, t);
    lines(ctx.io.stdout, t.token);
  });
}

export async function cssmTokensList(ctx: CliContext, o: { virtualAccount?: string; json?: boolean }): Promise<void> {
  return printableErrors(async () => {
    const rows = (await tokens()).listTokens(env(ctx), { virtualAccount: o.virtualAccount });
    if (wantsJson(ctx, o)) return json(ctx, rows);
    if (rows.length === 0) return line(ctx.io.stdout, 'No registration tokens.');
    table(
      ctx,
      ['Token', 'Virtual Account', 'Description', 'Created', 'Expires', 'Uses', 'Export Controlled', 'Revoked'],
      rows.map((t) => [
        t.token,
        t.virtualAccount,
        t.description,
        formatTime(t.createdAt),
        formatTime(t.expiresAt),
        `${t.uses}/${t.maxUses ?? 'unlimited'}`,
        t.exportControlled ? 'Allowed' : 'Not Allowed',
        t.revoked ? 'yes' : 'no',
      ]),
    );
  });
}

export async function cssmTokensRevoke(ctx: CliContext, token: string, o: { json?: boolean }): Promise<void> {
  return printableErrors(async () => {
    const t = (await tokens()).revokeToken(env(ctx), token);
    if (wantsJson(ctx, o)) return json(ctx, t);
    const at = formatTime(t.revokedAt ?? t.createdAt);
    line(
      ctx.io.stdout,
      t.alreadyRevoked
        ? `The token was already revoked on ${at}.`
        : `Token revoked on ${at}: no product instance can register with it any more; those registered with it stay registered.`,
    );
  });
}
