import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { CliContext, GlobalOptions, Io } from './commands/context.js';
import { defineResetOptions, type ResetFlags } from './device/reset-flow.js';
import { ExshError, exitStatusOf, formatDiagnostic, isExshError, usageError } from './errors.js';
import { packageFile } from './paths.js';
import { didYouMean } from './suggest.js';

/**
 * The commander program, declared in one place: every subcommand and its options. Each
 * command is a plain function in src/commands/, loaded only when it runs (start-up time
 * is a quality bar), given the normalised context and a typed options object. Errors
 * become exit statuses here and nowhere else (§1).
 */

export type { Io } from './commands/context.js';

/** Every command and the arguments its function takes after the context. */
export interface CommandArgs {
  shell: [];
  run: [file: string];
  tsh: [opts: { port?: string }];
  'devices.list': [opts: { json?: boolean }];
  'devices.create': [name: string, opts: { brand: 'Expressway' | 'VCS'; type?: 'ExpresswayC' | 'ExpresswayE' }];
  'devices.show': [name: string, opts: { json?: boolean }];
  'devices.remove': [name: string, opts: { force?: boolean }];
  'cluster.create': [name: string, opts: { peers?: string }];
  'cluster.list': [opts: { json?: boolean }];
  'cluster.remove': [name: string];
  'cssm.init': [opts: import('./commands/cssm.js').InitOptions];
  'cssm.licenses': [opts: { virtualAccount?: string; json?: boolean }];
  'cssm.reserve': [opts: import('./commands/cssm.js').ReserveOptions];
  'cssm.update': [opts: import('./commands/cssm.js').UpdateOptions];
  'cssm.confirm': [opts: { instance?: string; code?: string; json?: boolean }];
  'cssm.remove': [opts: import('./commands/cssm.js').RemoveOptions];
  'cssm.instances': [opts: { virtualAccount?: string; json?: boolean }];
  'cssm.code': [opts: { instance?: string; json?: boolean }];
  'cssm.tokens.create': [opts: import('./commands/cssm.js').TokensCreateOptions];
  'cssm.tokens.list': [opts: { virtualAccount?: string; json?: boolean }];
  'cssm.tokens.revoke': [token: string, opts: { json?: boolean }];
  'cssm.serve': [opts: import('./commands/serve.js').ServeOptions];
  serve: [opts: import('./commands/serve-device.js').ServeDevicesOptions];
  'trust.add': [file: string, opts: { name?: string }];
  'trust.list': [opts: { json?: boolean }];
  'trust.remove': [ref: string];
  'factory-reset': [flags: ResetFlags];
  'backup.create': [file: string, opts: { force?: boolean }];
  'backup.restore': [file: string];
}
export type CommandName = keyof CommandArgs;

/** Runs a command; returns its exit status (undefined: 0). Tests supply their own to see what argv became. */
export type Dispatch = <K extends CommandName>(name: K, ctx: CliContext, args: CommandArgs[K]) => Promise<number | undefined>;

type Impl = (ctx: CliContext, ...args: never[]) => Promise<unknown>;
const LOADERS: { [K in CommandName]: () => Promise<Impl> } = {
  shell: async () => (await import('./commands/shell.js')).shellDefault,
  run: async () => (await import('./commands/shell.js')).shellRun,
  tsh: async () => (await import('./commands/shell.js')).shellTsh,
  'devices.list': async () => (await import('./commands/devices.js')).devicesList,
  'devices.create': async () => (await import('./commands/devices.js')).devicesCreate,
  'devices.show': async () => (await import('./commands/devices.js')).devicesShow,
  'devices.remove': async () => (await import('./commands/devices.js')).devicesRemove,
  'cluster.create': async () => (await import('./commands/cluster.js')).clusterCreate,
  'cluster.list': async () => (await import('./commands/cluster.js')).clusterList,
  'cluster.remove': async () => (await import('./commands/cluster.js')).clusterRemove,
  'cssm.init': async () => (await import('./commands/cssm.js')).cssmInit,
  'cssm.licenses': async () => (await import('./commands/cssm.js')).cssmLicenses,
  'cssm.reserve': async () => (await import('./commands/cssm.js')).cssmReserve,
  'cssm.update': async () => (await import('./commands/cssm.js')).cssmUpdate,
  'cssm.confirm': async () => (await import('./commands/cssm.js')).cssmConfirm,
  'cssm.remove': async () => (await import('./commands/cssm.js')).cssmRemove,
  'cssm.instances': async () => (await import('./commands/cssm.js')).cssmInstances,
  'cssm.code': async () => (await import('./commands/cssm.js')).cssmCode,
  'cssm.tokens.create': async () => (await import('./commands/cssm.js')).cssmTokensCreate,
  'cssm.tokens.list': async () => (await import('./commands/cssm.js')).cssmTokensList,
  'cssm.tokens.revoke': async () => (await import('./commands/cssm.js')).cssmTokensRevoke,
  'cssm.serve': async () => (await import('./commands/serve.js')).cssmServe,
  serve: async () => (await import('./commands/serve-device.js')).serveDevices,
  'trust.add': async () => (await import('./commands/trust.js')).trustAdd,
  'trust.list': async () => (await import('./commands/trust.js')).trustList,
  'trust.remove': async () => (await import('./commands/trust.js')).trustRemove,
  'factory-reset': async () => (await import('./commands/factory-reset.js')).factoryReset,
  'backup.create': async () => (await import('./commands/backup.js')).backupCreate,
  'backup.restore': async () => (await import('./commands/backup.js')).backupRestore,
};

