import { afterAll, describe, expect, it } from 'vitest';
import type { Session } from '../../src/shell/session.js';
import { cleanHomes, testDevice } from '../device/helpers.js';
import { parseRequest } from '../../src/xapi/parser.js';
import { CommandTree, enumSpace, stringSpace } from '../../src/xapi/schema.js';

/** Sessions in-process (§2.5, §2.6, §4, §5.4): help, feedback, secrets, the clock and evaluation. */

afterAll(cleanHomes);

async function session(now = '2026-03-01T10:00:00Z'): Promise<Session> {
  return (await testDevice({ now: new Date(now), seed: 's' })).session;
}

async function run(s: Session, ...lines: string[]): Promise<string> {
  let out = '';
  for (const line of lines) out += await s.text({ line });
  return out;
}

describe('help (§2.5)', () => {
  it('? lists the verbs', async () => {
    expect(await run(await session(), '?')).toBe(
      '- User Commands -\n\nxconfiguration  xcommand        xstatus         xpreferences\nxfeedback       echo            help            bye\nexit            factory-reset\n\nOK\n',
    );
  });

  it('xCommand ? and xStatus ? list the top-level nodes', async () => {
    const s = await session();
    expect(await run(s, 'xCommand ?')).toBe('- User Commands -\n\nLicense         ServiceSelect   OptionKey       Simulator\nBoot\n\nOK\n');
    expect(await run(s, 'xStatus ?')).toBe(
      '- Status -\n\nSystemUnit      License         OptionKey       Alarm\nFactoryReset    ResourceUsage   Cluster\n\nOK\n',
    );
    expect(await run(s, 'xConfiguration ?')).toBe('- User Configurations -\n\nSystemUnit      IP              License         Services\n\nOK\n');
  });

  it('a subtree ? shows value spaces; a command ? its parameters', async () => {
    const s = await session();
    expect(await run(s, 'xconf lic sm transp prox ?')).toBe(
      [
        '*? xConfiguration License Smart Transport Proxy Address: <S: 0, 1024>',
        '*? xConfiguration License Smart Transport Proxy Port: <1..65535>',
        '*? xConfiguration License Smart Transport Proxy Username: <S: 0, 128>',
        '*? xConfiguration License Smart Transport Proxy Password: <S: 0, 128>',
        '',
        'OK',
        '',
      ].join('\n'),
    );
    expect(await run(s, 'xcommand simulator clock advance ?')).toBe(
      '*? xCommand Simulator Clock Advance  (simulator control, not part of Expressway)\n    Days: <0..3650>\n    Hours: <0..23>\n    Minutes: <0..59>\n\nOK\n',
    );
    expect(await run(s, 'xpreferences ?')).toBe('xpreferences usage:\n  xpreferences outputmode <terminal/xml/json>\n\nOK\n');
  });

  it('xStatus <path> ? lists the leaves', async () => {
    expect(await run(await session(), 'xStatus SystemUnit UDI ?')).toBe(
      '*? xStatus SystemUnit UDI ProductId\n*? xStatus SystemUnit UDI SerialNumber\n*? xStatus SystemUnit UDI VersionId\n*? xStatus SystemUnit UDI HostIdentifier\n\nOK\n',
    );
  });
});

describe('configuration (§4)', () => {
  it('never prints the proxy password back', async () => {
    const s = await session();
    expect(await run(s, 'xConfiguration License Smart Transport Proxy Password')).toBe('*c xConfiguration License Smart Transport Proxy Password: ""\n\nOK\n');
    await run(s, 'xConfiguration License Smart Transport Proxy Password: "s3cret"');
    const all = await run(s, 'xConfiguration', 'xConfiguration License Smart Transport Proxy');
    expect(all).toContain('*c xConfiguration License Smart Transport Proxy Password: "********"');
    expect(all).not.toContain('s3cret');
    s.mode = 'json';
    expect(await run(s, 'xConfiguration License Smart Transport Proxy Password | resultId="p"')).not.toContain('s3cret');
  });

  it('a rejected value changes nothing', async () => {
    const s = await session();
    await run(s, 'xConfiguration License Smart Transport Proxy Port: 8080');
    expect(await run(s, 'xConfiguration License Smart Transport Proxy Port: 70000')).toContain('ERROR');
    expect(await run(s, 'xConfiguration License Smart Transport Proxy Port')).toBe('*c xConfiguration License Smart Transport Proxy Port: 8080\n\nOK\n');
    expect(s.failures).toBe(1);
  });
});

