import { ExshError } from '../errors.js';
import { lex, type Token } from './lexer.js';
import { checkValue, leavesBelow, type CommandSpec, type CommandTree, type ConfigLeaf, type ParamSpec, type StatusProvider, type TreeNode } from './schema.js';
import { OUTPUT_MODES, type OutputMode, type ParamValues, type Root, type Scalar } from './types.js';

export { OUTPUT_MODES, type OutputMode, type Root } from './types.js';

/**
 * Resolves a lexed line against the command tree: verbs, path words and parameter
 * names are case-insensitive and may be abbreviated to any unique prefix (§2.1).
 */

export const VERBS = ['xConfiguration', 'xCommand', 'xStatus', 'xPreferences', 'xFeedback', 'echo', 'help', 'bye', 'exit', 'factory-reset'] as const;
export type Verb = (typeof VERBS)[number];

/** How a secret value (the proxy password) appears wherever it would be echoed. */
export const SECRET = '********';

/**
 * The line as it may be shown back (echo on, the REPL's history): the value of a secret
 * setting replaced by "********". Lines that set no secret are returned unchanged.
 */
export function redactSecrets<Ctx>(tree: CommandTree<Ctx>, line: string): string {
  let tokens: Token[];
  try {
    tokens = lex(line).tokens;
  } catch {
    tokens = line
      .split(/\s+/)
      .filter((w) => w !== '')
      .map((text) => ({ kind: 'word', text }) as Token);
  }
  const [verb, ...rest] = tokens;
  if (verb?.kind !== 'word') return line;
  try {
    if (matchName(verb.text, VERBS, 'command') !== 'xConfiguration') return line;
  } catch {
    return line;
  }
  let node = tree.config;
  let at = line.toLowerCase().indexOf(verb.text.toLowerCase()) + verb.text.length;
  for (const t of rest) {
    if (t.kind !== 'word' && t.kind !== 'key') return line;
    let child: TreeNode<ConfigLeaf<Ctx>> | undefined;
    try {
      child = matchChild(node, t.text, 'configuration node');
    } catch {
      return line;
    }
    if (!child) return line;
    at = line.toLowerCase().indexOf(t.text.toLowerCase(), at) + t.text.length;
    node = child;
    if (node.leaf?.secret) {
      const colon = line.slice(at).match(/^\s*:/);
      const end = at + (colon ? colon[0].length : 0);
      return end >= line.trimEnd().length ? line : `${line.slice(0, end)}${colon ? '' : ':'} "${SECRET}"`;
    }
    if (t.kind === 'key') return line;
  }
  return line;
}

/** A request that failed to resolve: rendered as an Error (or ParameterError) result. */
export class RequestError extends ExshError {
  readonly root: Root | undefined;
  readonly xpath: string | undefined;
  readonly resultName: string;
  readonly status: 'Error' | 'ParameterError';
  /** For an illegal configuration value: the leaf's path (JSON's illegal-value shape). */
  readonly illegalValuePath: readonly string[] | undefined;

  constructor(
    code: string,
    message: string,
    opts: {
      root?: Root;
      xpath?: string;
      resultName?: string;
      status?: 'Error' | 'ParameterError';
      illegalValuePath?: readonly string[];
    } = {},
  ) {
    super(code, message);
    this.root = opts.root;
    this.xpath = opts.xpath;
    this.resultName = opts.resultName ?? 'Result';
    this.status = opts.status ?? 'Error';
    this.illegalValuePath = opts.illegalValuePath;
  }
}

export interface StatusSegment {
  name: string;
  index?: number;
}

