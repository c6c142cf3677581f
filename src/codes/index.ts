/** Every code that crosses between device and CSSM (§6.4–6.5): pure codecs plus signing. */
export { encodeBase58, decodeBase58, BASE58_ALPHABET } from './base58.js';
export { formatUdi, parseUdi, udiEquals, type Udi } from './udi.js';
export { makeNonce, makeRequestCode, parseRequestCode, derivePiid } from './request.js';
export { canonicalizeCode } from './canonical.js';
export { formatSlrDate, parseSlrDate } from './dates.js';
export type { Entitlement, SlrPayload, PlrPayload, AuthorizationCode } from './types.js';
export { buildSlrCode, SLR_FLAG, SLR_VERSION } from './slr.js';
export { buildPlrCode, PLR_VERSION } from './plr.js';
export { parseAuthorizationCode, verifySignature, signatureBytes } from './authorization.js';
export {
  makeReturnCode,
  parseReturnCode,
  returnCodeMatches,
  confirmationCode,
  type ReturnKind,
} from './returns.js';
export { loadDemoAuthority, keyFingerprint, type DemoAuthority } from './authority.js';
