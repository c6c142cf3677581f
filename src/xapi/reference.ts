import { SIMULATOR_MARK } from './help.js';
import { formatSpace, type CommandTree } from './schema.js';

/** docs/commands.md, generated from the command tree (`npm run docs`). */
export function commandReference<Ctx>(tree: CommandTree<Ctx>): string {
  const out: string[] = [
    '# Command reference',
    '',
    '<!-- Generated from the command tree by `npm run docs`; do not edit by hand. A test fails when this file is stale. -->',
    '',
    'Verbs, path words and parameter names are case-insensitive and may be abbreviated to any unique prefix.',
    'Value spaces: `<On/Off>` enumerations, `<1..65535>` integer ranges, `<S: min, max>` string lengths; `(r)` marks a required parameter.',
    '',
    '## xConfiguration',
    '',
    '| Setting | Value space | Default | Description |',
    '|---|---|---|---|',
  ];
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  for (const leaf of tree.configLeaves()) {
    const def = leaf.default === '' ? '""' : String(leaf.default);
    out.push(
      `| \`${leaf.path.join(' ')}\` | \`${formatSpace(leaf.space)}\` | \`${def}\` | ${cell(leaf.help)}${leaf.secret ? ' Shown as `"********"` once set.' : ''} |`,
    );
  }
  out.push('', '## xCommand', '');
  for (const spec of tree.commandList()) {
    out.push(`### xCommand ${spec.path.join(' ')}`, '');
    if (spec.simulator) out.push(`*${SIMULATOR_MARK}*`, '');
    out.push(cell(spec.help), '');
    if (spec.params.length) {
      out.push('| Parameter | Value space | Notes |', '|---|---|---|');
      for (const p of spec.params) {
        const notes = [
          p.required ? 'required' : 'optional',
          p.positional ? 'may be given without its name' : '',
          p.body ? 'or as a multi-line body ending in a line with only `.`' : '',
          p.multiple ? 'may repeat' : '',
        ]
          .filter((x) => x)
          .join('; ');
        out.push(`| \`${p.name}${p.required ? '(r)' : ''}\` | \`${formatSpace(p.space)}\` | ${notes}${p.help ? `. ${cell(p.help)}` : ''} |`);
      }
      out.push('');
    }
  }
  out.push('## xStatus', '', '| Node | Description |', '|---|---|');
  for (const p of tree.status.values()) out.push(`| \`${p.name}\` | ${cell(p.help)} |`);
  out.push('');
  return out.join('\n');
}
