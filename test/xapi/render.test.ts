import { describe, expect, it } from 'vitest';
import { render, renderFeedback } from '../../src/xapi/render.js';
import type { Reply } from '../../src/xapi/reply.js';

/** Golden outputs for each reply kind in the three modes (§3). */

const configGet: Reply = {
  kind: 'config',
  lines: [
    { path: ['License', 'Smart', 'ReservationEnable'], value: 'Off', quoted: false },
    { path: ['License', 'Smart', 'Transport', 'Mode'], value: 'Direct', quoted: false },
    { path: ['SystemUnit', 'Name'], value: 'lab "1"', quoted: true },
    { path: ['License', 'Smart', 'Transport', 'Proxy', 'Port'], value: 3128, quoted: false },
  ],
};

const statusGet: Reply = {
  kind: 'status',
  tree: {
    License: {
      Smart: {
        Enabled: 'True',
        Registration: { Status: 'Unregistered' },
        Evaluation: { DaysRemaining: 90 },
        Entitlement: [
          { id: 1, Tag: 'regid.a', Count: 4 },
          { id: 2, Tag: 'regid.b', Count: 1 },
        ],
      },
    },
  },
};

const requestOk: Reply = {
  kind: 'result',
  name: 'LicenseSmartReservationRequestResult',
  status: 'OK',
  text: ['Enter the following reservation request code into the CSSM:', 'CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcjf-AE'],
  fields: { RequestCode: 'CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcjf-AE' },
};

const clockOk: Reply = { kind: 'result', name: 'SimulatorClockAdvanceResult', status: 'OK', fields: { Time: '2026-03-01T10:15:00Z' } };
const cancelOk: Reply = { kind: 'result', name: 'LicenseSmartReservationCancelResult', status: 'OK' };

const installError: Reply = {
  kind: 'result',
  name: 'LicenseSmartReservationInstallResult',
  status: 'Error',
  reason: 'The authorization code does not match this product instance',
  code: 'reservation.udiMismatch',
  root: 'Command',
};

const badPath: Reply = {
  kind: 'result',
  name: 'Result',
  status: 'Error',
  reason: 'Unknown command',
  code: 'xapi.noMatch',
  xpath: '/Dila',
  root: 'Command',
};

const illegalValue: Reply = {
  kind: 'result',
  name: 'Result',
  status: 'Error',
  reason: "Invalid value 'Maybe' for License Smart ReservationEnable: expected On or Off.",
  code: 'xapi.badValue',
  root: 'Configuration',
  illegalValuePath: ['License', 'Smart', 'ReservationEnable'],
};

const statusError: Reply = {
  kind: 'result',
  name: 'Result',
  status: 'Error',
  reason: 'No match on address expression',
  code: 'xapi.noMatch',
  xpath: 'Status/Nope',
  root: 'Status',
};

const paramError: Reply = {
  kind: 'result',
  name: 'SimulatorClockAdvanceResult',
  status: 'ParameterError',
  reason: "Invalid value '60' for Minutes: expected an integer from 0 to 59.",
  code: 'xapi.badParameter',
  root: 'Command',
};

