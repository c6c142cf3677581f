import type { CssmEnv } from '../cssm/service.js';
import { StoreError, usageError } from '../errors.js';
import { type Link, type Route, TransportFailure } from '../protocol/link.js';
import { CLOUD_PATH, type ReplyEnvelope, type RequestEnvelope } from '../protocol/messages.js';
import { timeoutFailure } from './failures.js';
import { liveServeRecord } from './record.js';

/**
 * The device's way to its CSSM (§9.5): a Link (src/protocol/link.ts) that carries one
 * request as JSON text and brings back the reply parsed, never verified (the device does
 * that). Direct goes to `--cssm-url`, else to a live `exsh cssm serve` recorded in the
 * home, else to the home's CSSM in-process; OnPrem to the configured URL; Proxy through
 * the proxy to the Direct URL. In-process, the request and the reply still pass through
 * JSON text, so every transport hands the CSSM and the device the same bytes.
 */

/** `xStatus License Smart Transport Url` for the embedded CSSM. */
export const IN_PROCESS = 'in-process';
/** Where a Proxy route goes when the Direct URL is the embedded CSSM: the real cloud, which an offline proxy cannot reach. */
export const CISCO_CLOUD_URL = 'https://smartreceiver.cisco.com/licservice/license';

export interface LinkOptions {
  home: string;
  /** `--cssm-url` / `EXSH_CSSM_URL`: a base URL (`https://127.0.0.1:8443`) or a full one; `in-process` forces the embedded CSSM. */
  cssmUrl?: string;
  /** The embedded CSSM's environment (the same home). */
  env: CssmEnv;
  /** The deadline of one exchange; default EXSH_CSSM_TIMEOUT_MS, else 10 s. */
  timeoutMs?: number;
}

/** The deadline of one exchange unless EXSH_CSSM_TIMEOUT_MS or `timeoutMs` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 600_000;

/** EXSH_CSSM_TIMEOUT_MS: whole milliseconds, 1 to 600000; unset or empty → undefined. */
export function parseCssmTimeout(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(n >= 1 && n <= MAX_TIMEOUT_MS)) {
    throw usageError('cli.badCssmTimeout', `Invalid EXSH_CSSM_TIMEOUT_MS '${text}': expected a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}.`);
  }
  return n;
}

/** A base URL (no path) gets the cloud path; anything else is used as given. */
export function cssmCloudUrl(text: string): string {
  const trimmed = text.trim();
  if (trimmed === IN_PROCESS) return IN_PROCESS;
  try {
    const url = new URL(trimmed);
    if ((url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '') {
      return `${url.protocol}//${url.host}${CLOUD_PATH}`;
    }
  } catch {
    // Not a URL: shown as given, and the exchange fails as an unreachable server would.
  }
  return trimmed;
}

export function createLink(opts: LinkOptions): Link {
  // Read here, once, rather than deep in a transport: the one knob tests turn.
  const timeoutMs = opts.timeoutMs ?? parseCssmTimeout(process.env.EXSH_CSSM_TIMEOUT_MS) ?? DEFAULT_TIMEOUT_MS;
  const fixed = opts.cssmUrl !== undefined && opts.cssmUrl.trim() !== '' ? cssmCloudUrl(opts.cssmUrl) : undefined;

  const directUrl = (): string => fixed ?? liveServeRecord(opts.home)?.cloud ?? IN_PROCESS;

  const url = (route: Route): string => {
    switch (route.mode) {
      case 'OnPrem':
        return route.onPremUrl;
      case 'Proxy': {
        const direct = directUrl();
        return direct === IN_PROCESS ? CISCO_CLOUD_URL : direct;
      }
      default:
        return directUrl();
    }
  };

  return {
    url,
    async exchange(route: Route, request: RequestEnvelope): Promise<ReplyEnvelope> {
      const to = url(route);
      const text = JSON.stringify(request);
      // Only Direct reaches the embedded CSSM: an On-Prem URL that says `in-process` is no URL.
      if (route.mode === 'Direct' && to === IN_PROCESS) return inProcess(opts.env, text);
      const https = await import('./https.js');
      const target = https.httpsTarget(to);
      // Not an https: URL: the device speaks HTTPS only, so nothing answers.
      if (target === undefined) throw timeoutFailure();
      const ca = await trustedRoot(opts.home);
      const reply = await https.postJson(target, text, {
        ca,
        timeoutMs,
        ...(route.mode === 'Proxy' ? { proxy: route.proxy } : {}),
      });
      return reply as ReplyEnvelope;
    },
  };
}

/** The home's root CA, or undefined when it has none (then no TLS peer is trusted). */
async function trustedRoot(home: string): Promise<string | undefined> {
  try {
    return (await import('../pki/pki.js')).readRootCertificate(home);
  } catch {
    return undefined;
  }
}

/**
 * The embedded CSSM, given what the network would carry: the request's JSON text parsed
 * back, and the reply as JSON text parsed again. A CSSM that cannot use its store answers
 * as `cssm serve` does over HTTPS (503).
 */
async function inProcess(env: CssmEnv, text: string): Promise<ReplyEnvelope> {
  const { handleDeviceMessage } = await import('../cssm/connected.js');
  let reply: ReplyEnvelope;
  try {
    reply = await handleDeviceMessage(env, JSON.parse(text) as unknown, 'cloud');
  } catch (e) {
    if (e instanceof StoreError) throw new TransportFailure('http', 'HTTP Server Error 503: Service Unavailable.');
    throw e;
  }
  return JSON.parse(JSON.stringify(reply)) as ReplyEnvelope;
}
