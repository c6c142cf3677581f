import { isoSeconds } from '../clock.js';
import { stringSpace } from '../xapi/schema.js';
import type { Subsystem } from './model.js';
import type { DeviceState } from './state.js';

/** SystemUnit configuration and status (§4, §5.1), and the IP/DNS settings. */

export const PRODUCT_NAMES = {
  ExpresswayC: 'Cisco Expressway-C',
  ExpresswayE: 'Cisco Expressway-E',
  VCS: 'Cisco TelePresence VCS',
} as const;

export function productName(state: Pick<DeviceState, 'brand' | 'type'>): string {
  return state.brand === 'VCS' ? PRODUCT_NAMES.VCS : PRODUCT_NAMES[state.type];
}

export function systemName(state: DeviceState, fallback: string): string {
  const name = state.config['SystemUnit Name'];
  return typeof name === 'string' && name !== '' ? name : fallback;
}

export const DNS_DOMAIN_KEY = 'IP DNS Domain Name';

const HOSTNAME = /^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

export const systemUnit: Subsystem = {
  name: 'systemUnit',
  configRetention: [['IP', 'ip']],
  config: [
    {
      path: ['SystemUnit', 'Name'],
      space: stringSpace(0, 50),
      default: '',
      help: 'The name of this system, shown in the login banner.',
    },
    {
      path: ['IP', 'DNS', 'Hostname'],
      space: stringSpace(0, 63),
      default: '',
      help: 'The DNS host name of this system.',
      validate: (v) =>
        v === '' || HOSTNAME.test(String(v))
          ? undefined
          : `Invalid value '${String(v)}' for IP DNS Hostname: use letters, digits and '-', not starting or ending with '-'.`,
    },
    {
      path: ['IP', 'DNS', 'Domain', 'Name'],
      space: stringSpace(0, 253),
      default: '',
      help: 'The DNS domain of this system. Smart Licensing needs it to reach the CSSM (Direct transport).',
      validate: (v) =>
        v === '' || DOMAIN.test(String(v)) ? undefined : `Invalid value '${String(v)}' for IP DNS Domain Name: expected a domain such as example.com.`,
    },
  ],
  status: [
    {
      name: 'SystemUnit',
      help: 'Product, software, hardware identity (UDI), uptime and the simulated clock.',
      build: (ctx) => {
        const s = ctx.state;
        const now = ctx.now();
        const uptime = Math.max(0, Math.floor((now.getTime() - Date.parse(s.bootedAt)) / 1000));
        return {
          Name: systemName(s, ''),
          Product: productName(s),
          ExpresswaySeries: s.brand === 'Expressway' ? 'True' : 'False',
          Software: { Version: s.software },
          Hardware: { SerialNumber: s.identity.serial },
          UDI: {
            ProductId: s.identity.pid,
            SerialNumber: s.identity.serial,
            VersionId: s.identity.vid,
            HostIdentifier: s.identity.hostId,
          },
          Uptime: uptime,
          Time: isoSeconds(now),
        };
      },
    },
  ],
};
