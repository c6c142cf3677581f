import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, tempHome } from '../helpers/exsh.js';
import { BANNER, PASSWORD, pythonWith, type Served, serve, skipReason, stopAll } from './helpers.js';

/**
 * paramiko and netmiko `cisco_tp`, unchanged, against `exsh serve --ssh` (§11,
 * notes/ssh-clients.md §2 and §5). Each script prints one JSON object of what it saw.
 * Skipped, saying why, where the python modules are not installed.
 */

const CLIENTS = fileURLToPath(new URL('./clients/', import.meta.url));
const paramikoPy = pythonWith(['paramiko']);
const netmikoPy = pythonWith(['netmiko']);
const noParamiko = skipReason('the paramiko tests', paramikoPy === undefined, 'python3-paramiko');
const noNetmiko = skipReason('the netmiko cisco_tp tests', netmikoPy === undefined, 'python3-netmiko');

let s: Served;
beforeAll(async () => {
  if (noParamiko && noNetmiko) return;
  s = await serve(tempHome());
});
afterAll(async () => {
  await stopAll();
  cleanHomes();
});

function runPython(python: string, script: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [`${CLIENTS}${script}`, String(s.port), PASSWORD], { env: cleanEnv() as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as Record<string, unknown>);
      } catch (e) {
        reject(new Error(`${script} printed ${JSON.stringify(stdout)}: ${(e as Error).message}; stderr ${stderr}`));
      }
    });
  });
}

const PRODUCT = '*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n';
const crlf = (s: string) => s.replace(/\n/g, '\r\n');

describe('paramiko', () => {
  it.skipIf(noParamiko)('invoke_shell (pty), a shell without a pty, exec_command, three execs at once, keyboard-interactive', async () => {
    const r = await runPython(paramikoPy ?? 'python3', 'paramiko_client.py');
    expect(r.banner).toBe(crlf(BANNER));
    // What scripts send (LF) and what terminals send (CR): both echoed and answered, in CRLF.
    expect(r.lf).toBe(crlf(`xStatus SystemUnit Product\n${PRODUCT}`));
    expect(r.cr).toBe(crlf(`xStatus SystemUnit Product\n${PRODUCT}`));
    // A line wider than the terminal is one request.
    expect(r.long).toMatch(/^xStatus SystemUnit Product {170}\| resultId="r{20}"\r\n\*s SystemUnit: \/\r\n.*\*\* resultId: "r{20}"\r\nOK\r\n$/s);
    expect(r.shell_exit).toBe(0);
    expect(r.nopty).toBe(PRODUCT);
    expect(r.nopty_exit).toBe(0);
    expect(r.exec).toBe(PRODUCT);
    expect(r.exec_exit).toBe(0);
    expect([r.exec_bad_tail, r.exec_bad_exit]).toEqual(['ERROR', 1]);
    expect(r.exec_tsh).toBe(`${BANNER}${PRODUCT}`);
    expect(r.exec_tsh_exit).toBe(0);
    expect(r.exec_eof_exit).toBe(0);
    expect(r.exec_pty).toBe(crlf(PRODUCT));
    expect(r.parallel).toEqual([
      ['\nOK\n', 0],
      ['\nOK\n', 0],
      ['\nOK\n', 0],
    ]);
    expect(r.interactive_prompts).toEqual([[['Password: ', false]]]);
    expect(r.interactive_ok).toBe(true);
  });
});

describe('netmiko cisco_tp', () => {
  it.skipIf(noNetmiko)(
    'send_command: status, a configuration set and get, ERROR, Command not recognized., and a reservation request code',
    async () => {
      const r = await runPython(netmikoPy ?? 'python3', 'netmiko_client.py');
      // netmiko strips the echoed command; what is left is the reply (a device's, too).
      expect(String(r.status).trim()).toBe(PRODUCT.trim());
      expect(String(r.set).trim()).toBe('OK');
      expect(String(r.get).trim()).toBe('*c xConfiguration SystemUnit Name: "netmiko"\n\nOK');
      expect(String(r.error)).toMatch(
        /^\*r Result \(status=Error\):\n {4}Reason: "Invalid value 'Maybe' for License Smart ReservationEnable: expected On or Off\."\n.*\nERROR\n?$/s,
      );
      expect(String(r.unknown).trim()).toBe('Command not recognized.');
      expect(String(r.enable).trim()).toBe('OK');
      expect(String(r.request)).toContain('Enter the following reservation request code into the CSSM:\n');
      expect(r.code).toMatch(/^CB-PExpressway,S[0-9A-F]{8},V1\.0,H[0-9a-f]{8}-A[1-9A-HJ-NP-Za-km-z]{8}-[0-9A-F]{2}$/);
      console.log(`netmiko ${String(r.version)} drove exsh serve --ssh`);
    },
    120_000,
  );
});