export type Request<Ctx = unknown> =
  | { verb: 'help' }
  | { verb: 'notRecognized' }
  | { verb: 'bye' }
  | { verb: 'echo'; on: boolean }
  | { verb: 'outputMode'; mode: OutputMode }
  | { verb: 'preferencesHelp' }
  | { verb: 'feedbackHelp' }
  | { verb: 'feedback'; action: 'register' | 'deregister'; path: string }
  | { verb: 'feedback'; action: 'deregisterall' | 'list' }
  | { verb: 'factoryReset'; args: string[] }
  | { verb: 'configGet'; path: string[]; leaves: ConfigLeaf<Ctx>[] }
  | { verb: 'configSet'; leaf: ConfigLeaf<Ctx>; value: Scalar }
  | { verb: 'configHelp'; path: string[]; leaves: ConfigLeaf<Ctx>[] }
  | { verb: 'command'; spec: CommandSpec<Ctx>; params: ParamValues }
  | { verb: 'commandHelp'; path: string[]; specs: CommandSpec<Ctx>[]; usage: boolean }
  | { verb: 'status'; providers: StatusProvider<Ctx>[]; segments: StatusSegment[] }
  | { verb: 'statusHelp'; providers: StatusProvider<Ctx>[]; segments: StatusSegment[] };

export interface ParsedRequest<Ctx = unknown> {
  request: Request<Ctx>;
  resultId?: string;
}

/** Picks the one name that `word` names: exact (case-insensitive) or a unique prefix. */
export function matchName<T extends string>(word: string, names: readonly T[], what: string): T | undefined {
  const w = word.toLowerCase();
  const exact = names.find((n) => n.toLowerCase() === w);
  if (exact) return exact;
  const hits = names.filter((n) => n.toLowerCase().startsWith(w));
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) {
    throw new RequestError('xapi.ambiguous', `Ambiguous ${what} '${word}': it could be ${hits.join(', ')}.`);
  }
  return undefined;
}

export function matchChild<T>(node: TreeNode<T>, word: string, what: string): TreeNode<T> | undefined {
  const names = [...node.children.values()].map((c) => c.name);
  const hit = matchName(word, names, what);
  return hit === undefined ? undefined : node.children.get(hit.toLowerCase());
}

function childNames<T>(node: TreeNode<T>): string {
  return [...node.children.values()].map((c) => c.name).join(', ');
}

function tokenText(t: Token): string {
  switch (t.kind) {
    case 'word':
    case 'string':
      return t.text;
    case 'key':
      return `${t.text}:`;
    case 'query':
      return '?';
  }
}

export interface ParseInput {
  line: string;
  /** A multi-line body (§2.3), already joined. */
  body?: string;
}

export function parseRequest<Ctx>(tree: CommandTree<Ctx>, input: ParseInput): ParsedRequest<Ctx> {
  const { tokens, resultId } = lex(input.line);
  const first = tokens[0];
  if (!first) return { request: { verb: 'help' }, resultId };
  if (first.kind === 'query') return { request: { verb: 'help' }, resultId };
  if (first.kind !== 'word') return { request: { verb: 'notRecognized' }, resultId };
  let verb: Verb | undefined;
  try {
    verb = matchName(first.text, VERBS, 'command');
  } catch (e) {
    if (e instanceof RequestError) throw Object.assign(e, { resultId });
    throw e;
  }
  const rest = tokens.slice(1);
  try {
    return { request: resolve(tree, verb, rest, input.body), resultId };
  } catch (e) {
    if (e instanceof ExshError) (e as ExshError & { resultId?: string }).resultId = resultId;
    throw e;
  }
}

function resolve<Ctx>(tree: CommandTree<Ctx>, verb: Verb | undefined, rest: Token[], body: string | undefined): Request<Ctx> {
  switch (verb) {
    case undefined:
      return { verb: 'notRecognized' };
    case 'help':
      return { verb: 'help' };
    case 'bye':
    case 'exit':
      return { verb: 'bye' };
    case 'echo':
      return resolveEcho(rest);
    case 'xPreferences':
      return resolvePreferences(rest);
    case 'xFeedback':
      return resolveFeedback(tree, rest);
    case 'factory-reset':
      // `factory-reset ?` is help, as `?` is after every other verb.
      return { verb: 'factoryReset', args: rest.length === 1 && rest[0]?.kind === 'query' ? ['--help'] : rest.map(tokenText) };
    case 'xConfiguration':
      return resolveConfig(tree, rest);
    case 'xCommand':
      return resolveCommand(tree, rest, body);
    case 'xStatus':
      return resolveStatus(tree, rest);
  }
}

