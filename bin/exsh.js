#!/usr/bin/env node
import { main } from '../dist/bundle/cli.js';

const code = await main(process.argv.slice(2), {
  // A getter: touching process.stdin creates the stream, which -c never needs.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
process.exitCode = code;
