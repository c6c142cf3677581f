/**
 * Subsystems that add subcommands to the CLI register themselves on import. Each
 * registering module stays light: heavy parts (SQLite, enquirer) load inside actions.
 */
import { registerSubcommands } from './cli.js';
import { registerCssmCommands } from './cssm/cli.js';
import './trust/cli.js';
import './reset/cli.js';
import './backup/cli.js';

registerSubcommands((program, ctx) => {
  registerCssmCommands(program, () => {
    const c = ctx();
    return { home: c.home, now: () => c.clock(), rng: c.rng('cssm'), stdout: c.io.stdout, stderr: c.io.stderr };
  });
});
