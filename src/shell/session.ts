import type { DeviceContext } from '../device/context.js';
import type { Device } from '../device/device.js';
import { ExshError } from '../errors.js';
import { commandHelp, configHelp, preferencesHelp, statusRootHelp, verbHelp } from '../xapi/help.js';
import { parseRequest, RequestError, type OutputMode, type ParsedRequest, type Request, type StatusSegment } from '../xapi/parser.js';
import { render, renderFeedback, plainStyle, type Style } from '../xapi/render.js';
import { isFailure, type ConfigLine, type FeedbackEvent, type Reply } from '../xapi/reply.js';
import { configKey, resultName, type CommandTree, type ConfigLeaf, type Scalar, type StatusObject } from '../xapi/schema.js';
import { statusLeafPaths, statusSubtree } from '../xapi/status.js';

/**
 * A session (§2.6): output mode, echo, feedback registrations. It turns one framed
 * request into output text; the same session code serves the REPL, -c, batch, run
 * and tsh. Handlers never print; this module never knows licensing.
 */

export interface Frame {
  line: string;
  /** A multi-line body (§2.3), lines already joined with nothing between them. */
  body?: string;
}

/** A guard may refuse a request before it runs (e.g. License Smart on a Cisco VCS, §5.3). */
export type Guard = (ctx: DeviceContext, target: { kind: 'config' | 'command'; path: readonly string[] }) => void;
const guards: Guard[] = [];
export function registerGuard(g: Guard): void {
  guards.push(g);
}

/** The interactive/batch `factory-reset` verb is provided by the reset subsystem. */
export type FactoryResetVerb = (session: Session, args: string[]) => Promise<string> | string;
let factoryResetVerb: FactoryResetVerb | undefined;
export function setFactoryResetVerb(fn: FactoryResetVerb): void {
  factoryResetVerb = fn;
}

export interface SessionOptions {
  device: Device;
  tree: CommandTree;
  mode?: OutputMode;
  echo?: boolean;
  /** The terminal already shows what is typed (the interactive shell): never echo again. */
  localEcho?: boolean;
  style?: Style;
}

const MAX_FEEDBACK = 50;

export class Session {
  readonly device: Device;
  readonly tree: CommandTree;
  mode: OutputMode;
  echo: boolean;
  style: Style;
  /** Lines that ended in ERROR or `Command not recognized.` */
  failures = 0;
  ended = false;
  readonly localEcho: boolean;
  /**
   * Asks the operator a question and resolves to the answer, or undefined on Ctrl-C.
   * Only the interactive shell can ask; elsewhere a missing answer is an error.
   */
  ask?: (prompt: string) => Promise<string | undefined>;
  private readonly feedback: string[] = [];

  constructor(opts: SessionOptions) {
    this.device = opts.device;
    this.tree = opts.tree;
    this.mode = opts.mode ?? 'terminal';
    this.echo = opts.echo ?? false;
    this.localEcho = opts.localEcho ?? false;
    this.style = opts.style ?? plainStyle;
  }

  /** True when the line names a command that takes its code as a multi-line body and has none yet. */
  wantsBody(line: string): boolean {
    try {
      const parsed = parseRequest(this.tree, { line });
      const { request } = parsed;
      const wants = request.verb === 'commandHelp' && request.usage && (request.specs[0]?.params.some((p) => p.body) ?? false);
      // The framer asks about each line as it reads a chunk; execute() then reuses the parse.
      if (!wants) this.framed.set(line, parsed);
      return wants;
    } catch {
      return false;
    }
  }

  /** Parses made by wantsBody for lines framed but not yet run (at most one chunk's worth). */
  private readonly framed = new Map<string, ParsedRequest>();

  private parse(frame: Frame): ParsedRequest {
    const cached = this.framed.get(frame.line);
    if (cached !== undefined) {
      this.framed.delete(frame.line);
      if (frame.body === undefined) return cached;
    }
    return parseRequest(this.tree, { line: frame.line, body: frame.body });
  }