describe('feedback (§2.6)', () => {
  it('pushes changed configuration leaves after the reply, then stops after deregister', async () => {
    const s = await session();
    expect(await run(s, 'xFeedback register /Configuration/SystemUnit')).toBe('\nOK\n');
    expect(await run(s, 'xFeedback list')).toBe('/Configuration/SystemUnit\n** end\n\nOK\n');
    expect(await run(s, 'xConfiguration SystemUnit Name: "fb"')).toBe('\nOK\n*c xConfiguration SystemUnit Name: "fb"\n** end\n');
    // A change elsewhere is not reported.
    expect(await run(s, 'xConfiguration License Smart Transport Mode: Proxy')).toBe('\nOK\n');
    await run(s, 'xFeedback deregister /Configuration/SystemUnit');
    expect(await run(s, 'xConfiguration SystemUnit Name: "fb2"')).toBe('\nOK\n');
  });

  it('pushes a registered status subtree in JSON without a ResultId', async () => {
    const s = await session();
    s.mode = 'json';
    expect(await run(s, 'xfeedback register /status/license/smart/reservation | resultId="1"')).toBe('{\n"ResultId":"1"\n}\n');
    const out = await run(s, 'xConfiguration License Smart ReservationEnable: On | resultId="2"');
    expect(out).toBe(
      '{\n"ResultId":"2"\n}\n{\n"Status":{"License":{"Smart":{"Reservation":{"Enabled":{"Value":"On"},"Status":{"Value":"Not Reserved"},"Type":{"Value":""},"RequestCode":{"Value":""},"LastConfirmationCode":{"Value":""},"LastReturnCode":{"Value":""},"InstalledAt":{"Value":""}}}}}\n}\n',
    );
    await run(s, 'xfeedback deregisterall');
    expect(await run(s, 'xfeedback list | resultId="3"')).toBe('{\n"CommandResponse":{"FeedbackListResult":{"status":"OK","Path":[]}},\n"ResultId":"3"\n}\n');
  });
});

describe('clock and evaluation (§5.4)', () => {
  it('Advance and Set move the simulated clock; Set refuses to go back', async () => {
    const s = await session();
    expect(await run(s, 'xCommand Simulator Clock Advance Days: 1 Hours: 2 Minutes: 3')).toContain('Time: "2026-03-02T12:03:00Z"');
    expect(await run(s, 'xCommand Simulator Clock Set Time: "2026-04-01T00:00:00Z"')).toContain('Time: "2026-04-01T00:00:00Z"');
    const back = await run(s, 'xCommand Simulator Clock Set Time: "2026-01-01T00:00:00Z"');
    expect(back).toContain('Code: "clock.backwards"');
    expect(await run(s, 'xStatus SystemUnit Time')).toContain('Time: "2026-04-01T00:00:00Z"');
    expect(await run(s, 'xStatus SystemUnit Uptime')).toContain('Uptime: 2642400');
  });

  it('the 90-day evaluation counts down, then expires', async () => {
    const s = await session();
    expect(await run(s, 'xStatus License Smart Evaluation DaysRemaining')).toContain('DaysRemaining: 90');
    expect(await run(s, 'xStatus License Smart Authorization Status')).toContain('Status: "Evaluation Mode"');
    // The evaluation counts only while licences are in use (§9.3).
    await run(s, 'xCommand Simulator Clock Advance Days: 30');
    expect(await run(s, 'xStatus License Smart Evaluation')).toContain('DaysRemaining: 90\n        Status: "Not In Use"');
    await run(s, 'xCommand Simulator Traffic Set VideoCalls: 1');
    expect(await run(s, 'xStatus License Smart Evaluation Status')).toContain('Status: "In Use"');
    await run(s, 'xCommand Simulator Clock Advance Days: 89 Hours: 12');
    expect(await run(s, 'xStatus License Smart Evaluation DaysRemaining')).toContain('DaysRemaining: 1');
    await run(s, 'xCommand Simulator Clock Advance Hours: 12');
    expect(await run(s, 'xStatus License Smart Evaluation')).toBe(
      '*s License: /\n    Smart:\n      Evaluation:\n        DaysRemaining: 0\n        Status: "Expired"\n*s/end\n\nOK\n',
    );
    expect(await run(s, 'xStatus License Smart Authorization Status')).toContain('Status: "Evaluation Expired"');
  });
});

describe('repeated keys (§2.2)', () => {
  it('an array parameter collects every value in order', () => {
    const tree = new CommandTree();
    tree.addCommand({
      path: ['User', 'Add'],
      help: 'test',
      mutates: false,
      params: [
        { name: 'Role', space: enumSpace('Admin', 'User', 'Audit'), multiple: true },
        { name: 'Username', space: stringSpace(1, 10), required: true },
      ],
      handler: () => ({}),
    });
    const r = parseRequest(tree, { line: 'xCommand User Add Role: "Admin" Role: user Username: "u"' }).request;
    expect(r.verb === 'command' && r.params).toEqual({ Role: ['Admin', 'User'], Username: 'u' });
  });
});

describe('xml mode', () => {
  it('switches with xPreferences and wraps replies in XmlDoc', async () => {
    const s = await session();
    expect(await run(s, 'xPreferences OutputMode xml')).toBe('');
    expect(await run(s, 'xStatus SystemUnit Product | resultId="x"')).toBe(
      '<XmlDoc resultId="x">\n  <Status>\n    <SystemUnit>\n      <Product>Cisco Expressway-C</Product>\n    </SystemUnit>\n  </Status>\n</XmlDoc>\n',
    );
  });
});
