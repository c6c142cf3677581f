// Part of `npm run build`: bundles the compiled CLI (dist/) into dist/bundle/, one file
// per lazily loaded part. Resolving and loading ~70 small ES modules cost ~20 ms of
// start-up; §11 wants `exsh -c 'xStatus SystemUnit'` within 2x of `node -e 0`.
// Native and CommonJS-only packages stay external and load from node_modules.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: clear the old ones.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  entryPoints: ['dist/cli.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'node-pty', 'enquirer', 'fast-xml-parser', 'chalk'],
  // commander is CommonJS: give the bundle a require() for its node: imports.
  banner: { js: "import { createRequire as __exshRequire } from 'node:module'; const require = __exshRequire(import.meta.url);" },
  logLevel: 'warning',
});
