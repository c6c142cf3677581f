import type { CommandOutcome, ParamValues, Scalar, StatusObject, ValueSpace } from './types.js';

/**
 * The one declarative command tree (§2.7, §4): configuration leaves, commands and status
 * providers, generic over the context their handlers receive (the device model supplies
 * it). The parser, help, Tab completion, validation and docs/commands.md are all derived
 * from it.
 */

export type { CommandOutcome, ParamValues, Scalar, StatusObject, StatusValue, ValueSpace } from './types.js';

export function enumSpace(...values: string[]): ValueSpace {
  return { kind: 'enum', values };
}
export function intSpace(min: number, max: number): ValueSpace {
  return { kind: 'int', min, max };
}
export function stringSpace(min: number, max: number): ValueSpace {
  return { kind: 'string', min, max };
}

/** `<On/Off>`, `<1..65535>`, `<S: 0, 1024>` as the device's help prints them. */
export function formatSpace(space: ValueSpace): string {
  switch (space.kind) {
    case 'enum':
      return `<${space.values.join('/')}>`;
    case 'int':
      return `<${space.min}..${space.max}>`;
    case 'string':
      return `<S: ${space.min}, ${space.max}>`;
  }
}

/** Human wording of a value space for error reasons: "On or Off", "an integer from 1 to 65535". */
export function describeSpace(space: ValueSpace): string {
  switch (space.kind) {
    case 'enum': {
      const v = space.values;
      return v.length <= 2 ? v.join(' or ') : `one of ${v.slice(0, -1).join(', ')} or ${v[v.length - 1]}`;
    }
    case 'int':
      return `an integer from ${space.min} to ${space.max}`;
    case 'string':
      return space.min > 0 ? `a string of ${space.min} to ${space.max} characters` : `a string of at most ${space.max} characters`;
  }
}

/**
 * Checks a raw value against a value space. Returns the canonical value (enum casing
 * fixed, integers as numbers) or an error sentence fragment.
 */
export function checkValue(space: ValueSpace, raw: string): { value: Scalar } | { error: string } {
  switch (space.kind) {
    case 'enum': {
      const hit = space.values.find((v) => v.toLowerCase() === raw.toLowerCase());
      return hit === undefined ? { error: `expected ${describeSpace(space)}` } : { value: hit };
    }
    case 'int': {
      if (!/^-?\d+$/.test(raw)) return { error: `expected ${describeSpace(space)}` };
      const n = Number(raw);
      if (n < space.min || n > space.max) return { error: `expected ${describeSpace(space)}` };
      return { value: n };
    }
    case 'string': {
      const len = [...raw].length;
      if (len < space.min || len > space.max) return { error: `expected ${describeSpace(space)}` };
      return { value: raw };
    }
  }
}

// ---------------------------------------------------------------------------
// Configuration

export interface ConfigLeaf<Ctx = unknown> {
  kind: 'config';
  path: readonly string[];
  space: ValueSpace;
  default: Scalar;
  help: string;
  /** Never printed back once set (shown as "********"). */
  secret?: boolean;
  /** Extra validation beyond the value space; returns a full error sentence. */
  validate?: (value: Scalar) => string | undefined;
  /**
   * Preconditions and side effects of setting the value (e.g. ReservationEnable
   * needs the device deregistered). Throws ExshError to refuse; nothing is written.
   */
  onSet?: (ctx: Ctx, value: Scalar, previous: Scalar) => void;
}

// ---------------------------------------------------------------------------
// Commands

export interface ParamSpec {
  name: string;
  space: ValueSpace;
  required?: boolean;
  /** May repeat (array parameter). */
  multiple?: boolean;
  /** Also taken as a positional argument, without its name (§2.2). */
  positional?: boolean;
  /**
   * Also taken as a multi-line body (§2.3): a code pasted over several lines, ended by a
   * line with only "." (or sent in a `{N}` frame). The command waits for the body when
   * the line names no value for it.
   */
  body?: boolean;
  help?: string;
}

export interface CommandSpec<Ctx = unknown> {
  kind: 'command';
  path: readonly string[];
  help: string;
  params: readonly ParamSpec[];
  /** The handler changes device state (takes the lock, writes before OK). */
  mutates: boolean;
  /** The simulator's own controls, marked in help as not part of Expressway. */
  simulator?: boolean;
  /** The handler may change other devices of the home in the same transaction (`ctx.peer`: a cluster's peers). */
  peers?: boolean;
  /** What the command does (every command has this or `remote`). */
  handler?: (ctx: Ctx, params: ParamValues) => CommandOutcome | Promise<CommandOutcome>;
  /**
   * A command that talks to the outside world (§12), instead of `handler`: `prepare` runs
   * on a read of the state (a refusal throws) and returns a plan; the front end carries
   * it with `perform`, holding no lock; `settle` applies the result in a short change
   * that re-checks what the plan was made from.
   */
  remote?: RemoteCommand<Ctx>;
}

