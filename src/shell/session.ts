import type { DeviceContext } from '../device/context.js';
import type { Device } from '../device/device.js';
import type { Prompter } from '../device/reset-flow.js';
import { ExshError, StoreError } from '../errors.js';
import { commandHelp, configHelp, feedbackHelp, preferencesHelp, statusRootHelp, verbHelp } from '../xapi/help.js';
import { parseRequest, RequestError, redactSecrets, type ParsedRequest, type Request, type StatusSegment } from '../xapi/parser.js';
import { plainStyle, render, renderFeedback, type Style } from '../xapi/render.js';
import { isFailure, type ConfigLine, type FeedbackEvent, type Reply } from '../xapi/reply.js';
import { configKey, resultName, type CommandSpec, type CommandTree, type ConfigLeaf, type StatusProvider } from '../xapi/schema.js';
import { statusLeafPaths, statusSubtree } from '../xapi/status.js';
import type { CommandOutcome, OutputMode, ParamValues, Scalar, StatusObject } from '../xapi/types.js';
import type { Frame } from './framing.js';

export type { Frame } from './framing.js';

/**
 * A session (§2.6): output mode, echo, feedback registrations. It runs one framed request
 * and returns what happened, as data: the reply, the feedback events it caused, and
 * whether it changed the device. Front ends (batch, the REPL, tsh) render outcomes at
 * the edge; the same session code serves them all. Handlers never print; this module
 * never knows licensing.
 */

/** What one request produced. */
export interface Outcome {
  /** The request line echoed back (echo on, and the terminal does not echo itself). */
  echo?: string;
  reply: Reply;
  resultId?: string;
  events: FeedbackEvent[];
  /** The output mode to render in (xPreferences may have just changed it). */
  mode: OutputMode;
  /** The request changed the device state (for a burst that fails to commit). */
  wrote: boolean;
}

export interface SessionOptions {
  device: Device;
  mode?: OutputMode;
  echo?: boolean;
  /** The terminal already shows what is typed (the interactive shell): never echo again. */
  localEcho?: boolean;
  /** How this front end asks the operator a question (factory-reset); none on a pipe. */
  prompter?: Prompter;
}

const MAX_FEEDBACK = 50;

type Tree = CommandTree<DeviceContext>;

export class Session {
  readonly device: Device;
  readonly tree: Tree;
  mode: OutputMode;
  echo: boolean;
  /** Lines that ended in ERROR or `Command not recognized.` */
  failures = 0;
  ended = false;
  readonly localEcho: boolean;
  prompter: Prompter | undefined;
  private readonly feedback: string[] = [];
  /** Parses made by wantsBody for lines framed but not yet run (at most one chunk's worth). */
  private readonly framed = new Map<string, ParsedRequest<DeviceContext>>();

