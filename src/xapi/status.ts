import { matchName, RequestError, type StatusSegment } from './parser.js';
import type { StatusProvider } from './schema.js';
import type { StatusObject, StatusValue } from './types.js';

/**
 * Walks a built status tree along the requested segments (prefix-matched, with
 * `Entitlement 2` / `Entitlement[2]` indices) and returns the subtree wrapped in its
 * ancestors, so renderers always start from the top node (`*s License: /`).
 */
export function statusSubtree<Ctx>(ctx: Ctx, provider: StatusProvider<Ctx>, segments: readonly StatusSegment[]): StatusObject {
  const built = provider.build(ctx);
  const top = segments[0];
  const path = [provider.name];
  const fail = (word: string) =>
    new RequestError('xapi.noMatch', `No match on address expression: there is no '${word}' under xStatus ${path.join(' ')}.`, {
      root: 'Status',
      xpath: `Status/${[...path, word].join('/')}`,
    });

  const descend = (value: StatusValue, index: number | undefined, rest: readonly StatusSegment[], label: string): StatusValue => {
    const v = value;
    if (index !== undefined) {
      if (!Array.isArray(v)) throw fail(`${label}[${index}]`);
      const item = v.find((x) => Number(x.id) === index);
      if (!item) throw fail(`${label}[${index}]`);
      if (rest.length === 0) return [item];
      return [{ id: item.id as StatusValue, ...walk(item, rest) }];
    }
    if (rest.length === 0) return v;
    if (Array.isArray(v)) {
      // `xStatus Alarm Id`: without an index, the rest of the path applies to every item.
      const depth = path.length;
      return v.map((item) => {
        const picked = { id: item.id as StatusValue, ...walk(item, rest) };
        path.length = depth;
        return picked;
      });
    }
    if (typeof v !== 'object') throw fail(rest[0]?.name ?? '');
    return walk(v, rest);
  };

  const walk = (obj: StatusObject, rest: readonly StatusSegment[]): StatusObject => {
    const [seg, ...more] = rest as [StatusSegment, ...StatusSegment[]];
    const keys = Object.keys(obj).filter((k) => k !== 'id');
    const key = matchName(seg.name, keys, 'status node');
    if (key === undefined) throw fail(seg.name);
    path.push(key);
    return { [key]: descend(obj[key] as StatusValue, seg.index, more, key) };
  };

  return { [provider.name]: descend(built, top?.index, segments.slice(1), provider.name) };
}

/** Every leaf path below a status value, for `xStatus <path> ?`. */
export function statusLeafPaths(tree: StatusObject, prefix: string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(tree)) {
    if (k === 'id') continue;
    if (Array.isArray(v)) {
      for (const item of v) out.push(...statusLeafPaths(item, [...prefix, `${k}[${String(item.id)}]`]));
    } else if (typeof v === 'object') {
      out.push(...statusLeafPaths(v, [...prefix, k]));
    } else {
      out.push([...prefix, k].join(' '));
    }
  }
  return out;
}