function resolveEcho(rest: Token[]): Request {
  const w = rest[0];
  if (rest.length === 1 && w && w.kind !== 'query') {
    const v = tokenText(w).toLowerCase();
    if (v === 'on' || v === 'off') return { verb: 'echo', on: v === 'on' };
  }
  throw new RequestError('xapi.usage', 'Usage: echo <on/off>.');
}

function resolvePreferences(rest: Token[]): Request {
  if (rest.length === 0 || rest[0]?.kind === 'query') return { verb: 'preferencesHelp' };
  const [name, value, extra] = rest;
  if (name && (name.kind === 'word' || name.kind === 'key') && value && !extra) {
    const pref = matchName(name.text, ['OutputMode'], 'preference');
    if (pref && value.kind !== 'query') {
      const mode = matchName(tokenText(value), OUTPUT_MODES, 'output mode');
      if (mode) return { verb: 'outputMode', mode };
    }
  }
  throw new RequestError('xapi.usage', 'Usage: xpreferences outputmode <terminal/xml/json>.');
}

function resolveFeedback<Ctx>(tree: CommandTree<Ctx>, rest: Token[]): Request<Ctx> {
  if (rest.length === 0 || (rest.length === 1 && rest[0]?.kind === 'query')) return { verb: 'feedbackHelp' };
  const [a, p, extra] = rest;
  if (!a || a.kind === 'query' || extra) {
    throw new RequestError('xapi.usage', 'Usage: xfeedback register <path> | deregister <path> | deregisterall | list.');
  }
  const action = matchName(tokenText(a), ['register', 'deregister', 'deregisterall', 'list'] as const, 'xfeedback action');
  if (!action) throw new RequestError('xapi.usage', `Unknown xfeedback action '${tokenText(a)}': use register, deregister, deregisterall or list.`);
  if (action === 'deregisterall' || action === 'list') {
    if (p) throw new RequestError('xapi.usage', `xfeedback ${action} takes no path.`);
    return { verb: 'feedback', action };
  }
  if (!p || p.kind === 'query') throw new RequestError('xapi.usage', `Usage: xfeedback ${action} <path>, for example /Status/License.`);
  return { verb: 'feedback', action, path: canonicalFeedbackPath(tree, tokenText(p)) };
}

/** `/status/license/smart` → `/Status/License/Smart`; validates the path exists. */
export function canonicalFeedbackPath<Ctx>(tree: CommandTree<Ctx>, raw: string): string {
  const parts = raw.split('/').filter((s) => s.length > 0);
  const rootWord = parts.shift();
  const root = rootWord === undefined ? undefined : matchName(rootWord, ['Configuration', 'Status'] as const, 'feedback root');
  if (!root) {
    throw new RequestError('xapi.noMatch', `No match on address expression '${raw}': feedback paths start with /Configuration or /Status.`, {
      xpath: raw,
    });
  }
  const out: string[] = [root];
  if (root === 'Configuration') {
    let node = tree.config;
    for (const word of parts) {
      const child = matchChild(node, word, 'configuration node');
      if (!child) throw new RequestError('xapi.noMatch', `No match on address expression '${raw}'.`, { xpath: raw });
      out.push(child.name);
      node = child;
    }
  } else {
    const [top, ...more] = parts;
    if (top !== undefined) {
      const { name, index } = splitIndex(top);
      const provider = matchProvider(tree, name, raw);
      out.push(index === undefined ? provider.name : `${provider.name}[${index}]`);
      // Deeper status words are kept as given (the tree is built at run time); casing is fixed on use.
      out.push(...more);
    }
  }
  return `/${out.join('/')}`;
}

