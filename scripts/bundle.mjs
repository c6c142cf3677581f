// `npm run build`: bundles exsh into one CommonJS file per entry point under dist/.
// Node's ES-module loader costs ~40 ms to resolve a tree of modules at every start, and
// the one-shot bar is 2x `node -e 0`: one CommonJS file loads in a single read. Parts a
// status read does not need (the reservation engine, node:crypto, SQLite's neighbours)
// are bundled in but evaluated only when first imported. Native addons and the packages
// loaded only on rare paths stay external and load from node_modules.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { Script } from 'node:vm';
import { build } from 'esbuild';

/**
 * Nothing to do when dist/ was built by this Node from the sources as they are: `npx exsh`
 * (which makes npm run this project's prepare script) and `npm test` then start at once.
 * `npm run build -- --force` rebuilds anyway.
 */
const STAMP = 'dist/.built-with';
function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}
const inputs = ['src', 'scripts/bundle.mjs', 'package.json', 'package-lock.json', 'bin/exsh.cjs'];
if (!process.argv.includes('--force') && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === process.version) {
  const built = statSync(STAMP).mtimeMs;
  if (inputs.every((p) => !existsSync(p) || newest(p) < built)) {
    console.log('dist/ is up to date (npm run build -- --force rebuilds it).');
    process.exit(0);
  }
}

rmSync('dist', { recursive: true, force: true });

/**
 * commander requires node:child_process at load for executable subcommands, which exsh
 * does not use; loading it costs ~5 ms of every start. Make it load on first use.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!text.includes(eager)) throw new Error(`commander changed: ${args.path} no longer has ${eager}`);
      const lazy = "let __cp; const childProcess = new Proxy({}, { get: (_, k) => (__cp ??= require('node:child_process'))[k] });";
      return { contents: text.replace(eager, lazy), loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Loaded from node_modules when needed: the SQLite addon's finder (never used: exsh
  // passes the addon's path), enquirer (factory-reset on a terminal), the XML parser
  // (installing an SLR code).
  external: ['bindings', 'enquirer', 'fast-xml-parser'],
  // src/paths.ts and friends use import.meta.url; in the bundle it is the bundle's own URL.
  define: { 'import.meta.url': '__exshModuleUrl', __EXSH_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  banner: { js: "const __exshModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyChildProcess],
  logLevel: 'warning',
  legalComments: 'none',
  minify: true,
  keepNames: false,
};

await Promise.all([
  build({ ...common, entryPoints: { exsh: 'src/cli.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' } }),
  build({
    ...common,
    entryPoints: { bench: 'src/bench.ts', 'gen-docs': 'src/scripts/gen-docs.ts', codes: 'src/codes/index.ts', 'rest-bench': 'src/serve/rest-bench.ts' },
    outdir: 'dist',
    outExtension: { '.js': '.cjs' },
  }),
  // The `exsh/testing` package export: Node built-ins only, and readable (a user's test
  // steps into it), so not minified.
  build({ ...common, minify: false, entryPoints: { testing: 'src/testing.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' } }),
]);

/**
 * The types of `exsh/testing` (dist/testing.d.cts: the declarations of a CommonJS file in
 * a "type": "module" package), made from the source alone: src/testing.ts keeps to what
 * isolated declarations allow (explicit types on everything it exports), so no type check
 * of the project is needed here; `npm run check` does that.
 */
async function declarations(entry, out) {
  let ts;
  try {
    ts = (await import('typescript')).default;
  } catch {
    throw new Error(`building ${out} needs the typescript package (a devDependency): run npm install`);
  }
  const { outputText, diagnostics } = ts.transpileDeclaration(readFileSync(entry, 'utf8'), {
    fileName: entry,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, strict: true },
    reportDiagnostics: true,
  });
  if (diagnostics?.length) {
    const text = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
    throw new Error(`declarations of ${entry}:\n${text}`);
  }
  writeFileSync(out, `// Generated by npm run build from ${entry}; do not edit.\n${outputText}`);
}

await declarations('src/testing.ts', 'dist/testing.d.cts');

/**
 * V8's code cache for the bundle, made by running what one-shot commands run (creating a
 * device, reading status and configuration, a change) in a throw-away home: bin/exsh.cjs
 * then starts without compiling those functions again.
 */
async function codeCache(file) {
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file });
  const loaded = { exports: {} };
  script.runInThisContext().call(loaded.exports, loaded.exports, Module.createRequire(file), loaded, file, dirname(file));
  const home = mkdtempSync(join(tmpdir(), 'exsh-build-'));
  const sink = new Writable({ write: (_c, _e, done) => done() });
  try {
    for (const line of ['xStatus SystemUnit', 'xStatus SystemUnit', 'xConfiguration SystemUnit Name: "warm"', 'xConfiguration', 'xStatus License']) {
      const code = await loaded.exports.main(['--home', home, '-c', line], { stdin: process.stdin, stdout: sink, stderr: process.stderr, env: {} });
      if (code !== 0) throw new Error(`warming the code cache: '${line}' exited ${code}`);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  writeFileSync(`${file}.cache`, script.createCachedData());
}

await codeCache(resolve('dist/exsh.cjs'));
writeFileSync(STAMP, process.version);
