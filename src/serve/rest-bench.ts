import { Device } from '../device/device.js';
import { deviceModel } from '../device/subsystems.js';
import { ensurePki } from '../pki/pki.js';
import { type RestServer, startRestServer } from './rest.js';

/**
 * What `node bench/rest.js` loads (dist/rest-bench.cjs): the REST server of a home,
 * in-process, so that the benchmark measures the server rather than a process start. The
 * device has no link to the CSSM: the benchmark reads status only.
 */
export async function startBenchRestServer(opts: { home: string; password: string }): Promise<RestServer & { ca: string; cert: string; key: string }> {
  const model = deviceModel();
  const ctx = {
    home: opts.home,
    deviceName: 'expressway',
    io: { stderr: process.stderr },
    device: (name = 'expressway') => Device.open({ home: opts.home, name, model }),
  };
  const server = await startRestServer({ ctx, host: '127.0.0.1', port: 0, devices: ['expressway'], password: opts.password });
  const pki = await ensurePki(opts.home);
  // The benchmark's baseline server answers with the same certificate.
  return { ...server, ca: pki.rootCertPem, cert: pki.serverCertPem, key: pki.serverKeyPem };
}