export const loadAndRun: Dispatch = async (name, ctx, args) => {
  const fn = (await LOADERS[name]()) as (ctx: CliContext, ...a: unknown[]) => Promise<unknown>;
  const status = await fn(ctx, ...args);
  return typeof status === 'number' ? status : undefined;
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The bundle has the version built in; from source (tests) it is read from package.json. */
declare const __EXSH_VERSION__: string | undefined;
function version(): string {
  if (typeof __EXSH_VERSION__ === 'string') return __EXSH_VERSION__;
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}

/**
 * An option whose value is one of `values`, in any case (`--output JSON`, `--brand vcs`),
 * as everything typed in the shell is; the value is given on in its canonical spelling.
 */
function oneOf(flags: string, description: string, values: readonly string[]): Option {
  const option = new Option(flags, description).choices(values);
  return option.argParser((raw: string) => {
    const hit = values.find((v) => v.toLowerCase() === raw.toLowerCase());
    if (hit === undefined) throw new InvalidArgumentError(`Allowed choices are ${values.join(', ')}.`);
    return hit;
  });
}

export interface MainOptions {
  dispatch?: Dispatch;
}

export function buildProgram(io: Io, run: <K extends CommandName>(name: K, args: CommandArgs[K]) => Promise<void>): Command {
  const program = new Command('exsh');
  program
    .description('A simulator of the Cisco Expressway administrator shell for Smart Licensing, with a simulated CSSM.')
    .usage('[options] [command]')
    // The EXSH_* variables are read from the injected environment (createContext), not by commander.
    .addOption(new Option('--home <dir>', 'where all state lives (env: EXSH_HOME; default: ~/.config/exsh)'))
    .addOption(new Option('--device <name>', 'which simulated device (env: EXSH_DEVICE; default: expressway)'))
    .addOption(oneOf('--output <mode>', 'start in this output mode', ['terminal', 'json', 'xml']).default('terminal'))
    .addOption(
      new Option(
        '--now <iso>',
        "pin the base of the simulated clock to this time instead of real time; the device's own clock offset (moved by xCommand Simulator Clock Advance/Set) is still added (env: EXSH_NOW)",
      ),
    )
    .addOption(new Option('--seed <n>', 'deterministic identities, nonces and keys (env: EXSH_SEED)'))
    .addOption(
      new Option(
        '--cssm-url <url>',
        'where the Direct transport reaches the CSSM, e.g. the URL exsh cssm serve prints (env: EXSH_CSSM_URL; default: a running exsh cssm serve of this home, else the CSSM in-process)',
      ),
    )
    .option('--no-color', 'plain output (also NO_COLOR)')
    .option('-c, --command <line>', 'run this line (repeatable), then exit', collect, [])
    .option('--fail-fast', 'stop at the first line that ends in ERROR')
    .version(version(), '-V, --version', 'print the version')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Usage errors are printed once, in exsh's own format, where main() catches them.
      outputError: () => undefined,
    })
    .addHelpText(
      'after',
      `
Modes:
  exsh                    interactive shell on a terminal; batch when stdin is a pipe
  exsh -c '<line>' ...    run the given lines, then exit
  exsh run <file|->       run a script file
  exsh tsh                a login session over stdio, as jsxapi's tsh transport expects

Exit status: 0 every line succeeded; 1 a line ended in ERROR or "Command not recognized.";
2 usage error; 3 the device store could not be used (locked, corrupt, unreadable).`,
    )
    .allowExcessArguments(true)
    .action(async () => {
      const [word] = program.args;
      if (word !== undefined) {
        const names = program.commands.map((c) => c.name());
        throw usageError('cli.unknownCommand', `Unknown command '${word}'; the commands are ${names.join(', ')}.${didYouMean(word, names)}`);
      }
      await run('shell', []);
    });

  program
    .command('run')
    .description('run a script file of xAPI lines (- reads stdin)')
    .argument('<file>', 'the script, or - for stdin')
    .action((file: string) => run('run', [file]));

  program
    .command('tsh')
    .description('a login session over stdin/stdout, as an SSH session without a pty (jsxapi tsh: transport)')
    .option('--port <n>', 'accepted and ignored (jsxapi passes it)')
    .action((o: { port?: string }) => run('tsh', [o]));

  const devices = program.command('devices').description('list, create, show and remove simulated devices');
  devices
    .command('list')
    .description('list the devices under --home')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => run('devices.list', [o]));
  devices
    .command('create')
    .description('create a device (it is also created on first use)')
    .argument('<name>', 'device name')
    .addOption(oneOf('--brand <brand>', 'brand', ['Expressway', 'VCS']).default('Expressway'))
    .addOption(oneOf('--type <type>', 'type of an Expressway (default ExpresswayC)', ['ExpresswayC', 'ExpresswayE']))
    .action((name: string, o: CommandArgs['devices.create'][1]) => run('devices.create', [name, o]));
  devices
    .command('show')
    .description('print the stored state of a device (secrets masked)')
    .argument('<name>', 'device name')
    .option('--json', 'print the document alone')
    .action((name: string, o: { json?: boolean }) => run('devices.show', [name, o]));
  devices
    .command('remove')
    .description('remove a device and its history (refused while it holds a reservation or registration, unless --force)')
    .argument('<name>', 'device name')
    .option('--force', 'remove it even though it holds licences at the CSSM (they stay there until released)')
    .action((name: string, o: { force?: boolean }) => run('devices.remove', [name, o]));

  const cluster = program.command('cluster').description('clusters of 2 to 6 Expressways of this home that share licences');
  cluster
    .command('create')
    .description('make a cluster; every peer must be an Expressway that is registered or reserved, in no other cluster')
    .argument('<name>', 'cluster name')
    .requiredOption('--peers <names>', 'the devices, comma-separated (the first is the primary), 2 to 6')
    .action((name: string, o: CommandArgs['cluster.create'][1]) => run('cluster.create', [name, o]));
  cluster
    .command('list')
    .description('list the clusters and their peers')
    .option('--json', 'print a JSON array (also with --output json)')
    .action((o: { json?: boolean }) => run('cluster.list', [o]));
  cluster
    .command('remove')
    .description('dissolve a cluster: its peers stop sharing licences and every loan returns')
    .argument('<name>', 'cluster name')
    .action((name: string) => run('cluster.remove', [name]));

  const cssm = program
    .command('cssm')
    .description('the simulated Cisco Smart Software Manager: inventory, reservations, registration tokens, product instances');
  cssm
    .command('init')
    .description('create the CSSM database with a demo smart account and a stocked inventory')
    .option('--new-key', 'make a private authority key instead of the demo authority')
    .option('--account <name>', 'smart account name (new database only)')
    .option('--virtual-account <name>', 'virtual account that gets the stocked inventory (an empty one if the database exists)')
    .option('--json', 'print a JSON object (also with --output json)')
    .action((o: CommandArgs['cssm.init'][0]) => run('cssm.init', [o]));
  cssm
    .command('licenses')
    .description('table of licences: License, Purchased, In Use, Reserved, Balance')
    .option('--virtual-account <name>', "virtual account (default: the smart account's default)")
    .option('--json', 'print a JSON array (also with --output json)')
    .action((o: CommandArgs['cssm.licenses'][0]) => run('cssm.licenses', [o]));
  cssm
    .command('reserve')
    .description('validate a reservation request code, reserve licences and print the authorization code')
    .option('--request <code>', 'the reservation request code from the device')
    .option('--plr', 'a Permanent License Reservation')
    .option('--export-control', 'with --plr: Expressway PLR with Export Control')
    .option('--license <tag-or-name=qty>', 'a Specific License Reservation of qty units (repeatable)', collect, [])
    .option('--virtual-account <name>', 'virtual account to reserve from')
    .option('--out <file>', 'write the code to a file (0600) instead of stdout, once the reservation is made')
    .option('--json', 'print a JSON object: the code and what it was issued for (also with --output json)')
    .action((o: CommandArgs['cssm.reserve'][0]) => run('cssm.reserve', [o]));
  cssm
    .command('update')
    .description('issue a new SLR code with changed quantities; the instance is in transit until confirmed')
    .option('--instance <serial>', 'the product instance (its serial number)')
    .option('--license <tag-or-name=qty>', 'new quantity, 0 to release (repeatable)', collect, [])
    .option('--out <file>', 'write the code to a file (0600) instead of stdout, once the update is made')
    .option('--json', 'print a JSON object: the code and what it was issued for (also with --output json)')
    .action((o: CommandArgs['cssm.update'][0]) => run('cssm.update', [o]));
  cssm
    .command('confirm')
    .description('enter the confirmation code the device printed, completing an update')
    .option('--instance <serial>', 'the product instance (its serial number)')
    .option('--code <hex>', 'the 8-character confirmation code')
    .option('--json', 'print a JSON object (also with --output json)')
    .action((o: CommandArgs['cssm.confirm'][0]) => run('cssm.confirm', [o]));
  cssm
    .command('remove')
    .description("check a return code (or with --force, none), release the instance's licences and delete it; a registered instance needs only --instance")
    .option('--return-code <code>', 'the return code from the device')
    .option('--instance <serial>', 'only look at this product instance (alone: remove a registered instance, releasing what it uses)')
    .option('--force', 'with --instance: remove a reserved instance without a return code (for a device that is gone)')
    .option('--json', 'print a JSON object (also with --output json)')
    .action((o: CommandArgs['cssm.remove'][0]) => run('cssm.remove', [o]));
  cssm
    .command('instances')
    .description('table of product instances: reservation or registration status, last contact, certificate expiry')
    .option('--virtual-account <name>', 'only this virtual account')
    .option('--json', 'print a JSON array (also with --output json)')
    .action((o: CommandArgs['cssm.instances'][0]) => run('cssm.instances', [o]));
  cssm
    .command('code')
    .description('print the authorization codes issued to a product instance: pending, current, superseded')
    .option('--instance <serial>', 'the product instance (its serial number)')
    .option('--json', 'print a JSON object (also with --output json)')
    .action((o: CommandArgs['cssm.code'][0]) => run('cssm.code', [o]));
  const tokens = cssm.command('tokens').description('product instance registration tokens for connected mode');
  tokens
    .command('create')
    .description('create a registration token and print it')
    .option('--virtual-account <name>', "virtual account the token registers into (default: the smart account's default)")
    .option('--description <text>', 'a description')
    .option('--expires-days <days>', 'days until the token expires, 1 to 365 (default 30)')
    .option('--max-uses <n>', 'how many registrations it allows (default: unlimited)')
    .option('--no-export-control', 'do not allow export-controlled functionality on the products registered with it')
    .option('--json', 'print a JSON object (also with --output json)')
    .action((o: CommandArgs['cssm.tokens.create'][0]) => run('cssm.tokens.create', [o]));
  tokens
    .command('list')
    .description('table of registration tokens: uses, expiry, export control, revoked')
    .option('--virtual-account <name>', 'only this virtual account')
    .option('--json', 'print a JSON array (also with --output json)')
    .action((o: CommandArgs['cssm.tokens.list'][0]) => run('cssm.tokens.list', [o]));
  tokens
    .command('revoke')
    .description('revoke a registration token: no product instance can register with it any more')
    .argument('<token>', 'the token, as tokens create printed it')
    .option('--json', 'print a JSON object (also with --output json)')
    .action((token: string, o: CommandArgs['cssm.tokens.revoke'][1]) => run('cssm.tokens.revoke', [token, o]));
  cssm
    .command('serve')
    .description("serve this home's CSSM over HTTPS: the device protocol (cloud and On-Prem), OAuth and the Smart Account API; runs until Ctrl+C")
    .option('--host <addr>', 'the address to listen on (default: 127.0.0.1, loopback only)')
    .option('--port <n>', 'the port, 0 to 65535 (default: 0, any free port)')
    .option('--json', 'print one JSON line with the URLs, the root CA path and the API client')
    .action((o: CommandArgs['cssm.serve'][0]) => run('cssm.serve', [o]));

  program
    .command('serve')
    .description('serve devices of this home to real clients: SSH (the admin xAPI shell and the root shell) and the REST API over HTTPS; runs until Ctrl+C')
    .option('--ssh <port>', 'SSH on this port for the first device, the next port for the next (0: any free port for each)')
    .option('--https <port>', 'the REST API over HTTPS on this port (0: any free port)')
    .option('--host <addr>', 'the address to listen on (default: 127.0.0.1, loopback only)')
    .option('--device <name>', 'a device to serve (repeatable; default: the global --device, else expressway)')
    .option(
      '--password-file <file>',
      'the password for admin and root: the first line of this private (0600) file (else EXSH_SSH_PASSWORD, else one is generated and printed)',
    )
    .option('--json', 'print one JSON line with the ports, the user, a generated password and the host key fingerprint')
    .action((o: Omit<CommandArgs['serve'][0], 'devices'>, cmd: Command) => {
      // The program's own --device takes every --device on the line, so the ones given to
      // serve are read from the arguments after its name (repeatable, in order).
      const raw = (cmd.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs ?? [];
      const devices: string[] = [];
      for (let i = raw.indexOf('serve') + 1; i > 0 && i < raw.length; i++) {
        const arg = raw[i] as string;
        if (arg === '--') break;
        if (arg === '--device' && i + 1 < raw.length) devices.push(raw[++i] as string);
        else if (arg.startsWith('--device=')) devices.push(arg.slice('--device='.length));
      }
      return run('serve', [{ ...o, devices: devices.length > 0 ? devices : undefined }]);
    });

  const trust = program.command('trust').description("manage the device's trust store: the authority keys whose authorization codes it accepts");
  trust
    .command('add')
    .description('trust an authority public key (PEM: public key, certificate, or the authority private key file)')
    .argument('<pem-file>', 'the PEM file, e.g. the public key printed by exsh cssm init --new-key')
    .option('--name <name>', 'a name for the key (default: authority-<fingerprint>)')
    .action((file: string, o: { name?: string }) => run('trust.add', [file, o]));
  trust
    .command('list')
    .description('list the trusted authority keys')
    .option('--json', 'print a JSON array')
    .action((o: { json?: boolean }) => run('trust.list', [o]));
  trust
    .command('remove')
    .description('stop trusting a key, named by its fingerprint (or a prefix of 8+ digits) or its name')
    .argument('<fingerprint-or-name>', 'as shown by exsh trust list')
    .action((ref: string) => run('trust.remove', [ref]));

  defineResetOptions(program.command('factory-reset')).action((flags: ResetFlags) => run('factory-reset', [flags]));

  const backup = program.command('backup').description('back up a device to a file, or restore one');
  backup
    .command('create')
    .description('write the device (configuration, licensing, identity) to a file, mode 0600')
    .argument('<file>', 'the backup file')
    .option('--force', 'replace the file if it exists')
    .action((file: string, o: { force?: boolean }) => run('backup.create', [file, o]));
  backup
    .command('restore')
    .description('restore a backup: the same system gets its registration back; a different one must register again')
    .argument('<file>', 'the backup file')
    .action((file: string) => run('backup.restore', [file]));

  return program;
}