  /**
   * Runs one request and returns everything the client should see for it, feedback
   * included. Store errors (exit 3) propagate; everything else becomes a reply.
   */
  async execute(frame: Frame): Promise<string> {
    const trimmed = frame.line.trim();
    if (frame.body === undefined && (trimmed === '' || trimmed.startsWith('#'))) return '';
    let out = '';
    if (this.echo && !this.localEcho) out += `${frame.line}\n`;
    let resultId: string | undefined;
    let reply: Reply;
    let events: FeedbackEvent[] = [];
    try {
      const parsed = this.parse(frame);
      resultId = parsed.resultId;
      if (parsed.request.verb === 'factoryReset') {
        return out + (await this.factoryReset(parsed.request.args));
      }
      const before = this.feedback.length > 0 && mutates(parsed.request) ? this.snapshots() : undefined;
      reply = this.run(parsed.request);
      if (before && !isFailure(reply)) events = this.changes(before);
    } catch (e) {
      if (e instanceof ExshError && e.exitCode === 3) throw e;
      reply = errorReply(e);
      resultId = (e as { resultId?: string }).resultId ?? resultId;
    }
    if (isFailure(reply)) this.failures++;
    out += render(this.mode, reply, resultId, this.style);
    for (const ev of events) out += renderFeedback(this.mode, ev);
    return out;
  }

  /** An error that is not a request's own (a broken frame): one Error result. */
  errorOutput(code: string, message: string): string {
    return render(this.mode, { kind: 'result', name: 'Result', status: 'Error', reason: message, code }, undefined, this.style);
  }

  private async factoryReset(args: string[]): Promise<string> {
    if (!factoryResetVerb) {
      this.failures++;
      return render(this.mode, { kind: 'notRecognized' }, undefined, this.style);
    }
    return factoryResetVerb(this, args);
  }

  private run(req: Request): Reply {
    switch (req.verb) {
      case 'help':
        return { kind: 'help', lines: verbHelp() };
      case 'notRecognized':
        return { kind: 'notRecognized' };
      case 'bye':
        this.ended = true;
        return { kind: 'silent' };
      case 'echo':
        this.echo = req.on;
        return { kind: 'done' };
      case 'outputMode':
        this.mode = req.mode;
        return { kind: 'silent' };
      case 'preferencesHelp':
        return { kind: 'help', lines: preferencesHelp() };
      case 'feedback':
        return this.feedbackRequest(req);
      case 'factoryReset':
        return { kind: 'notRecognized' };
      case 'configHelp':
        return { kind: 'help', lines: configHelp(this.tree, req.path, req.leaves) };
      case 'commandHelp':
        return { kind: 'help', lines: commandHelp(this.tree, req.path, req.specs), error: req.usage };
      case 'statusHelp':
        return { kind: 'help', lines: this.statusHelp(req.providers, req.segments) };
      case 'configGet':
        return { kind: 'config', lines: this.device.view((ctx) => configLines(ctx, req.leaves)) };
      case 'configSet':
        return this.configSet(req.leaf, req.value);
      case 'command':
        return this.command(req.spec, req.params);
      case 'status':
        return { kind: 'status', tree: this.device.view((ctx) => this.statusTree(ctx, req.providers, req.segments)) };
    }
  }

  private statusTree(ctx: DeviceContext, providers: Extract<Request, { verb: 'status' }>['providers'], segments: StatusSegment[]): StatusObject {
    if (segments.length === 0) {
      const all: StatusObject = {};
      for (const p of providers) Object.assign(all, statusSubtree(ctx, p, []));
      return all;
    }
    return statusSubtree(ctx, providers[0] as (typeof providers)[number], segments);
  }

  private statusHelp(providers: Extract<Request, { verb: 'statusHelp' }>['providers'], segments: StatusSegment[]): string[] {
    if (segments.length === 0) return statusRootHelp(this.tree);
    const tree = this.device.view((ctx) => this.statusTree(ctx, providers, segments));
    return statusLeafPaths(tree).map((p) => `*? xStatus ${p}`);
  }

  private configSet(leaf: ConfigLeaf, value: Scalar): Reply {
    try {
      this.device.mutate((ctx) => {
        for (const g of guards) g(ctx, { kind: 'config', path: leaf.path });
        const key = configKey(leaf.path);
        const previous = ctx.state.config[key] ?? leaf.default;
        leaf.onSet?.(ctx, value, previous);
        if (value === leaf.default) delete ctx.state.config[key];
        else ctx.state.config[key] = value;
      });
      return { kind: 'set' };
    } catch (e) {
      if (e instanceof ExshError && !(e instanceof RequestError) && e.exitCode !== 3) {
        return { kind: 'result', name: 'Result', status: 'Error', reason: e.message, code: e.code, root: 'Configuration' };
      }
      throw e;
    }
  }

