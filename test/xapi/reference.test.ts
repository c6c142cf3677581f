import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deviceModel } from '../../src/device/subsystems.js';
import { commandReference } from '../../src/xapi/reference.js';

describe('docs/commands.md', () => {
  it('matches the command tree (run `npm run docs` after changing the tree)', () => {
    const committed = readFileSync(new URL('../../docs/commands.md', import.meta.url), 'utf8');
    expect(committed).toBe(commandReference(deviceModel().tree));
  });

  it('lists every configuration leaf and command', () => {
    const text = commandReference(deviceModel().tree);
    for (const leaf of deviceModel().tree.configLeaves()) expect(text).toContain(`\`${leaf.path.join(' ')}\``);
    for (const c of deviceModel().tree.commandList()) expect(text).toContain(`### xCommand ${c.path.join(' ')}`);
  });
});