describe('terminal mode', () => {
  it.each<[string, Reply, string | undefined, string]>([
    [
      'configuration get',
      configGet,
      undefined,
      '*c xConfiguration License Smart ReservationEnable: Off\n*c xConfiguration License Smart Transport Mode: Direct\n*c xConfiguration SystemUnit Name: "lab \\"1\\""\n*c xConfiguration License Smart Transport Proxy Port: 3128\n\nOK\n',
    ],
    ['configuration set', { kind: 'set' }, undefined, '\nOK\n'],
    ['set with resultId', { kind: 'set' }, 'a1', '\n** resultId: "a1"\nOK\n'],
    [
      'status get',
      statusGet,
      undefined,
      '*s License: /\n    Smart:\n      Enabled: "True"\n      Registration:\n        Status: "Unregistered"\n      Evaluation:\n        DaysRemaining: 90\n      Entitlement 1:\n        Tag: "regid.a"\n        Count: 4\n      Entitlement 2:\n        Tag: "regid.b"\n        Count: 1\n*s/end\n\nOK\n',
    ],
    [
      'command with seed wording',
      requestOk,
      undefined,
      'Enter the following reservation request code into the CSSM:\nCB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcjf-AE\n\nOK\n',
    ],
    ['command with a result block', clockOk, undefined, '*r SimulatorClockAdvanceResult (status=OK):\n    Time: "2026-03-01T10:15:00Z"\n*r/end\n\nOK\n'],
    ['command with nothing to say', cancelOk, undefined, '\nOK\n'],
    [
      'command failure',
      installError,
      '7',
      '*r LicenseSmartReservationInstallResult (status=Error):\n    Reason: "The authorization code does not match this product instance"\n    Code: "reservation.udiMismatch"\n*r/end\n\n** resultId: "7"\nERROR\n',
    ],
    [
      'bad path',
      badPath,
      undefined,
      '*r Result (status=Error):\n    Reason: "Unknown command"\n    XPath: "/Dila"\n    Code: "xapi.noMatch"\n*r/end\n\nERROR\n',
    ],
    [
      'parameter error',
      paramError,
      undefined,
      '*r SimulatorClockAdvanceResult (status=ParameterError):\n    Reason: "Invalid value \'60\' for Minutes: expected an integer from 0 to 59."\n    Code: "xapi.badParameter"\n*r/end\n\nERROR\n',
    ],
    ['unknown verb', { kind: 'notRecognized' }, 'x', 'Command not recognized.\n'],
    ['help', { kind: 'help', lines: ['*? xConfiguration SystemUnit Name: <S: 0, 50>'] }, undefined, '*? xConfiguration SystemUnit Name: <S: 0, 50>\n\nOK\n'],
    ['usage', { kind: 'help', lines: ['*? xCommand X', '    Y(r): <S: 1, 2>'], error: true }, undefined, '*? xCommand X\n    Y(r): <S: 1, 2>\n\nERROR\n'],
    ['feedback list', { kind: 'feedbackList', paths: ['/Status/License'] }, undefined, '/Status/License\n** end\n\nOK\n'],
    ['silent', { kind: 'silent' }, undefined, ''],
  ])('%s', (_name, reply, resultId, expected) => {
    expect(render('terminal', reply, resultId)).toBe(expected);
  });

  it('never emits a carriage return', () => {
    for (const r of [configGet, statusGet, requestOk, installError]) expect(render('terminal', r, 'x')).not.toContain('\r');
  });
});

describe('json mode', () => {
  it.each<[string, Reply, string | undefined, string]>([
    [
      'configuration get',
      configGet,
      '2',
      '{\n"Configuration":{"License":{"Smart":{"ReservationEnable":{"Value":"Off"},"Transport":{"Mode":{"Value":"Direct"},"Proxy":{"Port":{"Value":"3128"}}}}},"SystemUnit":{"Name":{"Value":"lab \\"1\\""}}},\n"ResultId":"2"\n}\n',
    ],
    ['set', { kind: 'set' }, '3', '{\n"ResultId":"3"\n}\n'],
    ['set without resultId', { kind: 'set' }, undefined, '{\n}\n'],
    [
      'status get',
      statusGet,
      '4',
      '{\n"Status":{"License":{"Smart":{"Enabled":{"Value":"True"},"Registration":{"Status":{"Value":"Unregistered"}},"Evaluation":{"DaysRemaining":{"Value":"90"}},"Entitlement":[{"id":"1","Tag":{"Value":"regid.a"},"Count":{"Value":"4"}},{"id":"2","Tag":{"Value":"regid.b"},"Count":{"Value":"1"}}]}}},\n"ResultId":"4"\n}\n',
    ],
    [
      'command',
      requestOk,
      '1',
      '{\n"CommandResponse":{"LicenseSmartReservationRequestResult":{"status":"OK","RequestCode":{"Value":"CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcjf-AE"}}},\n"ResultId":"1"\n}\n',
    ],
    [
      'command failure',
      installError,
      '5',
      '{\n"CommandResponse":{"LicenseSmartReservationInstallResult":{"status":"Error","Reason":{"Value":"The authorization code does not match this product instance"},"ErrorCode":{"Value":"reservation.udiMismatch"}}},\n"ResultId":"5"\n}\n',
    ],
    [
      'bad path keeps XPath inside the result',
      badPath,
      '6',
      '{\n"CommandResponse":{"Result":{"status":"Error","Reason":{"Value":"Unknown command"},"XPath":{"Value":"/Dila"},"ErrorCode":{"Value":"xapi.noMatch"}}},\n"ResultId":"6"\n}\n',
    ],
    [
      'illegal configuration value',
      illegalValue,
      '7',
      '{\n"Configuration":{"License":{"Smart":{"ReservationEnable":{"error":"True","Value":"Invalid value \'Maybe\' for License Smart ReservationEnable: expected On or Off."}}}},\n"ResultId":"7"\n}\n',
    ],
    [
      'status error',
      statusError,
      '8',
      '{\n"Status":{"status":"Error","Reason":{"Value":"No match on address expression"},"XPath":{"Value":"Status/Nope"},"ErrorCode":{"Value":"xapi.noMatch"}},\n"ResultId":"8"\n}\n',
    ],
    [
      'parameter error',
      paramError,
      '9',
      '{\n"CommandResponse":{"SimulatorClockAdvanceResult":{"status":"ParameterError","Reason":{"Value":"Invalid value \'60\' for Minutes: expected an integer from 0 to 59."},"ErrorCode":{"Value":"xapi.badParameter"}}},\n"ResultId":"9"\n}\n',
    ],
    ['unknown verb is still the plain line', { kind: 'notRecognized' }, '1', 'Command not recognized.\n'],
    ['output mode switch prints nothing', { kind: 'silent' }, undefined, ''],
  ])('%s', (_name, reply, resultId, expected) => {
    const out = render('json', reply, resultId);
    expect(out).toBe(expected);
    if (out.startsWith('{')) expect(() => JSON.parse(out)).not.toThrow();
  });
});

