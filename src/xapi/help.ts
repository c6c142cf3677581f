import { VERBS } from './parser.js';
import { formatSpace, type CommandSpec, type CommandTree, type ConfigLeaf } from './schema.js';

/** Help texts (§2.5), all derived from the command tree. */

export const SIMULATOR_MARK = '(simulator control, not part of Expressway)';

function columns(words: readonly string[], width = 16, perLine = 4): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i += perLine) {
    out.push(
      words
        .slice(i, i + perLine)
        .map((w) => w.padEnd(width))
        .join('')
        .trimEnd(),
    );
  }
  return out;
}

export function verbHelp(): string[] {
  return ['- User Commands -', '', ...columns(VERBS.map((v) => v.toLowerCase()))];
}

export function feedbackHelp(): string[] {
  return [
    'xfeedback usage:',
    '  xfeedback register <path>      for example /Status/License/Smart or /Configuration/SystemUnit',
    '  xfeedback deregister <path>',
    '  xfeedback deregisterall',
    '  xfeedback list',
  ];
}

export function preferencesHelp(): string[] {
  return ['xpreferences usage:', '  xpreferences outputmode <terminal/xml/json>'];
}

export function configHelp<Ctx>(tree: CommandTree<Ctx>, path: readonly string[], leaves: readonly ConfigLeaf<Ctx>[]): string[] {
  if (path.length === 0) {
    return ['- User Configurations -', '', ...columns([...tree.config.children.values()].map((c) => c.name))];
  }
  return leaves.map((l) => `*? xConfiguration ${l.path.join(' ')}: ${formatSpace(l.space)}`);
}

/** `*? xCommand Path` then one line per parameter, `(r)` marking required ones. */
export function commandUsage<Ctx>(spec: CommandSpec<Ctx>): string[] {
  const head = `*? xCommand ${spec.path.join(' ')}${spec.simulator ? `  ${SIMULATOR_MARK}` : ''}`;
  return [head, ...spec.params.map((p) => `    ${p.name}${p.required ? '(r)' : ''}: ${formatSpace(p.space)}`)];
}

export function commandHelp<Ctx>(tree: CommandTree<Ctx>, path: readonly string[], specs: readonly CommandSpec<Ctx>[]): string[] {
  if (path.length === 0) {
    return ['- User Commands -', '', ...columns([...tree.commands.children.values()].map((c) => c.name))];
  }
  return specs.flatMap(commandUsage);
}

export function statusRootHelp<Ctx>(tree: CommandTree<Ctx>): string[] {
  return ['- Status -', '', ...columns([...tree.status.values()].map((p) => p.name))];
}
