import type { ServerChannel } from 'ssh2';
import type { Output } from '../shell/batch.js';
import { LineDiscipline, toTerminal } from './line-discipline.js';

/**
 * One SSH session channel as the shells see it: input as chunks or lines, output as
 * text, Ctrl-C as an event. With a pty the server's own line discipline sits between
 * (echo, line ends, erase, `^C`, Ctrl-D) and every "\n" written goes out as "\r\n";
 * without one the bytes pass unchanged both ways (jsxapi, `ssh -T`, exec).
 */

/** Input queued beyond this pauses the channel (SSH window backpressure) until the shell catches up. */
const HIGH_WATER = 1 << 20;

/** What a channel gives the shell running on it. */
export interface ChannelIo {
  readonly pty: boolean;
  /** Whether the discipline echoes what is typed (read before every chunk): the shell's echo setting. */
  echo: () => boolean;
  /**
   * The next piece of input; 'eof' for Ctrl-D on an empty line (a shell inside a shell
   * ends, the channel goes on); 'interrupt' where Ctrl-C was typed (the subscribed
   * handler has been told already); undefined once the client sent EOF or left.
   */
  next(): Promise<Input | undefined>;
  /** Gives input back, to be read first (what a line reader read past its line). */
  unshift(bytes: Buffer): void;
  /** True once the client will send nothing more (EOF, gone, or the server is stopping). */
  readonly finished: boolean;
  write(text: string): Promise<void>;
  /** Diagnostics about exsh itself: the channel's stderr, or the terminal with a pty. */
  writeError(text: string): Promise<void>;
  /** Subscribes to Ctrl-C; the latest subscriber alone is told. Returns the unsubscribe. */
  interrupts(handler: () => void): () => void;
  /** The output as the shell's batch machinery writes it. */
  readonly output: Output;
}

export type Input = Buffer | 'eof' | 'interrupt';

export class SshChannelIo implements ChannelIo {
  readonly pty: boolean;
  echo: () => boolean = () => true;
  readonly output: Output;
  private readonly queue: Input[] = [];
  private queuedBytes = 0;
  private ended = false;
  private closed = false;
  private waiting: (() => void) | undefined;
  private readonly handlers: Array<() => void> = [];
  private readonly discipline: LineDiscipline | undefined;
  private paused = false;
  /**
   * Input is looked at only once the shell first reads: what a client types before the
   * banner is out (netmiko 4's early "\r\n") is echoed after it, not before.
   */
  private reading = false;
  /** The server is stopping: input is no longer taken. */
  private dropped = false;
  private readonly early: Buffer[] = [];
  private earlyBytes = 0;
  /** Writes not yet handed to the SSH layer: resolved at once if the channel goes. */
  private readonly writes: Array<() => void> = [];

  constructor(
    private readonly channel: ServerChannel,
    pty: boolean,
  ) {
    this.pty = pty;
    this.discipline = pty ? new LineDiscipline() : undefined;
    this.output = { write: (s) => this.write(s) };
    channel.on('data', (data: Buffer) => this.received(data));
    channel.on('end', () => this.finish());
    channel.on('close', () => this.onGone());
    // A client that vanishes mid-write shows up here; the shell sees the input end.
    channel.on('error', () => this.onGone());
  }

  private onGone(): void {
    this.closed = true;
    for (const resolve of this.writes.splice(0)) resolve();
    this.finish();
  }

  get finished(): boolean {
    return this.ended && this.queue.length === 0;
  }

  /** The channel is gone: nothing written reaches anyone. */
  get gone(): boolean {
    return this.closed;
  }