/** Runs exsh with argv (without node and script); returns the exit status. */
export async function main(argv: string[], io: Io, opts: MainOptions = {}): Promise<number> {
  const dispatch = opts.dispatch ?? loadAndRun;
  let status = 0;
  const program: Command = buildProgram(io, async (name, args) => {
    const { createContext } = await import('./commands/context.js');
    const ctx = createContext(program.opts<GlobalOptions>(), io);
    status = (await dispatch(name, ctx, args)) ?? 0;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (e) {
    return reportError(e, io);
  }
}

/** The one place errors become exit statuses and stderr diagnostics. */
export function reportError(e: unknown, io: Io): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    // `exsh help cssm` asked for it; a command group without its subcommand is a usage error
    // (commander printed the group's help either way).
    if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : 2;
    const sentence = e.message
      .replace(/^error: /, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim();
    io.stderr.write(`${formatDiagnostic(usageError(e.code, sentence.endsWith('.') || sentence.endsWith(')') ? sentence : `${sentence}.`))}\n`);
    return 2;
  }
  // The reader of our output has gone (`exsh … | head -1`): stop quietly, as a pipe expects.
  if ((e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') return 0;
  if (isExshError(e)) {
    io.stderr.write(`${formatDiagnostic(e)}\n`);
    return exitStatusOf(e);
  }
  const err = e instanceof Error ? e : new Error(String(e));
  io.stderr.write(`${formatDiagnostic(new ExshError('exsh.internal', `internal error: ${err.message}`))}\n`);
  if (io.env.EXSH_DEBUG) io.stderr.write(`${err.stack ?? ''}\n`);
  return 1;
}
