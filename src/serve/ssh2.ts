import { createRequire } from 'node:module';

/**
 * ssh2, loaded from node_modules when a server starts. It is not bundled: its optional
 * native parts (cpu-features, the AES-GCM binding) are required by path inside try
 * blocks, which a bundler cannot follow, and nothing on the one-shot path needs it.
 */

export type Ssh2 = typeof import('ssh2');

let loaded: Ssh2 | undefined;

export function ssh2(): Ssh2 {
  loaded ??= createRequire(import.meta.url)('ssh2') as Ssh2;
  return loaded;
}