  private command(spec: Extract<Request, { verb: 'command' }>['spec'], params: Extract<Request, { verb: 'command' }>['params']): Reply {
    const name = resultName(spec.path);
    try {
      const run = (ctx: DeviceContext) => {
        for (const g of guards) g(ctx, { kind: 'command', path: spec.path });
        return spec.handler(ctx, params);
      };
      const outcome = spec.mutates ? this.device.mutate(run) : this.device.view(run);
      return { kind: 'result', name, status: 'OK', text: outcome.text, fields: outcome.fields };
    } catch (e) {
      if (e instanceof ExshError && !(e instanceof RequestError) && e.exitCode !== 3) {
        return { kind: 'result', name, status: 'Error', reason: e.message, code: e.code, root: 'Command' };
      }
      throw e;
    }
  }

  // -------------------------------------------------------------------------
  // feedback (§2.6)

  private feedbackRequest(req: Extract<Request, { verb: 'feedback' }>): Reply {
    switch (req.action) {
      case 'list':
        return { kind: 'feedbackList', paths: [...this.feedback] };
      case 'deregisterall':
        this.feedback.length = 0;
        return { kind: 'done' };
      case 'register':
        if (!this.feedback.includes(req.path)) {
          if (this.feedback.length >= MAX_FEEDBACK) {
            throw new RequestError('feedback.tooMany', `At most ${MAX_FEEDBACK} feedback registrations are allowed; deregister one first.`);
          }
          this.feedback.push(req.path);
        }
        return { kind: 'done' };
      case 'deregister': {
        const i = this.feedback.indexOf(req.path);
        if (i >= 0) this.feedback.splice(i, 1);
        return { kind: 'done' };
      }
    }
  }

  private snapshots(): Map<string, string> {
    const out = new Map<string, string>();
    for (const path of this.feedback) out.set(path, JSON.stringify(this.observe(path)));
    return out;
  }

  private observe(path: string): ConfigLine[] | StatusObject | null {
    const [root, ...rest] = path.slice(1).split('/');
    try {
      if (root === 'Configuration') {
        const prefix = rest.join(' ');
        const leaves = this.tree
          .configLeaves()
          .filter((l) => prefix === '' || configKey(l.path) === prefix || configKey(l.path).startsWith(`${prefix} `));
        return this.device.view((ctx) => configLines(ctx, leaves));
      }
      const segments = rest.map((w) => {
        const m = /^(.*?)\[(\d+)\]$/.exec(w);
        return m ? { name: m[1] as string, index: Number(m[2]) } : { name: w };
      });
      const providers = [...this.tree.status.values()].filter((p) => !segments[0] || p.name === segments[0].name);
      return this.device.view((ctx) => this.statusTree(ctx, providers, segments));
    } catch (e) {
      if (e instanceof RequestError) return null; // the path does not exist (yet): nothing to report
      throw e;
    }
  }

  private changes(before: Map<string, string>): FeedbackEvent[] {
    const events: FeedbackEvent[] = [];
    for (const [path, was] of before) {
      const now = this.observe(path);
      if (JSON.stringify(now) === was || now === null) continue;
      if (Array.isArray(now)) {
        const old = new Map((JSON.parse(was) as ConfigLine[] | null ?? []).map((l) => [configKey(l.path), l.value]));
        const changed = now.filter((l) => old.get(configKey(l.path)) !== l.value);
        if (changed.length) events.push({ kind: 'config', lines: changed });
      } else {
        events.push({ kind: 'status', tree: now });
      }
    }
    return events;
  }
}

function mutates(req: Request): boolean {
  return req.verb === 'configSet' || (req.verb === 'command' && req.spec.mutates);
}

export function configLines(ctx: DeviceContext, leaves: readonly ConfigLeaf[]): ConfigLine[] {
  return leaves.map((l) => {
    const raw = ctx.state.config[configKey(l.path)] ?? l.default;
    const value = l.secret && raw !== '' ? '********' : raw;
    return { path: l.path, value, quoted: l.space.kind === 'string' };
  });
}

function errorReply(e: unknown): Reply {
  if (e instanceof RequestError) {
    return {
      kind: 'result',
      name: e.resultName,
      status: e.status,
      reason: e.message,
      code: e.code,
      xpath: e.xpath,
      root: e.root,
      illegalValuePath: e.illegalValuePath,
    };
  }
  if (e instanceof ExshError) return { kind: 'result', name: 'Result', status: 'Error', reason: e.message, code: e.code };
  // A bug in exsh must not print a stack trace to a script: report it as one sentence.
  const message = e instanceof Error ? e.message : String(e);
  return { kind: 'result', name: 'Result', status: 'Error', reason: `Internal error: ${message}`, code: 'exsh.internal' };
}

