#!/usr/bin/env node
'use strict';
// CommonJS, and compiled from the V8 code cache `npm run build` made beside the bundle:
// a one-shot `exsh -c …` should start in about the time of `node -e 0`, and Node's
// ES-module loader, or compiling the bundle from source, alone costs more than the rest.
// A cache this Node cannot use (another version) is ignored and the source compiled.
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { Script } = require('node:vm');

const bundle = path.join(__dirname, '..', 'dist', 'exsh.cjs');
let cachedData;
try {
  cachedData = readFileSync(`${bundle}.cache`);
} catch {
  // No cache: compile from source.
}
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
const loaded = { exports: {} };
script.runInThisContext().call(loaded.exports, loaded.exports, Module.createRequire(bundle), loaded, bundle, path.dirname(bundle));

// A reader that goes away (`exsh … | head -1`) ends exsh quietly: main() stops at the
// failed write; the stream's own error event must not become a stack trace.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
});

loaded.exports
  .main(process.argv.slice(2), {
    // A getter: touching process.stdin creates the stream, which -c never needs.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    interrupts: (handler) => {
      process.on('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
  })
  .then((code) => {
    process.exitCode = code;
  });