function matchProvider<Ctx>(tree: CommandTree<Ctx>, word: string, raw: string): StatusProvider<Ctx> {
  const names = [...tree.status.values()].map((p) => p.name);
  const hit = matchName(word, names, 'status node');
  if (!hit) {
    throw new RequestError('xapi.noMatch', `No match on address expression: there is no status node '${word}'.`, {
      root: 'Status',
      xpath: `Status/${raw}`,
    });
  }
  return tree.status.get(hit.toLowerCase()) as StatusProvider<Ctx>;
}

function splitIndex(word: string): StatusSegment {
  const m = /^(.*?)\[(\d+)\]$/.exec(word);
  return m ? { name: m[1] as string, index: Number(m[2]) } : { name: word };
}

/**
 * `xConfiguration // Name ?` and `xconfiguration //out//hdmi`: every leaf whose path
 * has words starting with each term, in order (the device's search form).
 */
function searchConfig<Ctx>(tree: CommandTree<Ctx>, rest: Token[]): Request<Ctx> {
  const query = rest[rest.length - 1]?.kind === 'query';
  const words = (query ? rest.slice(0, -1) : rest).map(tokenText);
  if (rest.some((t) => t.kind === 'key')) {
    throw new RequestError('xapi.syntax', 'A // search only reads settings; name the setting to change it.', { root: 'Configuration' });
  }
  const terms = words
    .join('//')
    .split('//')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
  const leaves = tree.configLeaves().filter((leaf) => {
    let at = 0;
    for (const term of terms) {
      while (at < leaf.path.length && !(leaf.path[at] as string).toLowerCase().startsWith(term)) at++;
      if (at === leaf.path.length) return false;
      at++;
    }
    return true;
  });
  return query ? { verb: 'configHelp', path: ['//'], leaves } : { verb: 'configGet', path: [], leaves };
}

function resolveConfig<Ctx>(tree: CommandTree<Ctx>, rest: Token[]): Request<Ctx> {
  const first = rest[0];
  if (first && (first.kind === 'word' || first.kind === 'key') && first.text.startsWith('//')) return searchConfig(tree, rest);
  // `xConfiguration *` (PlaceOS sends it): everything, as a bare xConfiguration.
  if (first && first.kind === 'word' && first.text === '*' && rest.length === 1) return { verb: 'configGet', path: [], leaves: leavesBelow(tree.config) };
  let node = tree.config;
  const path: string[] = [];
  let i = 0;
  for (; i < rest.length; i++) {
    const t = rest[i] as Token;
    if (t.kind === 'query') {
      if (i !== rest.length - 1) throw new RequestError('xapi.syntax', "'?' must come last.", { root: 'Configuration' });
      return { verb: 'configHelp', path, leaves: leavesBelow(node) };
    }
    // What follows a secret setting is its value, even when the colon is missing: never echo it.
    const shown = node.leaf?.secret ? SECRET : t.text;
    if (t.kind === 'string') {
      throw new RequestError('xapi.syntax', `Unexpected value "${shown}": a configuration value follows its name and a colon.`, {
        root: 'Configuration',
      });
    }
    const child = matchChild(node, t.text, 'configuration node');
    if (!child) {
      const xpath = `Configuration/${[...path, shown].join('/')}`;
      throw new RequestError(
        'xapi.noMatch',
        `No match on address expression: '${shown}' is not under xConfiguration${path.length ? ` ${path.join(' ')}` : ''}${node.children.size ? ` (expected ${childNames(node)})` : node.leaf?.secret ? ' (a value follows the name and a colon)' : ''}.`,
        { root: 'Configuration', xpath },
      );
    }
    path.push(child.name);
    node = child;
    if (t.kind === 'key') {
      i++;
      break;
    }
  }
  const keyed = rest[i - 1]?.kind === 'key';
  if (!keyed) return { verb: 'configGet', path, leaves: leavesBelow(node) };
  const leaf = node.leaf;
  const pathText = path.join(' ');
  if (!leaf) {
    throw new RequestError('xapi.noMatch', `xConfiguration ${pathText} is not a setting: name one of ${childNames(node)}.`, {
      root: 'Configuration',
      xpath: `Configuration/${path.join('/')}`,
    });
  }
  const values = rest.slice(i);
  if (values.length === 0 || values[0]?.kind === 'query') {
    if (values.length === 1 && values[0]?.kind === 'query') return { verb: 'configHelp', path, leaves: [leaf] };
    throw new RequestError('xapi.missingValue', `Missing value for ${pathText}: expected ${describe(leaf)}.`, {
      root: 'Configuration',
      illegalValuePath: path,
    });
  }
  if (values.length > 1) {
    throw new RequestError('xapi.syntax', `Too many values for ${pathText}: put a value that contains spaces in double quotes.`, {
      root: 'Configuration',
      illegalValuePath: path,
    });
  }
  const raw = tokenText(values[0] as Token);
  const checked = checkValue(leaf.space, raw);
  if ('error' in checked) {
    throw new RequestError('xapi.badValue', `Invalid value '${leaf.secret ? SECRET : raw}' for ${pathText}: ${checked.error}.`, {
      root: 'Configuration',
      illegalValuePath: path,
    });
  }
  const extra = leaf.validate?.(checked.value);
  if (extra) throw new RequestError('xapi.badValue', extra, { root: 'Configuration', illegalValuePath: path });
  return { verb: 'configSet', leaf, value: checked.value };
}

