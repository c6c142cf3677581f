import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The main `exsh` binary is not wired to `cssm` yet, so child processes import the
 * service from a plain-JS copy of the modules it needs, transpiled (no type check) into
 * a git-ignored `.exsh-test-*` directory inside the repo so node_modules still resolves.
 * `fixtures/` is linked beside it, because modules find it at `../../fixtures`.
 */
export function transpileForChildren(): { dir: string; cleanup: () => void } {
  const dir = join(ROOT, `.exsh-test-cssm-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const sources = ['src/errors.ts', 'src/random.ts', ...tsUnder('src/codes'), ...tsUnder('src/cssm')];
  for (const src of sources) {
    const out = join(dir, src.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    const { outputText } = ts.transpileModule(readFileSync(join(ROOT, src), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: src,
    });
    writeFileSync(out, outputText);
  }
  symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'), 'dir');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function tsUnder(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}
