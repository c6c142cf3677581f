/**
 * The package root, for the files exsh ships (fixtures/). This module is src/paths.ts in
 * tests and part of dist/exsh.cjs in the built CLI: both sit one level below the root.
 */
export const PACKAGE_ROOT = new URL('../', import.meta.url);

export function packageFile(relative: string): URL {
  return new URL(relative, PACKAGE_ROOT);
}
