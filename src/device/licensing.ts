import { ExshError } from '../errors.js';
import { registerGuard } from '../shell/session.js';
import { enumSpace, intSpace, stringSpace, type CommandTree, type StatusObject } from '../xapi/schema.js';
import type { DeviceContext } from './context.js';
import { registerResetConfig } from './retention.js';

/**
 * Smart Licensing settings (§4) and the `xStatus License` tree. Subsystems
 * (reservation, registration) contribute their parts of `License Smart` through
 * registerSmartStatusPart, in registration order.
 */

export const EVALUATION_DAYS = 90;
const DAY_MS = 86_400_000;

type SmartStatusPart = (ctx: DeviceContext, smart: StatusObject) => void;
const parts: SmartStatusPart[] = [];
export function registerSmartStatusPart(fn: SmartStatusPart): void {
  parts.push(fn);
}

export function evaluationDaysRemaining(ctx: DeviceContext): number {
  const end = Date.parse(ctx.state.licensing.evaluationStartedAt) + EVALUATION_DAYS * DAY_MS;
  return Math.max(0, Math.ceil((end - ctx.now().getTime()) / DAY_MS));
}

/** §5.3: on a Cisco VCS every License Smart request is refused. */
export function smartLicensingAvailable(ctx: DeviceContext): boolean {
  return ctx.state.brand === 'Expressway';
}

export const VCS_REFUSAL = 'Smart Licensing is not available on Cisco VCS: this system uses option keys. Switch it to Expressway with xCommand ServiceSelect first.';

function isSmartPath(path: readonly string[]): boolean {
  return path[0] === 'License' && path[1] === 'Smart';
}

export function register(tree: CommandTree): void {
  registerResetConfig('License Smart', 'smart-licensing');
  registerGuard((ctx, target) => {
    if (isSmartPath(target.path) && !smartLicensingAvailable(ctx)) {
      throw new ExshError('license.notAvailableOnVcs', VCS_REFUSAL);
    }
  });

  tree.addConfig({
    path: ['License', 'Smart', 'Transport', 'Mode'],
    space: enumSpace('Direct', 'OnPrem', 'Proxy'),
    default: 'Direct',
    help: 'How this product instance reaches the CSSM: Direct (cisco.com), OnPrem (Smart Software Manager On-Prem) or Proxy.',
  });
  tree.addConfig({
    path: ['License', 'Smart', 'Transport', 'OnPrem', 'Url'],
    space: stringSpace(0, 1024),
    default: '',
    help: 'The Smart Transport URL of the On-Prem server, for example https://example.com/SmartTransport.',
    validate: (v) => {
      const s = String(v);
      if (s === '') return undefined;
      let ok = false;
      try {
        const u = new URL(s);
        ok = u.protocol === 'https:' && u.hostname !== '' && /\/SmartTransport$/.test(u.pathname);
      } catch {
        ok = false;
      }
      return ok
        ? undefined
        : `Invalid value '${s}' for License Smart Transport OnPrem Url: it must be https://<server>/SmartTransport, for example https://example.com/SmartTransport.`;
    },
  });
  tree.addConfig({
    path: ['License', 'Smart', 'Transport', 'Proxy', 'Address'],
    space: stringSpace(0, 1024),
    default: '',
    help: 'The proxy server: an IPv4 address or FQDN.',
    validate: (v) =>
      String(v) === '' || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(String(v))
        ? undefined
        : `Invalid value '${String(v)}' for License Smart Transport Proxy Address: expected an IPv4 address or a host name.`,
  });
  tree.addConfig({
    path: ['License', 'Smart', 'Transport', 'Proxy', 'Port'],
    space: intSpace(1, 65535),
    default: 3128,
    help: 'The port the proxy server listens on.',
  });
  tree.addConfig({
    path: ['License', 'Smart', 'Transport', 'Proxy', 'Username'],
    space: stringSpace(0, 128),
    default: '',
    help: 'The user name for proxy authentication.',
  });
  tree.addConfig({
    path: ['License', 'Smart', 'Transport', 'Proxy', 'Password'],
    space: stringSpace(0, 128),
    default: '',
    secret: true,
    help: 'The password for proxy authentication (never printed back).',
  });
  tree.addConfig({
    path: ['License', 'Smart', 'Privacy', 'HostnameAndIp'],
    space: enumSpace('Share', 'DoNotShare'),
    default: 'Share',
    help: "DoNotShare: do not share my hostname or IP address with the CSSM.",
  });
  tree.addConfig({
    path: ['Services', 'WebRTC', 'Mode'],
    space: enumSpace('On', 'Off'),
    default: 'Off',
    help: 'WebRTC; when On the export-control limit is 2244 instead of 2500.',
  });

  tree.addStatus({
    name: 'License',
    help: 'Smart Licensing: registration, authorization, evaluation, reservation and entitlements.',
    build: (ctx) => {
      const available = smartLicensingAvailable(ctx);
      const days = evaluationDaysRemaining(ctx);
      const smart: StatusObject = {
        Enabled: available ? 'True' : 'False',
        Registration: { Status: 'Unregistered' },
        Authorization: { Status: days > 0 ? 'Evaluation Mode' : 'Evaluation Expired' },
        Evaluation: { DaysRemaining: days, Status: days > 0 ? 'In Use' : 'Expired' },
        SmartAccount: '',
        VirtualAccount: '',
        ExportControlled: 'Not Allowed',
      };
      if (available) for (const p of parts) p(ctx, smart);
      return { Smart: smart };
    },
  });
}
