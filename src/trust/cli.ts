import type { Command } from 'commander';
import { registerSubcommands } from '../cli.js';
import type { CliContext } from '../context.js';

/**
 * `exsh trust add | list | remove` (§6.7): the device's trust store of authority keys.
 * Only commander declarations here; the work (key parsing, the store) loads in actions,
 * so importing this module costs nothing at start-up.
 */

export function registerTrustCommands(program: Command, getCtx: () => CliContext): Command {
  const trust = program
    .command('trust')
    .description("manage the device's trust store: the authority keys whose authorization codes it accepts");

  trust
    .command('add')
    .description('trust an authority public key (PEM: public key, certificate, or the authority private key file)')
    .argument('<pem-file>', 'the PEM file, e.g. the public key printed by exsh cssm init --new-key')
    .option('--name <name>', 'a name for the key (default: authority-<fingerprint>)')
    .action(async (file: string, o: { name?: string }) => {
      const { trustAdd } = await import('./commands.js');
      trustAdd(getCtx(), file, o);
    });

  trust
    .command('list')
    .description('list the trusted authority keys')
    .option('--json', 'print a JSON array')
    .action(async (o: { json?: boolean }) => {
      const { trustList } = await import('./commands.js');
      trustList(getCtx(), o);
    });

  trust
    .command('remove')
    .description('stop trusting a key, named by its fingerprint (or a prefix of 8+ digits) or its name')
    .argument('<fingerprint-or-name>', 'as shown by exsh trust list')
    .action(async (ref: string) => {
      const { trustRemove } = await import('./commands.js');
      trustRemove(getCtx(), ref);
    });

  return trust;
}

registerSubcommands((program, ctx) => {
  registerTrustCommands(program, ctx);
});