  /** Ends the input as if the client had sent EOF; `drop` also forgets what was typed and not read yet (the server is stopping). */
  finish(drop = false): void {
    if (drop) {
      this.dropped = true;
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.early.length = 0;
      this.earlyBytes = 0;
    }
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  private received(data: Buffer): void {
    if (this.dropped) return;
    if (!this.reading) {
      // Nobody may ever read it (an exec of one line ignores its stdin): keep it bounded.
      this.early.push(data);
      this.earlyBytes += data.length;
      if (this.earlyBytes > HIGH_WATER) this.pause();
      return;
    }
    if (!this.discipline) {
      this.enqueue(data);
      return;
    }
    this.discipline.echo = this.echo();
    for (const e of this.discipline.feed(data)) {
      switch (e.kind) {
        case 'echo':
          this.send(e.bytes);
          break;
        case 'input':
          this.enqueue(e.bytes);
          break;
        case 'interrupt':
        case 'eof':
          if (e.kind === 'interrupt') this.handlers[this.handlers.length - 1]?.();
          this.queue.push(e.kind);
          this.wake();
          break;
      }
    }
  }

  private enqueue(bytes: Buffer): void {
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (this.queuedBytes > HIGH_WATER) this.pause();
    this.wake();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.channel.pause();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  async next(): Promise<Input | undefined> {
    if (!this.reading) {
      this.reading = true;
      this.earlyBytes = 0;
      for (const data of this.early.splice(0)) this.received(data);
    }
    for (;;) {
      const item = this.queue.shift();
      if (item !== undefined) {
        if (typeof item !== 'string') {
          this.queuedBytes -= item.length;
          if (this.paused && this.queuedBytes < HIGH_WATER / 2) {
            this.paused = false;
            this.channel.resume();
          }
        }
        return item;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  unshift(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.queue.unshift(bytes);
    this.queuedBytes += bytes.length;
  }

  interrupts(handler: () => void): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.lastIndexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  private send(bytes: Buffer): void {
    if (this.closed || !this.channel.writable) return;
    this.channel.write(bytes);
  }

  write(text: string): Promise<void> {
    return this.writeTo(this.channel, text);
  }

  writeError(text: string): Promise<void> {
    return this.writeTo(this.pty ? this.channel : this.channel.stderr, text);
  }

  /**
   * Resolves once the text is handed to the SSH layer (so that exit-status, sent after
   * the last write, never overtakes the output), or at once when the channel is gone.
   */
  private writeTo(stream: NodeJS.WritableStream, text: string): Promise<void> {
    if (text === '' || this.closed || !this.channel.writable) return Promise.resolve();
    const data = this.pty ? toTerminal(text) : text;
    return new Promise<void>((resolve) => {
      const done = () => {
        const i = this.writes.indexOf(done);
        if (i >= 0) this.writes.splice(i, 1);
        resolve();
      };
      this.writes.push(done);
      stream.write(data, done);
    });
  }
}

/** Every chunk of input until EOF (Ctrl-D with a pty, or the client's EOF): what runStream reads. */
export async function* chunks(io: ChannelIo, opts: { lines?: boolean } = {}): AsyncGenerator<Buffer> {
  for (;;) {
    const item = await io.next();
    if (item === undefined || item === 'eof') return;
    // runStream hears of Ctrl-C through its interrupts subscription.
    if (item === 'interrupt') continue;
    if (!opts.lines) {
      yield item;
      continue;
    }
    // One line at a time: a shell started inside another stops at its `bye`, and what
    // was typed after it stays for the outer one.
    let start = 0;
    try {
      for (let nl = item.indexOf(10); nl >= 0; nl = item.indexOf(10, start)) {
        const line = item.subarray(start, nl + 1);
        start = nl + 1;
        yield line;
      }
      if (start < item.length) {
        const rest = item.subarray(start);
        start = item.length;
        yield rest;
      }
    } finally {
      io.unshift(item.subarray(start));
    }
  }
}

/**
 * Reads one line (without its line end); undefined at EOF, 'interrupt' for Ctrl-C (the
 * line typed so far is dropped). What follows the line in the same chunk is given back
 * for the next reader.
 */
export async function readLine(io: ChannelIo): Promise<string | 'interrupt' | undefined> {
  const parts: Buffer[] = [];
  for (;;) {
    const item = await io.next();
    if (item === 'interrupt') return item;
    if (item === undefined || item === 'eof') {
      if (parts.length === 0) return undefined;
      return Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
    }
    const nl = item.indexOf(10);
    if (nl < 0) {
      parts.push(item);
      continue;
    }
    parts.push(item.subarray(0, nl));
    io.unshift(item.subarray(nl + 1));
    return Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
  }
}