  constructor(opts: SessionOptions) {
    this.device = opts.device;
    this.tree = opts.device.model.tree;
    this.mode = opts.mode ?? 'terminal';
    this.echo = opts.echo ?? false;
    this.localEcho = opts.localEcho ?? false;
    this.prompter = opts.prompter;
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

  private parse(frame: Frame): ParsedRequest<DeviceContext> {
    const cached = this.framed.get(frame.line);
    if (cached !== undefined) {
      this.framed.delete(frame.line);
      if (frame.body === undefined) return cached;
    }
    return parseRequest(this.tree, { line: frame.line, body: frame.body });
  }

  /**
   * Runs one request. Store errors (StoreError, exit 3) propagate: the caller decides
   * what of a burst was shown; everything else becomes a reply. Empty lines and
   * comments give undefined.
   */
  async execute(frame: Frame): Promise<Outcome | undefined> {
    const trimmed = frame.line.trim();
    if (frame.body === undefined && (trimmed === '' || trimmed.startsWith('#'))) return undefined;
    const echo = this.echo && !this.localEcho ? this.redact(frame.line) : undefined;
    let resultId: string | undefined;
    let reply: Reply;
    let events: FeedbackEvent[] = [];
    let wrote = false;
    try {
      const parsed = this.parse(frame);
      resultId = parsed.resultId;
      const before = this.feedback.length > 0 && mutates(parsed.request) ? await this.snapshots() : undefined;
      const ran = await this.run(parsed.request);
      reply = ran.reply;
      wrote = ran.wrote;
      if (before && !isFailure(reply)) events = await this.changes(before);
    } catch (e) {
      if (e instanceof StoreError) throw Object.assign(e, { resultId });
      reply = errorReply(e);
      resultId = (e as { resultId?: string }).resultId ?? resultId;
    }
    if (isFailure(reply)) this.failures++;
    return { echo, reply, resultId, events, mode: this.mode, wrote };
  }

  /** The line as it may be shown back: a secret setting's value replaced by "********". */
  redact(line: string): string {
    return redactSecrets(this.tree, line);
  }

  /** Runs a request and renders it in the session's mode (tests and simple front ends). */
  async text(frame: Frame, style: Style = plainStyle): Promise<string> {
    const outcome = await this.execute(frame);
    return outcome ? renderOutcome(outcome, style) : '';
  }

  /** An error that is not a request's own (a broken frame): one Error result. */
  frameError(code: string, message: string): Outcome {
    this.failures++;
    return { reply: { kind: 'result', name: 'Result', status: 'Error', reason: message, code }, events: [], mode: this.mode, wrote: false };
  }

  private async run(req: Request<DeviceContext>): Promise<{ reply: Reply; wrote: boolean }> {
    const done = (reply: Reply) => ({ reply, wrote: false });
    switch (req.verb) {
      case 'help':
        return done({ kind: 'help', lines: verbHelp() });
      case 'notRecognized':
        return done({ kind: 'notRecognized' });
      case 'bye':
        this.ended = true;
        return done({ kind: 'silent' });
      case 'echo':
        this.echo = req.on;
        return done({ kind: 'done' });
      case 'outputMode':
        this.mode = req.mode;
        // A driver in terminal mode waits for OK; jsxapi switching to JSON expects nothing.
        return done(req.mode === 'terminal' ? { kind: 'done' } : { kind: 'silent' });
      case 'preferencesHelp':
        return done({ kind: 'help', lines: preferencesHelp() });
      case 'feedbackHelp':
        return done({ kind: 'help', lines: feedbackHelp() });
      case 'feedback':
        return done(this.feedbackRequest(req));
      case 'factoryReset':
        return this.factoryReset(req.args);
      case 'configHelp':
        return done({ kind: 'help', lines: configHelp(this.tree, req.path, req.leaves) });
      case 'commandHelp':
        return done({ kind: 'help', lines: commandHelp(this.tree, req.path, req.specs), error: req.usage });
      case 'statusHelp':
        return done({ kind: 'help', lines: await this.statusHelp(req.providers, req.segments) });
      case 'configGet':
        return done({ kind: 'config', lines: await this.device.view((ctx) => configLines(ctx, req.leaves)) });
      case 'configSet':
        return this.configSet(req.leaf, req.value);
      case 'command':
        return this.command(req.spec, req.params);
      case 'status':
        return done({ kind: 'status', tree: await this.device.view((ctx) => statusTree(ctx, req.providers, req.segments)) });
    }
  }

  private async statusHelp(providers: StatusProvider<DeviceContext>[], segments: StatusSegment[]): Promise<string[]> {
    if (segments.length === 0) return statusRootHelp(this.tree);
    const tree = await this.device.view((ctx) => statusTree(ctx, providers, segments));
    return statusLeafPaths(tree).map((p) => `*? xStatus ${p}`);
  }

  private guard(ctx: DeviceContext, kind: 'config' | 'command', path: readonly string[]): void {
    for (const g of this.device.model.guards) g(ctx, { kind, path });
  }

  private async configSet(leaf: ConfigLeaf<DeviceContext>, value: Scalar): Promise<{ reply: Reply; wrote: boolean }> {
    try {
      const { changed } = await this.device.change((ctx) => {
        this.guard(ctx, 'config', leaf.path);
        const key = configKey(leaf.path);
        const previous = ctx.state.config[key] ?? leaf.default;
        leaf.onSet?.(ctx, value, previous);
        ctx.setConfig(key, value === leaf.default ? undefined : value);
      });
      return { reply: { kind: 'set' }, wrote: changed };
    } catch (e) {
      if (e instanceof ExshError && !(e instanceof RequestError) && !(e instanceof StoreError)) {
        return { reply: { kind: 'result', name: 'Result', status: 'Error', reason: e.message, code: e.code, root: 'Configuration' }, wrote: false };
      }
      throw e;
    }
  }

  private async command(spec: CommandSpec<DeviceContext>, params: ParamValues): Promise<{ reply: Reply; wrote: boolean }> {
    const name = resultName(spec.path);
    try {
      const run = (ctx: DeviceContext) => {
        this.guard(ctx, 'command', spec.path);
        if (!spec.handler) throw new Error(`xCommand ${spec.path.join(' ')} has neither a handler nor a remote part`);
        return spec.handler(ctx, params);
      };
      let wrote = false;
      let outcome: CommandOutcome;
      const remote = spec.remote;
      if (remote) {
        // Plan on a read, carry it with no lock held, settle in a short change (§12).
        const plan = await this.device.view((ctx) => {
          this.guard(ctx, 'command', spec.path);
          return remote.prepare(ctx, params);
        });
        this.device.flush();
        const result = await remote.perform(plan, this.device.services);
        const r = await this.device.change((ctx) => remote.settle(ctx, plan, result));
        outcome = r.result;
        wrote = r.changed;
      } else if (spec.mutates) {
        const r = spec.peers ? await this.device.changeWithPeers(run) : await this.device.change(run);
        outcome = r.result;
        wrote = r.changed;
      } else {
        outcome = await this.device.view(run);
      }
      return { reply: { kind: 'result', name, status: 'OK', text: outcome.text, fields: outcome.fields }, wrote };
    } catch (e) {
      if (e instanceof ExshError && !(e instanceof RequestError) && !(e instanceof StoreError)) {
        return { reply: { kind: 'result', name, status: 'Error', reason: e.message, code: e.code, root: 'Command' }, wrote: false };
      }
      throw e;
    }
  }

  // -------------------------------------------------------------------------
  // factory-reset typed in the shell (§8.1): the same flow as `exsh factory-reset`

  private async factoryReset(args: string[]): Promise<{ reply: Reply; wrote: boolean }> {
    const fail = (code: string, message: string) => ({ reply: errorReply(new ExshError(code, message)), wrote: false });
    const [{ Command, CommanderError }, flow, reset] = await Promise.all([
      import('commander'),
      import('../device/reset-flow.js'),
      import('../device/reset.js'),
    ]);
    let captured = '';
    let flags: import('../device/reset-flow.js').ResetFlags | undefined;
    const cmd = flow
      .defineResetOptions(new Command('factory-reset'))
      .exitOverride()
      .configureOutput({ writeOut: (s) => (captured += s), writeErr: (s) => (captured += s) })
      .action((f: import('../device/reset-flow.js').ResetFlags) => {
        flags = f;
      });
    try {
      await cmd.parseAsync(args, { from: 'user' });
    } catch (e) {
      if (e instanceof CommanderError) {
        if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') {
          return { reply: { kind: 'help', lines: captured.trimEnd().split('\n') }, wrote: false };
        }
        // commander puts "(Did you mean --keep?)" on a line of its own; a Reason is one line.
        return fail('reset.usage', e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
      }
      throw e;
    }
    if (!flags) return fail('reset.usage', 'factory-reset: nothing to do.');
    try {
      const { text, outcome } = await flow.runFactoryReset(this.device, flow.toResetRequest(flags), this.prompter, 'questions inside the exsh shell');
      const lines = [...(text === '' ? [] : text.replace(/\n$/, '').split('\n')), ...reset.outcomeLines(outcome)];
      return {
        reply: {
          kind: 'result',
          name: 'FactoryResetResult',
          status: 'OK',
          text: lines,
          fields: { Kept: outcome.kept.join(','), Product: outcome.product, SmartLicensingOffline: outcome.offline ? 'True' : 'False' },
        },
        wrote: true,
      };
    } catch (e) {
      if (e instanceof ExshError && !(e instanceof StoreError)) return fail(e.code, e.message);
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

  private async snapshots(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const path of this.feedback) out.set(path, JSON.stringify(await this.observe(path)));
    return out;
  }

  private async observe(path: string): Promise<ConfigLine[] | StatusObject | null> {
    const [root, ...rest] = path.slice(1).split('/');
    try {
      if (root === 'Configuration') {
        const prefix = rest.join(' ');
        const leaves = this.tree.configLeaves().filter((l) => prefix === '' || configKey(l.path) === prefix || configKey(l.path).startsWith(`${prefix} `));
        return await this.device.view((ctx) => configLines(ctx, leaves));
      }
      const segments = rest.map((w) => {
        const m = /^(.*?)\[(\d+)\]$/.exec(w);
        return m ? { name: m[1] as string, index: Number(m[2]) } : { name: w };
      });
      const providers = [...this.tree.status.values()].filter((p) => !segments[0] || p.name === segments[0].name);
      return await this.device.view((ctx) => statusTree(ctx, providers, segments));
    } catch (e) {
      if (e instanceof RequestError) return null; // the path does not exist (yet): nothing to report
      throw e;
    }
  }

  private async changes(before: Map<string, string>): Promise<FeedbackEvent[]> {
    const events: FeedbackEvent[] = [];
    for (const [path, was] of before) {
      const now = await this.observe(path);
      if (JSON.stringify(now) === was || now === null) continue;
      if (Array.isArray(now)) {
        const old = new Map(((JSON.parse(was) as ConfigLine[] | null) ?? []).map((l) => [configKey(l.path), l.value]));
        const changed = now.filter((l) => old.get(configKey(l.path)) !== l.value);
        if (changed.length) events.push({ kind: 'config', lines: changed });
      } else {
        events.push({ kind: 'status', tree: now });
      }
    }
    return events;
  }
}

/** The text of an outcome: the echoed line, the reply, then its feedback (§2.6, §3). */
export function renderOutcome(o: Outcome, style: Style = plainStyle): string {
  let out = o.echo === undefined ? '' : `${o.echo}\n`;
  out += render(o.mode, o.reply, o.resultId, style);
  for (const ev of o.events) out += renderFeedback(o.mode, ev);
  return out;
}

function mutates(req: Request<DeviceContext>): boolean {
  return req.verb === 'configSet' || req.verb === 'factoryReset' || (req.verb === 'command' && req.spec.mutates);
}

function statusTree(ctx: DeviceContext, providers: readonly StatusProvider<DeviceContext>[], segments: readonly StatusSegment[]): StatusObject {
  if (segments.length === 0) {
    const all: StatusObject = {};
    for (const p of providers) Object.assign(all, statusSubtree(ctx, p, []));
    return all;
  }
  return statusSubtree(ctx, providers[0] as StatusProvider<DeviceContext>, segments);
}

export function configLines(ctx: DeviceContext, leaves: readonly ConfigLeaf<DeviceContext>[]): ConfigLine[] {
  return leaves.map((l) => {
    const raw = ctx.state.config[configKey(l.path)] ?? l.default;
    const value = l.secret && raw !== '' ? '********' : raw;
    return { path: l.path, value, quoted: l.space.kind === 'string' };
  });
}

export function errorReply(e: unknown): Reply {
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
