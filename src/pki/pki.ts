/**
 * CONTRACT (to be implemented): the simulator's PKI for connected mode (§9.5, §9.6),
 * built with node-forge, which is imported dynamically (never on a one-shot path).
 */

export interface CaMaterial {
  rootCertPem: string;
  rootKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** `<home>/cssm/pki/root-ca.pem`. */
  rootCertPath: string;
}

export interface CertInfo {
  serialHex: string;
  commonName: string;
  issuerCommonName: string;
  notBefore: Date;
  notAfter: Date;
  publicKeyPem: string;
}

export interface CsrInfo {
  commonName: string;
  publicKeyPem: string;
}

export interface IssueOptions {
  serialHex: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}

export type PkiProblem = 'pki.malformed' | 'pki.badCsr' | 'pki.untrusted' | 'pki.expired' | 'pki.notYetValid';

export declare function pkiDir(home: string): string;
export declare function rootCertPath(home: string): string;
export declare function ensurePki(home: string): Promise<CaMaterial>;
export declare function readRootCertificate(home: string): string | undefined;
export declare function generateDeviceKey(): string;
export declare function createCsr(deviceKeyPem: string, subject: { commonName: string; hostname?: string }): Promise<string>;
export declare function readCsr(csrPem: string): Promise<CsrInfo>;
export declare function issueIdCertificate(ca: CaMaterial, csrPem: string, opts: IssueOptions): Promise<string>;
export declare function readCertificate(pem: string): Promise<CertInfo>;
export declare function verifyIdCertificate(certPem: string, rootCertPem: string, at: Date): Promise<CertInfo>;
