import { CLUSTER, CLUSTER_NAME, MAX_PEERS, MIN_PEERS, readCluster, type ClusterSection } from '../device/cluster-state.js';
import type { DeviceContext } from '../device/context.js';
import { clusterRefusal, shareLicences } from '../device/usage.js';
import { ExshError, StoreError, usageError } from '../errors.js';
import { formatTable } from '../table.js';
import type { CliContext } from './context.js';

/**
 * `exsh cluster create | list | remove` (§10): 2 to 6 Expressways of one home that share
 * licences. Every change is one transaction over all the peers (Device.changeWithPeers):
 * membership is written to each peer's document together, and so are the loans.
 */

function peerContexts(ctx: DeviceContext, names: readonly string[]): Map<string, DeviceContext> {
  const out = new Map<string, DeviceContext>();
  for (const name of names) {
    const peer = ctx.peer?.(name);
    if (!peer) throw new ExshError('cluster.unknownDevice', `There is no device '${name}' in this home (exsh devices list shows them); nothing was changed.`);
    out.set(name, peer);
  }
  return out;
}

export async function clusterCreate(ctx: CliContext, name: string, o: { peers?: string }): Promise<number> {
  if (!CLUSTER_NAME.test(name)) {
    throw usageError('cluster.badName', `Invalid cluster name '${name}': use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`);
  }
  const peers = (o.peers ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (peers.length < MIN_PEERS || peers.length > MAX_PEERS) {
    throw usageError('cluster.peerCount', `A cluster has ${MIN_PEERS} to ${MAX_PEERS} peers; --peers named ${peers.length}.`);
  }
  const twice = peers.find((p, i) => peers.indexOf(p) !== i);
  if (twice) throw usageError('cluster.duplicatePeer', `Device '${twice}' is named twice in --peers.`);
  const [first] = peers;
  if (first === undefined) return 2;
  const store = await ctx.store();
  if (!(await store.names()).includes(first)) {
    throw new ExshError('cluster.unknownDevice', `There is no device '${first}' in this home (exsh devices list shows them); nothing was changed.`);
  }
  for (const existing of await clusterNames(ctx)) {
    if (existing.name === name) throw new ExshError('cluster.exists', `A cluster named '${name}' already exists (peers ${existing.peers.join(', ')}).`);
  }
  const device = await ctx.device(first);
  await device.changeWithPeers((dc) => {
    const contexts = peerContexts(dc, peers);
    for (const [peerName, peer] of contexts) {
      const other = readCluster(peer.state);
      if (other)
        throw new ExshError(
          'cluster.alreadyClustered',
          `Device '${peerName}' is already in cluster '${other.name}': remove it from that cluster first (exsh cluster remove ${other.name}).`,
        );
      const refusal = clusterRefusal(peer.state, `Device '${peerName}'`);
      if (refusal) throw new ExshError('cluster.notLicensed', `${refusal} Nothing was changed.`);
    }
    for (const peer of contexts.values()) peer.edit<ClusterSection>(CLUSTER, () => ({ name, peers: [...peers], borrowed: {}, lent: {} }));
    shareLicences(dc);
  });
  ctx.io.stdout.write(`Created cluster '${name}' of ${peers.length} peers: ${peers.join(', ')} (primary ${first}).\n`);
  return 0;
}

interface ListedCluster {
  name: string;
  peers: string[];
  /** Peers that no longer carry the membership (reset or removed since). */
  missing: string[];
}

async function clusterNames(ctx: CliContext): Promise<ListedCluster[]> {
  const store = await ctx.store();
  const byName = new Map<string, ListedCluster>();
  const members = new Set<string>();
  for (const device of await store.names()) {
    let stored: Awaited<ReturnType<typeof store.read>>;
    try {
      stored = await store.read(device);
    } catch (e) {
      if (e instanceof StoreError) continue;
      throw e;
    }
    const cluster = stored ? readCluster(stored.doc) : undefined;
    if (!cluster) continue;
    members.add(`${cluster.name}/${device}`);
    if (!byName.has(cluster.name)) byName.set(cluster.name, { name: cluster.name, peers: cluster.peers, missing: [] });
  }
  for (const c of byName.values()) c.missing = c.peers.filter((p) => !members.has(`${c.name}/${p}`));
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export async function clusterList(ctx: CliContext, o: { json?: boolean }): Promise<number> {
  const clusters = await clusterNames(ctx);
  if (o.json || ctx.output === 'json') ctx.io.stdout.write(`${JSON.stringify(clusters, null, 2)}\n`);
  else if (clusters.length === 0) ctx.io.stdout.write(`No clusters under ${ctx.home}.\n`);
  else
    ctx.io.stdout.write(
      `${formatTable(
        ['Name', 'Peers', 'Primary', 'Not in step'],
        clusters.map((c) => [c.name, c.peers.join(', '), c.peers[0] ?? '', c.missing.join(', ') || '-']),
      )}\n`,
    );
  return 0;
}

export async function clusterRemove(ctx: CliContext, name: string): Promise<number> {
  const cluster = (await clusterNames(ctx)).find((c) => c.name === name);
  if (!cluster) throw new ExshError('cluster.notFound', `There is no cluster '${name}' under ${ctx.home} (exsh cluster list shows them).`);
  const holder = cluster.peers.find((p) => !cluster.missing.includes(p));
  if (holder === undefined) throw new ExshError('cluster.notFound', `There is no cluster '${name}' under ${ctx.home}.`);
  const device = await ctx.device(holder);
  await device.changeWithPeers((dc) => {
    for (const peerName of cluster.peers) {
      const peer = dc.peer?.(peerName);
      if (peer && readCluster(peer.state)?.name === name) peer.replace(withoutCluster(peer.state));
    }
  });
  ctx.io.stdout.write(`Removed cluster '${name}': ${cluster.peers.join(', ')} no longer share licences (every loan returned).\n`);
  return 0;
}

function withoutCluster(state: DeviceContext['state']): DeviceContext['state'] {
  const { [CLUSTER]: _gone, ...rest } = state;
  return rest as DeviceContext['state'];
}
