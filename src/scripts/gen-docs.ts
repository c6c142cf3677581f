import { writeFileSync } from 'node:fs';
import { commandTree } from '../device/index.js';
import '../subcommands.js';
import { commandReference } from '../xapi/reference.js';

/** `npm run docs`: regenerates docs/commands.md from the command tree. */
const target = new URL('../../docs/commands.md', import.meta.url);
writeFileSync(target, commandReference(commandTree()));
process.stdout.write(`wrote ${target.pathname.split('/').slice(-2).join('/')}\n`);
