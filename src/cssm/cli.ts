import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExshError, usageError } from '../errors.js';
import type { Rng } from '../random.js';
import type { CssmEnv, LicenceRequest } from './service.js';

// SQLite and the service load only when a cssm command runs: `exsh -c …` must start fast (§11).
const service = () => import('./service.js');
import { formatTable } from '../table.js';

/** What the `cssm` commands are given by the main program: nothing is read from globals. */
export interface CssmContext {
  home: string;
  now: () => Date;
  rng: Rng;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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

function env(ctx: CssmContext): CssmEnv {
  return { home: ctx.home, now: ctx.now, rng: ctx.rng };
}

function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

function json(ctx: CssmContext, value: unknown): void {
  line(ctx.stdout, JSON.stringify(value, null, 2));
}

/** `reserve` and `update` print the code alone, or write it to `--out` (inside the transaction). */
function delivery(out: string | undefined): ((code: string) => void) | undefined {
  if (out === undefined) return undefined;
  return (code) => {
    try {
      writeFileSync(resolve(out), `${code}\n`);
    } catch (e) {
      throw new ExshError('cssm.outUnwritable', `Cannot write the authorization code to ${out}: ${(e as Error).message}; nothing was reserved.`);
    }
  };
}

function issued(ctx: CssmContext, code: string, out: string | undefined): void {
  if (out === undefined) line(ctx.stdout, code);
  else line(ctx.stderr, `Authorization code written to ${out}.`);
}

function formatContact(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export function registerCssmCommands(program: Command, getCtx: () => CssmContext): Command {
  const cssm = program
    .command('cssm')
    .description('the simulated Cisco Smart Software Manager: inventory, reservations, product instances');

  cssm
    .command('init')
    .description('create the CSSM database with a demo smart account and a stocked inventory')
    .option('--new-key', 'make a private authority key instead of the demo authority')
    .option('--account <name>', 'smart account name (new database only)')
    .option('--virtual-account <name>', 'virtual account that gets the stocked inventory (an empty one if the database exists)')
    .action(async (o: { newKey?: boolean; account?: string; virtualAccount?: string }) => {
      const svc = await service();
      const ctx = getCtx();
      const r = svc.init({ ...env(ctx), newKey: o.newKey === true, account: o.account, virtualAccount: o.virtualAccount });
      line(
        ctx.stdout,
        r.created
          ? `Created ${r.databasePath}: smart account "${r.account}", virtual account ${r.virtualAccount} with the demo inventory.`
          : `${r.databasePath} already exists: smart account "${r.account}".${r.virtualAccountCreated ? ` Added the empty virtual account ${r.virtualAccount}.` : ''}`,
      );
      if (r.authority === 'demo') {
        line(ctx.stdout, `Codes are signed by the built-in demo authority (fingerprint ${r.fingerprint}); devices trust it out of the box.`);
      } else {
        line(
          ctx.stdout,
          `Codes are signed by the private authority key ${r.authorityKeyPath} (fingerprint ${r.fingerprint}); add this public key to each device's trust store:`,
        );
        ctx.stdout.write(r.publicKeyPem.endsWith('\n') ? r.publicKeyPem : `${r.publicKeyPem}\n`);
      }
    });

  cssm
    .command('licenses')
    .description('table of licences: License, Purchased, In Use, Reserved, Balance')
    .option('--virtual-account <name>', 'virtual account (default: the smart account\'s default)')
    .option('--json', 'print a JSON array')
    .action(async (o: { virtualAccount?: string; json?: boolean }) => {
      const svc = await service();
      const ctx = getCtx();
      const rows = svc.licenses({ ...env(ctx), virtualAccount: o.virtualAccount });
      if (o.json) return json(ctx, rows);
      line(
        ctx.stdout,
        formatTable(
          ['License', 'Purchased', 'In Use', 'Reserved', 'Balance'],
          rows.map((r) => [r.license, r.purchased, r.inUse, r.reserved, r.balance]),
        ),
      );
    });

  cssm
    .command('reserve')
    .description('validate a reservation request code, reserve licences and print the authorization code')
    .option('--request <code>', 'the reservation request code from the device')
    .option('--plr', 'a Permanent License Reservation')
    .option('--export-control', 'with --plr: Expressway PLR with Export Control')
    .option('--license <tag-or-name=qty>', 'a Specific License Reservation of qty units (repeatable)', collect, [])
    .option('--virtual-account <name>', 'virtual account to reserve from')
    .option('--out <file>', 'write the code to a file instead of stdout')
    .action(
      async (o: { request?: string; plr?: boolean; exportControl?: boolean; license: string[]; virtualAccount?: string; out?: string }) => {
        const svc = await service();
        const ctx = getCtx();
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
      },
    );

  cssm
    .command('update')
    .description('issue a new SLR code with changed quantities; the instance is in transit until confirmed')
    .option('--instance <serial>', 'the product instance (its serial number)')
    .option('--license <tag-or-name=qty>', 'new quantity, 0 to release (repeatable)', collect, [])
    .option('--out <file>', 'write the code to a file instead of stdout')
    .action(async (o: { instance?: string; license: string[]; out?: string }) => {
      const svc = await service();
      const ctx = getCtx();
      if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm update needs --instance <serial>.');
      const code = svc.update({
        ...env(ctx),
        instance: o.instance,
        licenses: o.license.map(parseLicenceArgument),
        deliver: delivery(o.out),
      });
      issued(ctx, code, o.out);
    });

  cssm
    .command('confirm')
    .description('enter the confirmation code the device printed, completing an update')
    .option('--instance <serial>', 'the product instance (its serial number)')
    .option('--code <hex>', 'the 8-character confirmation code')
    .action(async (o: { instance?: string; code?: string }) => {
      const svc = await service();
      const ctx = getCtx();
      if (o.instance === undefined) throw usageError('cssm.missingOption', 'cssm confirm needs --instance <serial>.');
      if (o.code === undefined) throw usageError('cssm.missingOption', 'cssm confirm needs --code <hex>.');
      const r = svc.confirm({ ...env(ctx), instance: o.instance, code: o.code });
      line(
        ctx.stdout,
        r.completed
          ? `Update of product instance ${r.serial} confirmed; its reserved licences now match the installed code.`
          : `Confirmation code accepted for product instance ${r.serial}.`,
      );
    });

  cssm
    .command('remove')
    .description('check a return code, release the instance\'s licences and delete it')
    .option('--return-code <code>', 'the return code from the device')
    .option('--instance <serial>', 'only look at this product instance')
    .action(async (o: { returnCode?: string; instance?: string }) => {
      const svc = await service();
      const ctx = getCtx();
      if (o.returnCode === undefined) throw usageError('cssm.missingOption', 'cssm remove needs --return-code <code>.');
      const r = svc.remove({ ...env(ctx), returnCode: o.returnCode, instance: o.instance });
      const n = r.licencesReturned;
      line(ctx.stdout, `Product instance ${r.udiLabel} removed; ${n} licence${n === 1 ? '' : 's'} returned to ${r.virtualAccount}.`);
    });

  cssm
    .command('instances')
    .description('table of product instances with reservation status and last contact')
    .option('--virtual-account <name>', 'only this virtual account')
    .option('--json', 'print a JSON array')
    .action(async (o: { virtualAccount?: string; json?: boolean }) => {
      const svc = await service();
      const ctx = getCtx();
      const rows = svc.instances({ ...env(ctx), virtualAccount: o.virtualAccount });
      if (o.json) return json(ctx, rows);
      if (rows.length === 0) return line(ctx.stdout, 'No product instances.');
      line(
        ctx.stdout,
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
    });

  return cssm;
}
