import { writeFileSync } from 'node:fs';
import { deviceModel } from '../device/subsystems.js';
import { packageFile } from '../paths.js';
import { commandReference } from '../xapi/reference.js';

/** `npm run docs`: regenerates docs/commands.md from the command tree. */
const target = packageFile('docs/commands.md');
writeFileSync(target, commandReference(deviceModel().tree));
process.stdout.write('wrote docs/commands.md\n');
