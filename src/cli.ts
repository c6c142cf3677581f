import { Command, CommanderError, Option } from 'commander';
import { isExshError, formatDiagnostic, usageError, ExshError } from './errors.js';
import { context, type CliContext, type GlobalOptions, type Io } from './context.js';

/**
 * The commander program: declares commands and options, normalises them, and turns
 * errors into exit statuses in exactly one place (§1). Every subcommand is a plain
 * function in its own module, loaded only when it runs (start-up time is a §11 bar).
 */

export type Registrar = (program: Command, ctx: () => CliContext) => void;
const registrars: Registrar[] = [];
/** Subsystems add their subcommands (cssm, trust, backup, factory-reset) here. */
export function registerSubcommands(r: Registrar): void {
  registrars.push(r);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(io: Io, holder: { ctx?: CliContext }): Command {
  const program = new Command('exsh');
  const getCtx = (): CliContext => {
    if (!holder.ctx) holder.ctx = context(program.opts<GlobalOptions>(), io);
    return holder.ctx;
  };
  program
    .description('A simulator of the Cisco Expressway administrator shell for Smart Licensing, with a simulated CSSM.')
    .usage('[options] [command]')
    .addOption(new Option('--home <dir>', 'where all state lives').env('EXSH_HOME'))
    .addOption(new Option('--device <name>', 'which simulated device').env('EXSH_DEVICE').default('expressway'))
    .addOption(new Option('--output <mode>', 'start in this output mode').choices(['terminal', 'json', 'xml']).default('terminal'))
    .addOption(new Option('--now <iso>', 'pin the simulated clock (the stored offset still applies)').env('EXSH_NOW'))
    .addOption(new Option('--seed <n>', 'deterministic identities and nonces').env('EXSH_SEED'))
    .option('--no-color', 'plain output (also NO_COLOR)')
    .option('-c, --command <line>', 'run this line (repeatable), then exit', collect, [])
    .option('--fail-fast', 'stop at the first line that ends in ERROR')
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
      if (program.args.length > 0) {
        const names = program.commands.map((c) => c.name());
        const near = names.filter((n) => n.startsWith(program.args[0]?.slice(0, 3) ?? ''));
        throw usageError(
          'cli.unknownCommand',
          `Unknown command '${program.args[0]}'${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}; the commands are ${names.join(', ')}.`,
        );
      }
      const { runDefault } = await import('./shell/main.js');
      holder.ctx = getCtx();
      holder.ctx.exitCode = await runDefault(holder.ctx);
    });

  program
    .command('run')
    .description('run a script file of xAPI lines (- reads stdin)')
    .argument('<file>', 'the script, or - for stdin')
    .action(async (file: string) => {
      const { runFile } = await import('./shell/main.js');
      holder.ctx = getCtx();
      holder.ctx.exitCode = await runFile(holder.ctx, file);
    });

  program
    .command('tsh')
    .description('a login session over stdin/stdout, as an SSH session without a pty (jsxapi tsh: transport)')
    .option('--port <n>', 'accepted and ignored (jsxapi passes it)')
    .action(async () => {
      const { runTsh } = await import('./shell/main.js');
      holder.ctx = getCtx();
      holder.ctx.exitCode = await runTsh(holder.ctx);
    });

  const devices = program.command('devices').description('list, create and remove simulated devices');
  devices
    .command('list')
    .description('list the devices under --home')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { listDevices } = await import('./device/admin.js');
      listDevices(getCtx(), o);
    });
  devices
    .command('create')
    .description('create a device (it is also created on first use)')
    .argument('<name>', 'device name')
    .addOption(new Option('--brand <brand>', 'brand').choices(['Expressway', 'VCS']).default('Expressway'))
    .addOption(new Option('--type <type>', 'type of an Expressway (default ExpresswayC)').choices(['ExpresswayC', 'ExpresswayE']))
    .action(async (name: string, o: { brand: 'Expressway' | 'VCS'; type?: 'ExpresswayC' | 'ExpresswayE' }) => {
      const { createDevice } = await import('./device/admin.js');
      createDevice(getCtx(), name, o);
    });
  devices
    .command('remove')
    .description('remove a device and its history')
    .argument('<name>', 'device name')
    .action(async (name: string) => {
      const { removeDevice } = await import('./device/admin.js');
      removeDevice(getCtx(), name);
    });

  for (const r of registrars) r(program, getCtx);
  return program;
}

const VALUE_OPTIONS = new Set(['--home', '--device', '--output', '--now', '--seed', '-c', '--command']);
const BUILT_IN = new Set(['run', 'tsh', 'devices']);

/**
 * The device shell's own modes never need the other subcommands' modules; loading
 * them only for `exsh cssm …`, `exsh backup …` (and help, and unknown words, so that
 * commander can list and suggest them) keeps `exsh -c …` start-up short (§11).
 */
export function needsSubcommands(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-h' || a === '--help') return true;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return !BUILT_IN.has(a);
  }
  return false;
}

/** Runs exsh with argv (without node and script); returns the exit status. */
export async function main(argv: string[], io: Io): Promise<number> {
  if (needsSubcommands(argv)) await import('./subcommands.js');
  const holder: { ctx?: CliContext } = {};
  const program = buildProgram(io, holder);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return holder.ctx?.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // A command group without its subcommand: commander printed the group's help.
      if (e.code === 'commander.help') return 2;
      const sentence = e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
      io.stderr.write(`${formatDiagnostic(new ExshError(e.code, sentence.endsWith('.') || sentence.endsWith(')') ? sentence : `${sentence}.`, 2))}\n`);
      return 2;
    }
    if (isExshError(e)) {
      io.stderr.write(`${formatDiagnostic(e)}\n`);
      return e.exitCode;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(`${formatDiagnostic(new ExshError('exsh.internal', `internal error: ${err.message}`))}\n`);
    if (io.env.EXSH_DEBUG) io.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}

