import { remoteEnv } from '../../src/commands/remote.js';
import type { CssmEnv } from '../../src/cssm/service.js';
import { createToken, type CreateTokenOptions } from '../../src/cssm/tokens.js';
import type { RemoteEnv } from '../../src/device/registration-client.js';
import type { Link } from '../../src/protocol/link.js';
import type { MessageKind, ReplyEnvelope, RequestEnvelope } from '../../src/protocol/messages.js';
import { seededRng } from '../../src/random.js';
import { NOW, testDevice, type TestDevice, type TestDeviceOptions } from '../device/helpers.js';

/**
 * A device connected to the CSSM of its own home, in-process (the embedded default), and
 * a count of the messages it sent. `tamper` may rewrite a reply on its way back (to test
 * the device's checks); it is a test's hand on the wire, not a stand-in for any part.
 */
export interface ConnectedDevice extends TestDevice {
  cssm: CssmEnv;
  sent: Record<MessageKind, number>;
  token(opts?: CreateTokenOptions): string;
  tamper: ((reply: ReplyEnvelope, request: RequestEnvelope) => ReplyEnvelope) | undefined;
  /** Runs a line and returns the status line of License Smart Registration/Authorization. */
  status(): Promise<{ registration: string; authorization: string; text: string }>;
}

export async function connectedDevice(opts: TestDeviceOptions & { dns?: boolean } = {}): Promise<ConnectedDevice> {
  const t = await testDevice(opts);
  const cssm: CssmEnv = { home: t.home, now: () => opts.now ?? NOW, rng: seededRng('cssm', 'tokens') };
  const base = remoteEnv(t.home, undefined, () => cssm);
  const sent: Record<MessageKind, number> = { register: 0, renewId: 0, renewAuth: 0, deregister: 0 };
  const connected: ConnectedDevice = Object.assign(t, {
    cssm,
    sent,
    tamper: undefined as ConnectedDevice['tamper'],
    token: (o: CreateTokenOptions = {}) => createToken(cssm, o).token,
    status: async () => {
      const text = await t.run('xStatus License Smart');
      const pick = (node: string) => new RegExp(`      ${node}:\\n        Status: "([^"]*)"`).exec(text)?.[1] ?? '';
      return { registration: pick('Registration'), authorization: pick('Authorization'), text };
    },
  });
  const env: RemoteEnv = {
    rootCertificate: () => base.rootCertificate(),
    link: async () => {
      const link = await base.link();
      const counted: Link = {
        url: (route) => link.url(route),
        exchange: async (route, request) => {
          sent[request.kind]++;
          const reply = await link.exchange(route, request);
          return connected.tamper ? connected.tamper(reply, request) : reply;
        },
      };
      return counted;
    },
  };
  t.device.services = env;
  if (opts.dns !== false) await t.run('xConfiguration IP DNS Domain Name: example.com');
  return connected;
}

/** The value of `Node: "value"` in a status or result text (the first one). */
export function field(text: string, node: string): string | undefined {
  return new RegExp(`\\b${node}: "([^"]*)"`).exec(text)?.[1];
}
