import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { storeError } from '../errors.js';
import { ensurePrivateDir, privateFileProblem } from '../files.js';

/**
 * The servers' settings (§11, §12): who may log in, where the host key is, and the
 * ports of the last start, in `<home>/serve/settings.json` (0600), kept with conf. conf
 * costs ~137 ms to import, which a server pays once and a one-shot command never: only
 * `exsh serve` imports this module.
 */

export const SSH_USERS = ['admin', 'root'] as const;
export type SshUser = (typeof SSH_USERS)[number];

export interface ServeSettings {
  /** Who may log in: `admin` gets the xAPI shell, `root` the root shell. */
  users: SshUser[];
  /** The SSH host key (made on first start). */
  hostKeyPath: string;
  /** The last start: the address, each device's SSH port, the HTTPS port (null: none). */
  last: { host: string; ssh: Record<string, number>; https: number | null } | null;
}

export function serveDir(home: string): string {
  return join(home, 'serve');
}

const SCHEMA = {
  users: { type: 'array', items: { enum: [...SSH_USERS] }, uniqueItems: true },
  hostKeyPath: { type: 'string', minLength: 1 },
  last: {
    anyOf: [
      { type: 'null' },
      {
        type: 'object',
        properties: {
          host: { type: 'string' },
          ssh: { type: 'object', additionalProperties: { type: 'integer', minimum: 1, maximum: 65535 } },
          https: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1, maximum: 65535 }] },
        },
        required: ['host', 'ssh', 'https'],
      },
    ],
  },
} as const;

export interface SettingsStore {
  readonly path: string;
  read(): ServeSettings;
  recordStart(last: NonNullable<ServeSettings['last']>): void;
}

/** Opens the settings of a home (made with the defaults on first use). */
export async function openSettings(home: string): Promise<SettingsStore> {
  const dir = serveDir(home);
  ensurePrivateDir(dir, 'The exsh server directory');
  const path = join(dir, 'settings.json');
  // conf reads through symlinks and keeps the mode of a file it did not make.
  if (existsSync(path)) {
    const problem = privateFileProblem(path);
    if (problem) throw storeError('serve.badSettings', `The server settings ${path} cannot be used: ${problem}.`);
  }
  const { default: Conf } = await import('conf');
  let conf: InstanceType<typeof Conf<ServeSettings>>;
  try {
    conf = new Conf<ServeSettings>({
      cwd: dir,
      configName: 'settings',
      configFileMode: 0o600,
      accessPropertiesByDotNotation: false,
      // biome-ignore lint/suspicious/noExplicitAny: conf's schema type is JSON Schema, which the literal above is.
      schema: SCHEMA as any,
      defaults: { users: [...SSH_USERS], hostKeyPath: join(dir, 'ssh_host_key'), last: null },
    });
  } catch (e) {
    throw storeError(
      'serve.badSettings',
      `The server settings ${path} cannot be read (${(e as Error).message.replace(/\.$/, '')}); fix the file or remove it to start from the defaults.`,
    );
  }
  return {
    path,
    read: () => ({ users: conf.get('users'), hostKeyPath: conf.get('hostKeyPath'), last: conf.get('last') }),
    recordStart: (last) => conf.set('last', last),
  };
}