export interface RemoteCommand<Ctx = unknown> {
  prepare(ctx: Ctx, params: ParamValues): unknown;
  /** `services` is what the front end gives the device for the outside world. */
  perform(plan: unknown, services: unknown): Promise<unknown>;
  settle(ctx: Ctx, plan: unknown, result: unknown): CommandOutcome | Promise<CommandOutcome>;
}

// ---------------------------------------------------------------------------
// Status

export interface StatusProvider<Ctx = unknown> {
  kind: 'status';
  /** Top-level node name (`SystemUnit`, `License`, `Alarm`). */
  name: string;
  help: string;
  /** An array node at the top (`Alarm[n]`): the provider returns the items. */
  build: (ctx: Ctx) => StatusObject | StatusObject[];
}

/** What a subsystem declares: the leaf, command or provider without its `kind` tag. */
export type ConfigLeafSpec<Ctx = unknown> = Omit<ConfigLeaf<Ctx>, 'kind'>;
export type CommandSpecInput<Ctx = unknown> = Omit<CommandSpec<Ctx>, 'kind'>;
export type StatusProviderSpec<Ctx = unknown> = Omit<StatusProvider<Ctx>, 'kind'>;

// ---------------------------------------------------------------------------
// The tree

export interface TreeNode<T> {
  name: string;
  children: Map<string, TreeNode<T>>; // key: lower-case name
  leaf?: T;
}

function newNode<T>(name: string): TreeNode<T> {
  return { name, children: new Map() };
}

function insert<T>(root: TreeNode<T>, path: readonly string[], leaf: T): void {
  let node = root;
  for (const word of path) {
    const key = word.toLowerCase();
    let child = node.children.get(key);
    if (!child) {
      child = newNode<T>(word);
      node.children.set(key, child);
    }
    node = child;
  }
  if (node.leaf) throw new Error(`duplicate schema path: ${path.join(' ')}`);
  node.leaf = leaf;
}

export class CommandTree<Ctx = unknown> {
  readonly config = newNode<ConfigLeaf<Ctx>>('Configuration');
  readonly commands = newNode<CommandSpec<Ctx>>('Command');
  readonly status = new Map<string, StatusProvider<Ctx>>(); // key: lower-case name
  private readonly configByKey = new Map<string, ConfigLeaf<Ctx>>();

  addConfig(leaf: ConfigLeafSpec<Ctx>): void {
    const full: ConfigLeaf<Ctx> = { kind: 'config', ...leaf };
    insert(this.config, leaf.path, full);
    this.configByKey.set(configKey(leaf.path), full);
  }

  addCommand(spec: CommandSpecInput<Ctx>): void {
    if (!spec.handler === !spec.remote) throw new Error(`xCommand ${spec.path.join(' ')} needs exactly one of handler and remote`);
    insert(this.commands, spec.path, { kind: 'command', ...spec });
  }

  addStatus(provider: StatusProviderSpec<Ctx>): void {
    const key = provider.name.toLowerCase();
    if (this.status.has(key)) throw new Error(`duplicate status node: ${provider.name}`);
    this.status.set(key, { kind: 'status', ...provider });
  }

  configLeaf(path: readonly string[]): ConfigLeaf<Ctx> | undefined {
    return this.configByKey.get(configKey(path));
  }

  /** The leaf stored under a canonical key (`License Smart ReservationEnable`). */
  configLeafByKey(key: string): ConfigLeaf<Ctx> | undefined {
    return this.configByKey.get(key);
  }

  /** Every configuration leaf, in registration order. */
  configLeaves(): ConfigLeaf<Ctx>[] {
    return [...this.configByKey.values()];
  }

  /** Every command, depth-first in registration order. */
  commandList(): CommandSpec<Ctx>[] {
    const out: CommandSpec<Ctx>[] = [];
    collect(this.commands, out);
    return out;
  }
}

function collect<T>(node: TreeNode<T>, out: T[]): void {
  if (node.leaf) out.push(node.leaf);
  for (const child of node.children.values()) collect(child, out);
}

/** The key under which a configuration value is stored: its canonical path. */
export function configKey(path: readonly string[]): string {
  return path.join(' ');
}

/** Leaves below a node, depth-first. */
export function leavesBelow<T>(node: TreeNode<T>): T[] {
  const out: T[] = [];
  collect(node, out);
  return out;
}

/** The result name of a command (§3.1): the path joined, plus `Result`. */
export function resultName(path: readonly string[]): string {
  return `${path.join('')}Result`;
}
