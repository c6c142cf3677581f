import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader, MAX_REQUEST_BYTES } from '../../src/shell/framing.js';
import { cleanHomes, testDevice } from '../device/helpers.js';

/** What new users, scripts and terminal clients tripped over, in-process. */

afterEach(cleanHomes);

describe('xPreferences OutputMode', () => {
  it('terminal replies with a blank line and OK (a driver waits for it); json and xml reply nothing', async () => {
    const d = await testDevice({ mode: 'json' });
    expect(await d.run('xPreferences OutputMode terminal')).toBe('\nOK\n');
    expect(await d.run('xPreferences OutputMode terminal')).toBe('\nOK\n');
    expect(await d.run('xPreferences OutputMode json')).toBe('');
    expect(await d.run('xPreferences OutputMode xml')).toBe('');
  });
});

describe('help inside the shell', () => {
  it('factory-reset ? is help, ending in OK', async () => {
    const d = await testDevice();
    const out = await d.run('factory-reset ?');
    expect(out).toMatch(/^Usage: factory-reset \[options\]\n/);
    expect(out).toContain('--keep <list>');
    expect(out.endsWith('\n\nOK\n')).toBe(true);
  });

  it('xFeedback ? ends in OK as xPreferences ? does', async () => {
    const d = await testDevice();
    expect(await d.run('xFeedback ?')).toBe(
      'xfeedback usage:\n  xfeedback register <path>      for example /Status/License/Smart or /Configuration/SystemUnit\n  xfeedback deregister <path>\n  xfeedback deregisterall\n  xfeedback list\n\nOK\n',
    );
    expect(await d.run('xFeedback')).toContain('\n\nOK\n');
    expect((await d.run('xPreferences ?')).endsWith('\n\nOK\n')).toBe(true);
  });
});

describe('the simulated clock', () => {
  it('stops at the end of year 9999: moving it further is refused and every status stays valid', async () => {
    const d = await testDevice();
    await d.run('xCommand Simulator Traffic Set VideoCalls: 1');
    await d.run('xCommand Simulator Clock Set Time: "9999-12-01T00:00:00Z"');
    const refused = await d.run('xCommand Simulator Clock Advance Days: 3650');
    expect(refused).toContain('Reason: "The simulated clock cannot go past 9999-12-31T23:59:59Z (it is 9999-12-01T00:00:00Z now)."');
    expect(refused).toContain('Code: "clock.outOfRange"');
    expect(await d.run('xStatus SystemUnit Time')).toContain('Time: "9999-12-01T00:00:00Z"');
    expect(await d.run('xCommand Simulator Clock Advance Days: 30')).toContain('Time: "9999-12-31T00:00:00Z"');
    expect(await d.run('xStatus License Smart Evaluation')).toContain('DaysRemaining: 0');
  });

  it('a clock pinned before the device was created shows the whole evaluation period, not more', async () => {
    const home = (await testDevice({ now: new Date('2026-06-01T00:00:00Z') })).home;
    const early = await testDevice({ home, now: new Date('2019-01-01T00:00:00Z') });
    expect(await early.run('xStatus License Smart Evaluation DaysRemaining')).toContain('DaysRemaining: 90');
  });
});

describe('the proxy password', () => {
  const password = 's3cret-Pa55';

  it('is never echoed by an error: too long, no colon, quoted or bare', async () => {
    const d = await testDevice();
    const lines = [
      `xConfiguration License Smart Transport Proxy Password: "${password}${'x'.repeat(200)}"`,
      `xConfiguration License Smart Transport Proxy Password "${password}"`,
      `xConfiguration License Smart Transport Proxy Password ${password}`,
    ];
    for (const line of lines) {
      const out = await d.run(line);
      expect({ line, error: out.endsWith('ERROR\n'), leaked: out.includes(password) }).toEqual({ line, error: true, leaked: false });
    }
  });

  it('is masked when the session echoes the line', async () => {
    const d = await testDevice();
    await d.run('echo on');
    const out = await d.run(`xConfiguration License Smart Transport Proxy Password: "${password}"`);
    expect(out).toBe('xConfiguration License Smart Transport Proxy Password: "********"\n\nOK\n');
    expect(d.session.redact(`xconf lic sm transp prox pass:${password}`)).toBe('xconf lic sm transp prox pass: "********"');
    expect(d.session.redact('xConfiguration SystemUnit Name: "open"')).toBe('xConfiguration SystemUnit Name: "open"');
  });
});

describe('framing limits', () => {
  const reader = () => new FrameReader((line) => line === 'xCommand Install');

  it('a line over the limit, in many chunks, is refused once and skipped; the next line runs', () => {
    const r = reader();
    const items = [];
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let sent = 0; sent < MAX_REQUEST_BYTES * 3; sent += chunk.length) items.push(...r.push(chunk));
    items.push(...r.push('tail of it\nxStatus SystemUnit\n'));
    expect(items).toEqual([
      { error: `The request line is longer than ${MAX_REQUEST_BYTES} bytes, the most a request may be; it was ignored.`, code: 'xapi.tooLong', line: '' },
      { line: 'xStatus SystemUnit' },
    ]);
  });

  it('a {N} frame over the limit is refused and its payload skipped, never run as lines', () => {
    const r = reader();
    const n = MAX_REQUEST_BYTES + 10;
    const payload = `${'xConfiguration SystemUnit Name: "x"\n'.repeat(Math.ceil(n / 36))}`.slice(0, n);
    const items = [...r.push(`{${n}}\n`), ...r.push(payload), ...r.push('bye\n')];
    expect(items.map((i) => ('error' in i ? i.code : i.line))).toEqual(['xapi.tooLong', 'bye']);
  });

  it('a pasted body over the limit is refused at its end; the next command runs', () => {
    const r = reader();
    const items = [...r.push('xCommand Install\n')];
    for (let i = 0; i < 40; i++) items.push(...r.push(`${'b'.repeat(32 * 1024)}\n`));
    items.push(...r.push('.\nxStatus SystemUnit\n'));
    expect(items.map((i) => ('error' in i ? i.code : i.line))).toEqual(['xapi.tooLong', 'xStatus SystemUnit']);
  });
});

describe('hostile authorization codes', () => {
  it('XML names that are object properties, or nesting without end, are parse errors with a stable code', async () => {
    const d = await testDevice();
    await d.run('xConfiguration License Smart ReservationEnable: On');
    await d.run('xCommand License Smart Reservation Request');
    for (const code of [
      '<specificPLR><__proto__>x</__proto__></specificPLR>',
      '<specificPLR><constructor/></specificPLR>',
      `<specificPLR>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</specificPLR>`,
    ]) {
      const out = await d.session.text({ line: 'xCommand License Smart Reservation Install', body: code });
      expect(out).toMatch(
        /^\*r LicenseSmartReservationInstallResult \(status=Error\):\n {4}Reason: "The SLR authorization code is malformed: [^"]+"\n {4}Code: "reservation\.parse"\n/,
      );
    }
  });
});
