import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, tempHome } from '../helpers/exsh.js';

/**
 * Clusters (§10) through real processes: the Expressway documentation's two-node example
 * (10 Rich Media Sessions + 10 desktop registrations each; the 11th call on node 1
 * borrows one from node 2), concurrent traffic on two peers, and every refusal.
 */

afterEach(cleanHomes);

const at = (home: string, device: string, ...lines: string[]) =>
  runExsh(['--home', home, '--now', NOW, '--device', device, ...lines.flatMap((l) => ['-c', l])]);
const exsh = (home: string, ...args: string[]) => runExsh(['--home', home, '--now', NOW, ...args]);

/** Reserves 10 RMS + 10 desktop registrations for a device through the CSSM, as an operator would. */
async function reserved(home: string, device: string): Promise<void> {
  const req = await at(home, device, 'xConfiguration License Smart ReservationEnable: On', 'xCommand License Smart Reservation Request');
  const request = /^(CB-\S+)$/m.exec(req.stdout)?.[1] ?? '';
  const file = join(home, `${device}.xml`);
  const r = await exsh(
    home,
    'cssm',
    'reserve',
    '--request',
    request,
    '--license',
    'Expressway Rich Media Session=10',
    '--license',
    'Expressway Desktop Registration=10',
    '--out',
    file,
  );
  expect(r.exitCode).toBe(0);
  const { readFileSync } = await import('node:fs');
  const install = await at(home, device, `xCommand License Smart Reservation Install "${readFileSync(file, 'utf8').trim()}"`);
  expect(install.stdout).toContain('Authorization code installed.');
}

function num(text: string, name: string): number {
  return Number(new RegExp(`\\b${name}: (\\d+)`).exec(text)?.[1]);
}

async function licences(home: string, device: string) {
  const out = (await at(home, device, 'xStatus Cluster Licenses RichMediaSession')).stdout;
  return { installed: num(out, 'Installed'), inUse: num(out, 'InUse'), borrowed: num(out, 'Borrowed'), lent: num(out, 'Lent'), reported: num(out, 'Reported') };
}

