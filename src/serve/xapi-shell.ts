import type { Device } from '../device/device.js';
import { formatDiagnostic, StoreError } from '../errors.js';
import { banner } from '../shell/banner.js';
import { exitStatus, runLines, runStream } from '../shell/batch.js';
import { Session } from '../shell/session.js';
import { type ChannelIo, chunks } from './channel.js';

/**
 * The admin's xAPI shell on an SSH channel: what `exsh tsh` is on stdio, with the same
 * Session, framing and group commit (shell/batch.ts). With a pty, echo starts on (§2.6)
 * and the channel's line discipline does it; without one, echo starts off and the
 * session echoes itself after `echo on`, exactly as `exsh tsh` on a pipe.
 */

export interface XapiShellOptions {
  /** Inside the root shell: read line by line, so that what follows `bye` is the root shell's. */
  nested?: boolean;
}

/** A tsh session until `bye`, `exit` or end of input; its exit status as `exsh tsh` gives it (3: the store failed). */
export async function runTshSession(io: ChannelIo, device: Device, opts: XapiShellOptions = {}): Promise<number> {
  const session = new Session({ device, echo: io.pty, localEcho: io.pty });
  const restoreEcho = io.echo;
  io.echo = () => session.echo;
  try {
    return await storeFailure(io, async () => {
      await io.write(banner(await device.read(), device.name));
      // Ctrl-C reaches the session only through a pty (as `exsh tsh` on a terminal); on a
      // plain channel 0x03 is just a byte.
      await runStream(session, chunks(io, { lines: opts.nested }), io.output, { interrupts: io.pty ? (h) => io.interrupts(h) : undefined });
      return exitStatus(session);
    });
  } finally {
    io.echo = restoreEcho;
  }
}

/** One exec'd line, as `exsh -c`: no banner, the reply, exit 0 (OK) or 1 (ERROR, Command not recognized.). */
export async function runOneLine(io: ChannelIo, device: Device, line: string): Promise<number> {
  const session = new Session({ device, echo: false });
  return storeFailure(io, async () => {
    await runLines(session, [line], io.output);
    return exitStatus(session);
  });
}

/** A store that cannot be used ends the session with exit 3 and exsh's diagnostic, as on the command line. */
async function storeFailure(io: ChannelIo, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    await io.writeError(`${formatDiagnostic(e)}\n`);
    return 3;
  }
}
