/** One licence line of an SLR code (§6.5); dates are written as the code carries them. */
export interface Entitlement {
  tag: string;
  count: number;
  /** `2021-Aug-13 UTC` for a term licence, empty for a perpetual one. */
  startDate: string;
  endDate: string;
  licenseType: 'PERPETUAL' | 'TERM';
  displayName: string;
  tagDescription: string;
  subscriptionId: string;
}

export interface SlrPayload {
  flag: string;
  version: string;
  piid: string;
  /** Epoch milliseconds; an update must carry a newer one (§6.3 step 5). */
  timestamp: number;
  entitlements: Entitlement[];
}

export interface PlrPayload {
  version: number;
  exportControl: boolean;
  timestamp: number;
  piid: string;
}

export type AuthorizationCode =
  | {
      type: 'SLR';
      payload: SlrPayload;
      /** The `<udi>` element, as written; the caller compares it with the device's own. */
      udi: string;
      /** DER `SEQUENCE { r, s }`. */
      signature: Buffer;
      /** canonical(`<authorizationCode>…</authorizationCode>`) ‖ canonical(`<udi>…</udi>`). */
      signedBytes: Buffer;
      /** The whole code in canonical form: what the device stores and shows. */
      canonical: string;
    }
  | {
      type: 'PLR';
      payload: PlrPayload;
      /** 64 bytes, r ‖ s. */
      signature: Buffer;
      /** The code re-dashed every six characters. */
      canonical: string;
    };