describe('xml mode', () => {
  it.each<[string, Reply, string | undefined, string]>([
    [
      'status get',
      statusGet,
      'r1',
      '<XmlDoc resultId="r1">\n  <Status>\n    <License>\n      <Smart>\n        <Enabled>True</Enabled>\n        <Registration>\n          <Status>Unregistered</Status>\n        </Registration>\n        <Evaluation>\n          <DaysRemaining>90</DaysRemaining>\n        </Evaluation>\n        <Entitlement item="1">\n          <Tag>regid.a</Tag>\n          <Count>4</Count>\n        </Entitlement>\n        <Entitlement item="2">\n          <Tag>regid.b</Tag>\n          <Count>1</Count>\n        </Entitlement>\n      </Smart>\n    </License>\n  </Status>\n</XmlDoc>\n',
    ],
    [
      'configuration get',
      { kind: 'config', lines: [{ path: ['SystemUnit', 'Name'], value: 'a<b', quoted: true }] },
      undefined,
      '<XmlDoc resultId="">\n  <Configuration>\n    <SystemUnit>\n      <Name>a&lt;b</Name>\n    </SystemUnit>\n  </Configuration>\n</XmlDoc>\n',
    ],
    ['set', { kind: 'set' }, '3', '<XmlDoc resultId="3">\n</XmlDoc>\n'],
    [
      'command',
      clockOk,
      '4',
      '<XmlDoc resultId="4">\n  <CommandResponse>\n    <SimulatorClockAdvanceResult status="OK">\n      <Time>2026-03-01T10:15:00Z</Time>\n    </SimulatorClockAdvanceResult>\n  </CommandResponse>\n</XmlDoc>\n',
    ],
    [
      'command failure',
      installError,
      undefined,
      '<XmlDoc resultId="">\n  <CommandResponse>\n    <LicenseSmartReservationInstallResult status="Error">\n      <Reason>The authorization code does not match this product instance</Reason>\n      <ErrorCode>reservation.udiMismatch</ErrorCode>\n    </LicenseSmartReservationInstallResult>\n  </CommandResponse>\n</XmlDoc>\n',
    ],
  ])('%s', (_name, reply, resultId, expected) => {
    expect(render('xml', reply, resultId)).toBe(expected);
  });
});

describe('feedback', () => {
  const ev = { kind: 'config' as const, lines: [{ path: ['SystemUnit', 'Name'], value: 'x', quoted: true }] };
  it('terminal: the changed lines then ** end', () => {
    expect(renderFeedback('terminal', ev)).toBe('*c xConfiguration SystemUnit Name: "x"\n** end\n');
  });
  it('json: the object without ResultId', () => {
    expect(renderFeedback('json', ev)).toBe('{\n"Configuration":{"SystemUnit":{"Name":{"Value":"x"}}}\n}\n');
  });
  it('xml', () => {
    expect(renderFeedback('xml', ev)).toBe(
      '<XmlDoc>\n  <Configuration>\n    <SystemUnit>\n      <Name>x</Name>\n    </SystemUnit>\n  </Configuration>\n</XmlDoc>\n',
    );
  });
});
