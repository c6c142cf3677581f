import type { ReplyEnvelope, RequestEnvelope } from './messages.js';

/**
 * How a device reaches the CSSM (§9.5). The device decides *whether* it may try (the
 * simulator's network switch, DNS for Direct) and *where* from its settings (a Route);
 * a Link carries the request there and brings back the reply, or fails with a
 * TransportFailure. Links are made above the device layer (src/net/) and handed to it.
 */

export type TransportMode = 'Direct' | 'OnPrem' | 'Proxy';

export interface Route {
  mode: TransportMode;
  /** `Transport OnPrem Url` (OnPrem). */
  onPremUrl: string;
  /** `Transport Proxy …` (Proxy): CONNECT through it to the Direct URL. */
  proxy: { address: string; port: number; username: string; password: string };
}

/**
 * Why nothing (or nothing usable) came back. `reason` is the text the device shows after
 * "…because of the following reason: " in FailureReason.
 *
 * - timeout: nothing answered (connection refused or reset, a timeout, a server killed
 *   mid-request, a proxy that closes): "HTTP Server Error 200: Operation timed out."
 * - unknownCa: the TLS peer's certificate does not chain to the simulator's root
 *   ("unknown CA", e.g. an intercepting proxy).
 * - proxy: the proxy refused the CONNECT (407 and its reason, 403, 502 …).
 * - http: the server answered with an HTTP error or a body that is not a reply.
 */
export type TransportFailureKind = 'timeout' | 'unknownCa' | 'proxy' | 'http';

export class TransportFailure extends Error {
  constructor(
    readonly kind: TransportFailureKind,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'TransportFailure';
  }
}

/** The FailureReason text for an unreachable CSSM (the device's own wording). */
export const TIMEOUT_REASON = 'HTTP Server Error 200: Operation timed out.';
export const UNKNOWN_CA_REASON = 'unknown CA';

export interface Link {
  /** The URL the route uses (`xStatus License Smart Transport Url`): `in-process` for the embedded CSSM. */
  url(route: Route): string;
  /**
   * Sends one request and returns the parsed reply JSON, unverified (the device checks
   * signature, nonce and kind). Throws TransportFailure for anything else; never hangs
   * (bounded by a timeout).
   */
  exchange(route: Route, request: RequestEnvelope): Promise<ReplyEnvelope>;
}
