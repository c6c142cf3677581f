import { reportError } from '../../src/cli.js';
import { createContext } from '../../src/commands/context.js';
import { cssmServe, type ServeOptions } from '../../src/commands/serve.js';

/**
 * A test-only entry for `exsh cssm serve` until src/cli.ts declares it: the same context
 * and error reporting as the CLI, bundled by the test with esbuild and run as its own
 * process. argv: <home> followed by a JSON ServeOptions.
 */
const [home = '', options = '{}'] = process.argv.slice(2);
const io = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interrupts: (handler: () => void) => {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};
(async () => {
  try {
    const ctx = createContext({ home, output: 'terminal', color: false, command: [] }, io);
    await cssmServe(ctx, JSON.parse(options) as ServeOptions);
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
})().then((code) => {
  process.exitCode = code;
});
