// The SSH example of docs/testing.md, run as written (keep the two in step).
import { Client } from 'ssh2';
import { startDevice } from 'exsh/testing';
import { afterAll, expect, it } from 'vitest';

const device = await startDevice({ ssh: true, seed: '7', now: '2026-03-01T10:00:00Z' });
afterAll(() => device.stop());

it('answers xStatus over an SSH exec channel', async () => {
  const { host, port, username, password } = device.ssh ?? { host: '', port: 0, username: '', password: '' };
  const out = await new Promise<string>((resolve, reject) => {
    const conn = new Client();
    conn
      .on('ready', () =>
        conn.exec('xStatus SystemUnit Software Version', (err, stream) => {
          if (err) return reject(err);
          let text = '';
          stream
            .on('data', (d: Buffer) => (text += d))
            .on('close', () => {
              conn.end();
              resolve(text);
            });
        }),
      )
      .on('error', reject)
      .connect({ host, port, username, password });
  });
  expect(out).toContain('Version: "X14.2.7"');
  expect(out).toMatch(/\nOK\n$/);
});
