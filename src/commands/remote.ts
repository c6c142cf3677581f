import type { RemoteEnv } from '../device/registration-client.js';
import type { CssmEnv } from '../cssm/service.js';
import { readRootFile } from '../pki/store.js';

/**
 * What a device is given for the outside world (§9.5): the link to the CSSM, made on
 * first use (the transports, node-forge and the CSSM's database load only then), and
 * the simulator's root CA from the home's PKI.
 */
export function remoteEnv(home: string, cssmUrl: string | undefined, cssm: () => CssmEnv, env: Record<string, string | undefined> = {}): RemoteEnv {
  let link: ReturnType<RemoteEnv['link']> | undefined;
  return {
    link: () => {
      link ??= import('../net/link.js').then((m) => {
        // EXSH_CSSM_TIMEOUT_MS bounds one exchange (default 10 s); a bad value is refused at the first one.
        const timeoutMs = m.parseCssmTimeout(env.EXSH_CSSM_TIMEOUT_MS);
        return m.createLink({ home, cssmUrl, env: cssm(), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      });
      return link;
    },
    // Read as the PKI reads it: a private file, never through a symlink.
    rootCertificate: () => readRootFile(home),
  };
}