function describe<Ctx>(leaf: ConfigLeaf<Ctx>): string {
  const s = leaf.space;
  return s.kind === 'enum' ? s.values.join(' or ') : s.kind === 'int' ? `an integer from ${s.min} to ${s.max}` : 'a string';
}

function resolveCommand<Ctx>(tree: CommandTree<Ctx>, rest: Token[], body: string | undefined): Request<Ctx> {
  let node = tree.commands;
  const path: string[] = [];
  let i = 0;
  for (; i < rest.length; i++) {
    const t = rest[i] as Token;
    if (t.kind === 'query') {
      return { verb: 'commandHelp', path, specs: leavesBelow(node), usage: false };
    }
    if (t.kind !== 'word') break;
    if (node.leaf && node.children.size === 0) break;
    const child = matchChild(node, t.text, 'command');
    if (!child) {
      if (node.leaf) break; // a positional argument after a complete command
      throw new RequestError(
        'xapi.noMatch',
        `Unknown command: there is no '${t.text}' under xCommand${path.length ? ` ${path.join(' ')}` : ''}${node.children.size ? ` (expected ${childNames(node)})` : ''}.`,
        { root: 'Command', xpath: `/${[...path, t.text].join('/')}` },
      );
    }
    path.push(child.name);
    node = child;
  }
  const spec = node.leaf;
  if (!spec) {
    if (i < rest.length) {
      const t = rest[i] as Token;
      throw new RequestError('xapi.noMatch', `Unknown command: '${tokenText(t)}' cannot follow xCommand ${path.join(' ')}.`, {
        root: 'Command',
        xpath: `/${path.join('/')}`,
      });
    }
    return { verb: 'commandHelp', path, specs: leavesBelow(node), usage: false };
  }
  const args = rest.slice(i);
  if (args.length === 1 && args[0]?.kind === 'query') return { verb: 'commandHelp', path, specs: [spec], usage: false };
  const params = bindParams(spec, args, body);
  const missing = spec.params.filter((p) => p.required && params[p.name] === undefined);
  if (missing.length > 0) {
    if (args.length === 0 && body === undefined) return { verb: 'commandHelp', path, specs: [spec], usage: true };
    throw paramError(spec, `Missing required parameter ${missing.map((p) => p.name).join(', ')} for xCommand ${spec.path.join(' ')}.`);
  }
  return { verb: 'command', spec, params };
}

