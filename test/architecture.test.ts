import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layer order of src/ (docs/architecture.md): an import never points up. Import
 * cycles are madge's to find (`npm run check`); this test keeps the direction.
 */

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Lower layers first. A file may import its own layer and those below it. */
const LAYERS: readonly (readonly string[])[] = [
  ['text.ts', 'errors.ts', 'suggest.ts', 'clock.ts', 'random.ts', 'paths.ts', 'table.ts', 'files.ts', 'catalogue.ts'],
  ['codes/'],
  ['xapi/'],
  ['store/'],
  ['protocol/', 'pki/'],
  ['device/'],
  ['cssm/'],
  ['net/'],
  ['shell/'],
  ['serve/'],
  ['commands/'],
  ['cli.ts', 'bench.ts', 'testing.ts', 'scripts/'],
];

function layerOf(file: string): number {
  const i = LAYERS.findIndex((names) => names.some((n) => (n.endsWith('/') ? file.startsWith(n) : file === n)));
  if (i < 0) throw new Error(`${file} is in no layer: add it to LAYERS`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('src/ layers', () => {
  it('every import points to the same layer or one below', () => {
    const upward: string[] = [];
    for (const path of sources(SRC)) {
      const file = relative(SRC, path);
      const text = readFileSync(path, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = relative(SRC, resolve(dirname(path), (m[1] as string).replace(/\.js$/, '.ts')));
        if (layerOf(target) > layerOf(file)) upward.push(`${file} → ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
