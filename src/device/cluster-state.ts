import type { SectionSpec } from './model.js';
import { isObject, type DeviceState } from './state.js';
import { consumption, LICENCE_KINDS, ownLicences, readUsage, type LicenceUseKind } from './usage-state.js';

/**
 * Cluster membership and licence sharing (§10). Every peer's document holds the same
 * name and peer list, and its side of every loan: what it borrowed from each peer and
 * what it lent to each. A node borrows only when its own licences of a kind are used
 * up, and only what its peers hold unused; the loans of all peers are recomputed and
 * written in one transaction (Device.changeWithPeers), so a kill never leaves half a loan.
 */

export const CLUSTER = 'cluster';
export const MIN_PEERS = 2;
export const MAX_PEERS = 6;

export type Loans = Partial<Record<LicenceUseKind, Record<string, number>>>;

export interface ClusterSection {
  name: string;
  /** Every peer, this node included, in the order given at creation (the first is the primary). */
  peers: string[];
  borrowed: Loans;
  lent: Loans;
}

export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function readCluster(state: DeviceState): ClusterSection | undefined {
  return state[CLUSTER] as ClusterSection | undefined;
}

export const sumLoans = (loans: Loans, kind: LicenceUseKind): number => Object.values(loans[kind] ?? {}).reduce((a, b) => a + b, 0);

/**
 * The loans of a whole cluster for the states given (name → state), recomputed from
 * scratch in peer order: each node first uses its own licences; a node short of a kind
 * borrows, in peer order, from nodes holding that kind unused.
 */
export function allocate(peers: readonly string[], states: ReadonlyMap<string, DeviceState>, now: Date): Map<string, { borrowed: Loans; lent: Loans }> {
  const out = new Map<string, { borrowed: Loans; lent: Loans }>(peers.map((p) => [p, { borrowed: {}, lent: {} }]));
  for (const kind of LICENCE_KINDS) {
    const need = new Map<string, number>();
    const spare = new Map<string, number>();
    for (const p of peers) {
      const state = states.get(p);
      if (!state) continue;
      const own = ownLicences(state, now);
      if (!own) continue;
      const use = consumption(readUsage(state).current)[kind];
      if (use > own[kind]) need.set(p, use - own[kind]);
      else if (own[kind] > use) spare.set(p, own[kind] - use);
    }
    for (const [borrower, wanted] of need) {
      let left = wanted;
      for (const [lender, free] of spare) {
        if (left === 0) break;
        const n = Math.min(left, free);
        if (n === 0) continue;
        left -= n;
        spare.set(lender, free - n);
        const b = out.get(borrower);
        const l = out.get(lender);
        if (!b || !l) continue;
        const borrowed = b.borrowed[kind] ?? {};
        borrowed[lender] = n;
        b.borrowed[kind] = borrowed;
        const lent = l.lent[kind] ?? {};
        lent[borrower] = n;
        l.lent[kind] = lent;
      }
    }
  }
  return out;
}

function loansProblem(v: unknown): boolean {
  if (!isObject(v)) return true;
  for (const [kind, m] of Object.entries(v)) {
    if (!(LICENCE_KINDS as readonly string[]).includes(kind) || !isObject(m)) return true;
    if (Object.values(m).some((n) => !Number.isSafeInteger(n) || (n as number) <= 0)) return true;
  }
  return false;
}

export const clusterSection: SectionSpec = {
  key: CLUSTER,
  validate: (raw) => {
    if (raw === undefined) return undefined;
    if (!isObject(raw) || typeof raw.name !== 'string' || !CLUSTER_NAME.test(raw.name)) return 'cluster is invalid';
    if (!Array.isArray(raw.peers) || raw.peers.length < MIN_PEERS || raw.peers.length > MAX_PEERS || raw.peers.some((p) => typeof p !== 'string')) {
      return 'cluster peers are invalid';
    }
    if (loansProblem(raw.borrowed) || loansProblem(raw.lent)) return 'cluster loans are invalid';
    return undefined;
  },
  // Cluster configuration is the system's configuration: a reset drops it (the peers keep theirs).
  reset: 'never',
  restoreOntoOther: 'fresh',
};