function paramError<Ctx>(spec: CommandSpec<Ctx>, message: string): RequestError {
  return new RequestError('xapi.badParameter', message, {
    root: 'Command',
    resultName: `${spec.path.join('')}Result`,
    status: 'ParameterError',
  });
}

function bindParams<Ctx>(spec: CommandSpec<Ctx>, args: Token[], body: string | undefined): ParamValues {
  const values: ParamValues = {};
  const names = spec.params.map((p) => p.name);
  const positional = spec.params.find((p) => p.positional);
  const assign = (p: ParamSpec, raw: string) => {
    const checked = checkValue(p.space, raw);
    if ('error' in checked) {
      const shown = raw.length > 60 ? `${raw.slice(0, 57)}...` : raw;
      throw paramError(spec, `Invalid value '${shown}' for ${p.name}: ${checked.error}.`);
    }
    const prev = values[p.name];
    if (prev === undefined) values[p.name] = p.multiple ? [checked.value] : checked.value;
    else if (p.multiple && Array.isArray(prev)) prev.push(checked.value);
    else throw paramError(spec, `Parameter ${p.name} was given more than once.`);
  };
  for (let i = 0; i < args.length; i++) {
    const t = args[i] as Token;
    if (t.kind === 'query') throw paramError(spec, "'?' must come last.");
    if (t.kind === 'key') {
      const name = matchName(t.text, names, 'parameter');
      if (!name) {
        throw paramError(
          spec,
          `Unknown parameter '${t.text}' for xCommand ${spec.path.join(' ')}${names.length ? `: expected ${names.join(', ')}` : ': it takes no parameters'}.`,
        );
      }
      const v = args[i + 1];
      if (!v || v.kind === 'key' || v.kind === 'query') throw paramError(spec, `Missing value for parameter ${name}.`);
      assign(spec.params.find((p) => p.name === name) as ParamSpec, tokenText(v));
      i++;
      continue;
    }
    if (!positional) {
      throw paramError(spec, `Unexpected value '${tokenText(t)}': parameters of xCommand ${spec.path.join(' ')} are written Name: value.`);
    }
    if (values[positional.name] !== undefined) throw paramError(spec, `Parameter ${positional.name} was given more than once.`);
    assign(positional, tokenText(t));
  }
  if (body !== undefined) {
    const bodyParam = spec.params.find((p) => p.body);
    if (!bodyParam) throw paramError(spec, `xCommand ${spec.path.join(' ')} takes no multi-line body.`);
    if (values[bodyParam.name] !== undefined) throw paramError(spec, `Parameter ${bodyParam.name} was given both on the line and as a body.`);
    assign(bodyParam, body);
  }
  return values;
}

function resolveStatus<Ctx>(tree: CommandTree<Ctx>, rest: Token[]): Request<Ctx> {
  const segments: StatusSegment[] = [];
  let query = false;
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i] as Token;
    if (t.kind === 'query') {
      if (i !== rest.length - 1) throw new RequestError('xapi.syntax', "'?' must come last.", { root: 'Status' });
      query = true;
      break;
    }
    const text = tokenText(t).replace(/:$/, '');
    if (/^\d+$/.test(text) && segments.length > 0) {
      const last = segments[segments.length - 1] as StatusSegment;
      if (last.index !== undefined) {
        throw new RequestError('xapi.noMatch', `No match on address expression: unexpected index ${text}.`, { root: 'Status' });
      }
      last.index = Number(text);
      continue;
    }
    segments.push(splitIndex(text));
  }
  const all = [...tree.status.values()];
  const first = segments[0];
  const providers = first ? [matchProvider(tree, first.name, segments.map((s) => s.name).join('/'))] : all;
  if (first) first.name = (providers[0] as StatusProvider<Ctx>).name;
  return query ? { verb: 'statusHelp', providers, segments } : { verb: 'status', providers, segments };
}
