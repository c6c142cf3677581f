import { VERBS, matchChild, matchName } from '../xapi/parser.js';
import type { CommandSpec, CommandTree, TreeNode } from '../xapi/schema.js';
import type { StatusObject, StatusValue, ValueSpace } from '../xapi/types.js';

/**
 * Tab completion (§2.7) from the command tree: verbs, path words, parameter names
 * (with their colon) and enum values.
 */

function node<T>(root: TreeNode<T>, words: string[]): TreeNode<T> | undefined {
  let n: TreeNode<T> | undefined = root;
  for (const w of words) {
    if (!n) return undefined;
    try {
      n = matchChild(n, w, 'node');
    } catch {
      return undefined; // ambiguous: nothing to complete
    }
  }
  return n;
}

function enumValues(space: ValueSpace | undefined): string[] {
  return space?.kind === 'enum' ? [...space.values] : [];
}

function filter(candidates: string[], partial: string): string[] {
  const p = partial.toLowerCase();
  return candidates.filter((c) => c.toLowerCase().startsWith(p));
}

/**
 * Completions for a line: `status(name)` builds a status node of the device (only
 * `xStatus` paths need the device's state, since status nodes are built at run time).
 */
export function complete<Ctx>(
  tree: CommandTree<Ctx>,
  status: ((name: string) => StatusObject | StatusObject[] | undefined) | undefined,
  line: string,
): [string[], string] {
  const words = line.split(/\s+/).filter((w, i, a) => w !== '' || i === a.length - 1);
  if (words.length === 0) words.push('');
  const partial = words.pop() as string;
  const [verbWord, ...path] = words;
  if (verbWord === undefined) {
    return [
      filter(
        VERBS.map((v) => v),
        partial,
      ).map((v) => `${v} `),
      partial,
    ];
  }
  let verb: string | undefined;
  try {
    verb = matchName(verbWord, VERBS, 'command');
  } catch {
    return [[], partial];
  }
  const withSpace = (xs: string[]) => xs.map((x) => `${x} `);
  switch (verb) {
    case 'xConfiguration': {
      const keyIndex = path.findIndex((w) => w.endsWith(':'));
      if (keyIndex >= 0) {
        const leafNode = node(
          tree.config,
          path.slice(0, keyIndex + 1).map((w) => w.replace(/:$/, '')),
        );
        return [withSpace(filter(enumValues(leafNode?.leaf?.space), partial)), partial];
      }
      const n = node(tree.config, path);
      if (!n) return [[], partial];
      const names = [...n.children.values()].map((c) => (c.leaf && c.children.size === 0 ? `${c.name}:` : c.name));
      return [withSpace(filter(names, partial)), partial];
    }
    case 'xCommand': {
      let n: TreeNode<CommandSpec<Ctx>> | undefined = tree.commands;
      let i = 0;
      for (; i < path.length && n && !(n.leaf && n.children.size === 0); i++) n = node(n, [path[i] as string]);
      if (!n) return [[], partial];
      if (n.leaf && n.children.size === 0) {
        const spec = n.leaf;
        const last = path[path.length - 1];
        if (last?.endsWith(':')) {
          const p = spec.params.find((x) => x.name.toLowerCase() === last.slice(0, -1).toLowerCase());
          return [withSpace(filter(enumValues(p?.space), partial)), partial];
        }
        return [
          withSpace(
            filter(
              spec.params.map((p) => `${p.name}:`),
              partial,
            ),
          ),
          partial,
        ];
      }
      return [
        withSpace(
          filter(
            [...n.children.values()].map((c) => c.name),
            partial,
          ),
        ),
        partial,
      ];
    }
    case 'xStatus': {
      if (path.length === 0)
        return [
          withSpace(
            filter(
              [...tree.status.values()].map((p) => p.name),
              partial,
            ),
          ),
          partial,
        ];
      const provider = [...tree.status.values()].find((p) => p.name.toLowerCase().startsWith((path[0] as string).toLowerCase()));
      if (!provider || !status) return [[], partial];
      let v: StatusValue;
      try {
        const built = status(provider.name);
        if (built === undefined) return [[], partial];
        v = built;
      } catch {
        return [[], partial];
      }
      for (const w of path.slice(1)) {
        if (Array.isArray(v) || typeof v !== 'object') return [[], partial];
        const key = Object.keys(v).find((k) => k.toLowerCase().startsWith(w.toLowerCase()));
        if (!key) return [[], partial];
        v = v[key] as StatusValue;
      }
      if (Array.isArray(v) || typeof v !== 'object') return [[], partial];
      return [withSpace(filter(Object.keys(v), partial)), partial];
    }
    case 'xPreferences':
      return path.length === 0 ? [withSpace(filter(['outputmode'], partial)), partial] : [withSpace(filter(['terminal', 'xml', 'json'], partial)), partial];
    case 'xFeedback':
      return path.length === 0 ? [withSpace(filter(['register', 'deregister', 'deregisterall', 'list'], partial)), partial] : [[], partial];
    case 'echo':
      return [withSpace(filter(['on', 'off'], partial)), partial];
    default:
      return [[], partial];
  }
}