describe('exsh cluster', () => {
  it("the documentation's example: the 11th call on node 1 borrows one licence from node 2, only then; node 1 using 20 reports 10", async () => {
    const home = tempHome();
    await reserved(home, 'node1');
    await reserved(home, 'node2');
    const made = await exsh(home, 'cluster', 'create', 'lab', '--peers', 'node1,node2');
    expect(made).toMatchObject({ exitCode: 0, stdout: "Created cluster 'lab' of 2 peers: node1, node2 (primary node1).\n" });
    const status = (await at(home, 'node2', 'xStatus Cluster')).stdout;
    expect(status).toContain('Enabled: "True"\n    Name: "lab"\n    Role: "Peer"');

    await at(home, 'node1', 'xCommand Simulator Traffic Set VideoCalls: 10');
    expect(await licences(home, 'node1')).toEqual({ installed: 10, inUse: 10, borrowed: 0, lent: 0, reported: 10 });
    await at(home, 'node1', 'xCommand Simulator Traffic Set VideoCalls: 11');
    expect(await licences(home, 'node1')).toEqual({ installed: 10, inUse: 11, borrowed: 1, lent: 0, reported: 10 });
    expect(await licences(home, 'node2')).toEqual({ installed: 10, inUse: 0, borrowed: 0, lent: 1, reported: 0 });
    expect((await at(home, 'node1', 'xStatus License Smart Entitlement 1 Status')).stdout).toContain('Status: "Authorized"');

    await at(home, 'node1', 'xCommand Simulator Traffic Set VideoCalls: 20');
    expect(await licences(home, 'node1')).toEqual({ installed: 10, inUse: 20, borrowed: 10, lent: 0, reported: 10 });
    // Node 2 needs its own: its 4 calls take 4 back, and node 1's excess is no longer covered.
    await at(home, 'node2', 'xCommand Simulator Traffic Set VideoCalls: 4');
    expect(await licences(home, 'node2')).toEqual({ installed: 10, inUse: 4, borrowed: 0, lent: 6, reported: 4 });
    expect(await licences(home, 'node1')).toMatchObject({ borrowed: 6 });
    expect((await at(home, 'node1', 'xStatus License Smart Entitlement 1 Status')).stdout).toContain('Status: "Not Authorized"');

    const list = JSON.parse((await exsh(home, 'cluster', 'list', '--json')).stdout);
    expect(list).toEqual([{ name: 'lab', peers: ['node1', 'node2'], missing: [] }]);
    expect((await exsh(home, 'devices', 'remove', 'node2')).stderr).toContain('[device.inCluster]');
    expect((await exsh(home, 'cluster', 'remove', 'lab')).exitCode).toBe(0);
    expect(await licences(home, 'node1')).toMatchObject({ installed: Number.NaN });
    expect((await at(home, 'node1', 'xStatus Cluster Enabled')).stdout).toContain('Enabled: "False"');
  }, 60_000);

  it('concurrent traffic changes on two peers: no lost and no double borrowing', async () => {
    const home = tempHome();
    await reserved(home, 'a');
    await reserved(home, 'b');
    await exsh(home, 'cluster', 'create', 'pair', '--peers', 'a,b');
    const steps = Array.from({ length: 12 }, (_, i) => i);
    await Promise.all([
      ...steps.map((i) => at(home, 'a', `xCommand Simulator Traffic Set VideoCalls: ${10 + (i % 7)}`)),
      ...steps.map((i) => at(home, 'b', `xCommand Simulator Traffic Set VideoCalls: ${3 + (i % 5)}`)),
    ]);
    const a = await licences(home, 'a');
    const b = await licences(home, 'b');
    // Whatever order they ran in, the loans match the final traffic: a borrows what it lacks, up to what b has unused.
    expect(a.borrowed).toBe(Math.min(Math.max(0, a.inUse - 10), Math.max(0, 10 - b.inUse)));
    expect(b.lent).toBe(a.borrowed);
    expect(a.lent).toBe(0);
    expect(b.borrowed).toBe(0);
  }, 90_000);

  it('a process killed in the middle of a borrowing leaves no partial loan', async () => {
    const home = tempHome();
    await reserved(home, 'a');
    await reserved(home, 'b');
    await exsh(home, 'cluster', 'create', 'pair', '--peers', 'a,b');
    const { spawnExsh } = await import('../helpers/exsh.js');
    for (let round = 0; round < 6; round++) {
      const lines = Array.from({ length: 400 }, (_, i) => `xCommand Simulator Traffic Set VideoCalls: ${8 + ((i + round) % 9)}`).join('\n');
      const child = spawnExsh(['--home', home, '--now', NOW, '--device', 'a'], { input: `${lines}\n` });
      await new Promise((r) => setTimeout(r, 60 + round * 40));
      child.kill('SIGKILL');
      await child.catch(() => undefined);
      const a = await licences(home, 'a');
      const b = await licences(home, 'b');
      expect(b.lent).toBe(a.borrowed);
      expect(a.borrowed).toBe(Math.max(0, a.inUse - 10));
    }
  }, 90_000);

  it('refusals: an unknown device, a VCS, one twice, more than 6, one in evaluation, one already clustered', async () => {
    const home = tempHome();
    await reserved(home, 'x');
    await reserved(home, 'y');
    await exsh(home, 'devices', 'create', 'vcs', '--brand', 'VCS');
    await exsh(home, 'devices', 'create', 'evaluating');
    const code = async (...args: string[]) => /\[([\w.]+)\]\n$/.exec((await exsh(home, 'cluster', 'create', ...args)).stderr)?.[1];
    expect(await code('c', '--peers', 'x,ghost')).toBe('cluster.unknownDevice');
    expect(await code('c', '--peers', 'x,vcs')).toBe('cluster.notLicensed');
    expect(await code('c', '--peers', 'x,x')).toBe('cluster.duplicatePeer');
    expect(await code('c', '--peers', 'a,b,c,d,e,f,g')).toBe('cluster.peerCount');
    expect(await code('c', '--peers', 'x')).toBe('cluster.peerCount');
    expect(await code('c', '--peers', 'x,evaluating')).toBe('cluster.notLicensed');
    expect(await code('c', '--peers', 'x,y')).toBeUndefined();
    await reserved(home, 'z');
    expect(await code('d', '--peers', 'z,y')).toBe('cluster.alreadyClustered');
    expect(JSON.parse((await exsh(home, 'cluster', 'list', '--json')).stdout)).toHaveLength(1);
    expect((await at(home, 'z', 'xStatus Cluster Enabled')).stdout).toContain('"False"');
  }, 60_000);
});
