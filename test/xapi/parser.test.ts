import { describe, expect, it } from 'vitest';
import { deviceModel } from '../../src/device/subsystems.js';
import { lex } from '../../src/xapi/lexer.js';
import { parseRequest, RequestError } from '../../src/xapi/parser.js';
import type { ParamValues } from '../../src/xapi/schema.js';

const tree = deviceModel().tree;

describe('lexer', () => {
  const cases: [string, ReturnType<typeof lex>][] = [
    [
      'xStatus SystemUnit',
      {
        tokens: [
          { kind: 'word', text: 'xStatus' },
          { kind: 'word', text: 'SystemUnit' },
        ],
        resultId: undefined,
      },
    ],
    [
      'xConfiguration SystemUnit Name: "lab 1"',
      {
        tokens: [
          { kind: 'word', text: 'xConfiguration' },
          { kind: 'word', text: 'SystemUnit' },
          { kind: 'key', text: 'Name' },
          { kind: 'string', text: 'lab 1' },
        ],
        resultId: undefined,
      },
    ],
    [
      'x "a \\"b\\" \\\\c"',
      {
        tokens: [
          { kind: 'word', text: 'x' },
          { kind: 'string', text: 'a "b" \\c' },
        ],
        resultId: undefined,
      },
    ],
    ['x | resultId="r-1"', { tokens: [{ kind: 'word', text: 'x' }], resultId: 'r-1' }],
    ['x | resultid = "a \\"q\\""', { tokens: [{ kind: 'word', text: 'x' }], resultId: 'a "q"' }],
    [
      'x Minutes:5',
      {
        tokens: [
          { kind: 'word', text: 'x' },
          { kind: 'key', text: 'Minutes' },
          { kind: 'word', text: '5' },
        ],
        resultId: undefined,
      },
    ],
    [
      'x https://h/SmartTransport',
      {
        tokens: [
          { kind: 'word', text: 'x' },
          { kind: 'word', text: 'https://h/SmartTransport' },
        ],
        resultId: undefined,
      },
    ],
    [
      'x Name:"q"',
      {
        tokens: [
          { kind: 'word', text: 'x' },
          { kind: 'key', text: 'Name' },
          { kind: 'string', text: 'q' },
        ],
        resultId: undefined,
      },
    ],
    ['x ?', { tokens: [{ kind: 'word', text: 'x' }, { kind: 'query' }], resultId: undefined }],
    ['x sm?', { tokens: [{ kind: 'word', text: 'x' }, { kind: 'word', text: 'sm' }, { kind: 'query' }], resultId: undefined }],
    [
      'x "" y',
      {
        tokens: [
          { kind: 'word', text: 'x' },
          { kind: 'string', text: '' },
          { kind: 'word', text: 'y' },
        ],
        resultId: undefined,
      },
    ],
    [
      'x "a|b"',
      {
        tokens: [
          { kind: 'word', text: 'x' },
          { kind: 'string', text: 'a|b' },
        ],
        resultId: undefined,
      },
    ],
  ];
  it.each(cases)('%s', (line, expected) => {
    expect(lex(line)).toEqual(expected);
  });

  it.each([
    ['x "open', 'Unterminated quoted string'],
    ['x | foo', 'Invalid request tag'],
    ['x | resultId="a" extra', 'Invalid request tag'],
  ])('rejects %s', (line, message) => {
    expect(() => lex(line)).toThrow(message);
  });
});

function parse(line: string, body?: string) {
  return parseRequest(tree, { line, body });
}

function errorOf(line: string, body?: string): RequestError {
  try {
    parse(line, body);
  } catch (e) {
    if (e instanceof RequestError) return e;
    throw e;
  }
  throw new Error(`expected ${line} to fail`);
}

describe('verbs', () => {
  it.each([
    ['xConfiguration SystemUnit Name', 'configGet'],
    ['XCONFIGURATION systemunit NAME', 'configGet'],
    ['xconf sys na', 'configGet'],
    ['xcom Simulator Clock Advance Minutes: 1', 'command'],
    ['xstat SystemUnit', 'status'],
    ['xstatus', 'status'],
    ['?', 'help'],
    ['help', 'help'],
    ['bye', 'bye'],
    ['exit', 'bye'],
    ['echo off', 'echo'],
    ['xpref outputmode json', 'outputMode'],
    ['xPreferences OutputMode: JSON', 'outputMode'],
    ['xpreferences ?', 'preferencesHelp'],
    ['xfeedback register /Status/SystemUnit', 'feedback'],
    ['xfeedback list', 'feedback'],
    ['xfoo', 'notRecognized'],
    ['hello world', 'notRecognized'],
    ['factory-reset -t', 'factoryReset'],
  ])('%s → %s', (line, verb) => {
    expect(parse(line).request.verb).toBe(verb);
  });

  it('an ambiguous prefix lists the candidates', () => {
    const e = errorOf('xc SystemUnit');
    expect(e.code).toBe('xapi.ambiguous');
    expect(e.message).toBe("Ambiguous command 'xc': it could be xConfiguration, xCommand.");
  });

  it('carries the resultId', () => {
    expect(parse('xStatus SystemUnit | resultId="9"').resultId).toBe('9');
  });
});

describe('xConfiguration', () => {
  it('resolves abbreviated paths to canonical casing', () => {
    const r = parse('xconf lic sm transp mode').request;
    expect(r.verb === 'configGet' && r.path).toEqual(['License', 'Smart', 'Transport', 'Mode']);
  });

  it('sets with bare, quoted and case-folded enum values', () => {
    for (const line of [
      'xConfiguration License Smart Transport Mode: OnPrem',
      'xConfiguration License Smart Transport Mode: "OnPrem"',
      'xconfiguration license smart transport mode: onprem',
    ]) {
      const r = parse(line).request;
      expect(r.verb === 'configSet' && [r.leaf.path.join(' '), r.value]).toEqual(['License Smart Transport Mode', 'OnPrem']);
    }
  });

  it('parses integers', () => {
    const r = parse('xConfiguration License Smart Transport Proxy Port: 8080').request;
    expect(r.verb === 'configSet' && r.value).toBe(8080);
  });

  it.each([
    [
      'xConfiguration License Smart Transport Mode: Maybe',
      'xapi.badValue',
      "Invalid value 'Maybe' for License Smart Transport Mode: expected one of Direct, OnPrem or Proxy.",
    ],
    [
      'xConfiguration License Smart Transport Proxy Port: 0',
      'xapi.badValue',
      "Invalid value '0' for License Smart Transport Proxy Port: expected an integer from 1 to 65535.",
    ],
    [
      'xConfiguration License Smart Transport Proxy Port: 80a',
      'xapi.badValue',
      "Invalid value '80a' for License Smart Transport Proxy Port: expected an integer from 1 to 65535.",
    ],
    [
      `xConfiguration SystemUnit Name: "${'x'.repeat(51)}"`,
      'xapi.badValue',
      `Invalid value '${'x'.repeat(51)}' for SystemUnit Name: expected a string of at most 50 characters.`,
    ],
    ['xConfiguration SystemUnit Name:', 'xapi.missingValue', 'Missing value for SystemUnit Name: expected a string.'],
    ['xConfiguration SystemUnit Name: lab 1', 'xapi.syntax', 'Too many values for SystemUnit Name: put a value that contains spaces in double quotes.'],
    [
      'xConfiguration License Smart Transport OnPrem Url: "http://x/SmartTransport"',
      'xapi.badValue',
      "Invalid value 'http://x/SmartTransport' for License Smart Transport OnPrem Url: it must be https://<server>/SmartTransport, for example https://example.com/SmartTransport.",
    ],
    [
      'xConfiguration Foo: 1',
      'xapi.noMatch',
      "No match on address expression: 'Foo' is not under xConfiguration (expected SystemUnit, IP, License, Services).",
    ],
    ['xConfiguration License Smart: 1', 'xapi.noMatch', 'xConfiguration License Smart is not a setting: name one of ReservationEnable, Transport, Privacy.'],
  ])('%s', (line, code, message) => {
    const e = errorOf(line);
    expect([e.code, e.message]).toEqual([code, message]);
  });

  it('accepts the OnPrem SmartTransport URL', () => {
    expect(parse('xConfiguration License Smart Transport OnPrem Url: "https://sat.example.com/SmartTransport"').request.verb).toBe('configSet');
  });

  it('help for a subtree lists leaves', () => {
    const r = parse('xconf lic sm ?').request;
    expect(r.verb).toBe('configHelp');
  });
});

describe('xCommand', () => {
  function params(line: string, body?: string): ParamValues {
    const r = parse(line, body).request;
    if (r.verb !== 'command') throw new Error(`not a command: ${r.verb}`);
    return r.params;
  }

  it.each([
    ['xCommand Simulator Clock Advance Minutes: 5', { Minutes: 5 }],
    ['xcom sim clo adv min: 5 h: 2', { Minutes: 5, Hours: 2 }],
    ['xCommand Simulator Clock Advance Days:1', { Days: 1 }],
    ['xCommand Simulator Clock Set Time: "2026-01-01T00:00:00Z"', { Time: '2026-01-01T00:00:00Z' }],
    ['xCommand Simulator Clock Set 2026-01-01T00:00:00Z', { Time: '2026-01-01T00:00:00Z' }],
    ['xCommand Simulator Clock Set "2026-01-01T00:00:00Z"', { Time: '2026-01-01T00:00:00Z' }],
    ['xCommand Simulator Clock Advance', {}],
  ])('%s', (line, expected) => {
    expect(params(line)).toEqual(expected);
  });

  it('takes a code from a body', () => {
    expect(params('xCommand License Smart Reservation Install', 'CAbc-def')).toEqual({ AuthorizationCode: 'CAbc-def' });
    expect(params('xcom lic sm res returnauth | resultId="1"', '<x/>')).toEqual({ AuthorizationCode: '<x/>' });
  });

  it('only a code parameter takes a body', () => {
    const e = errorOf('xCommand Simulator Clock Set', '2026-01-01T00:00:00Z');
    expect([e.code, e.message]).toEqual(['xapi.badParameter', 'xCommand Simulator Clock Set takes no multi-line body.']);
  });

  it('prints usage for a command missing its required parameters', () => {
    const r = parse('xCommand Simulator Clock Set').request;
    expect(r.verb === 'commandHelp' && r.usage).toBe(true);
  });

  it.each([
    ['xCommand Simulator Clock Advance Minutes: 60', 'xapi.badParameter', "Invalid value '60' for Minutes: expected an integer from 0 to 59."],
    ['xCommand Simulator Clock Advance Minutes: 1 Minutes: 2', 'xapi.badParameter', 'Parameter Minutes was given more than once.'],
    [
      'xCommand Simulator Clock Advance Seconds: 1',
      'xapi.badParameter',
      "Unknown parameter 'Seconds' for xCommand Simulator Clock Advance: expected Days, Hours, Minutes.",
    ],
    [
      'xCommand Simulator Clock Advance 5',
      'xapi.badParameter',
      "Unexpected value '5': parameters of xCommand Simulator Clock Advance are written Name: value.",
    ],
    ['xCommand Simulator Clock Advance Minutes:', 'xapi.badParameter', 'Missing value for parameter Minutes.'],
    ['xCommand Simulator Clock Set a b', 'xapi.badParameter', 'Parameter Time was given more than once.'],
    ['xCommand Nope', 'xapi.noMatch', "Unknown command: there is no 'Nope' under xCommand (expected License, ServiceSelect, OptionKey, Simulator, Boot)."],
  ])('%s', (line, code, message) => {
    const e = errorOf(line);
    expect([e.code, e.message]).toEqual([code, message]);
  });

  it('marks parameter errors as ParameterError with the command result name', () => {
    const e = errorOf('xCommand Simulator Clock Advance Minutes: 60');
    expect([e.status, e.resultName]).toEqual(['ParameterError', 'SimulatorClockAdvanceResult']);
  });

  it('gives unknown paths an XPath', () => {
    expect(errorOf('xCommand Simulator Nope').xpath).toBe('/Simulator/Nope');
  });
});

describe('xStatus', () => {
  it.each([
    ['xStatus SystemUnit UDI SerialNumber', [{ name: 'SystemUnit' }, { name: 'UDI' }, { name: 'SerialNumber' }]],
    ['xstat sys', [{ name: 'SystemUnit' }]],
    ['xStatus License Smart Entitlement 2 Tag', [{ name: 'License' }, { name: 'Smart' }, { name: 'Entitlement', index: 2 }, { name: 'Tag' }]],
    ['xStatus License Smart Entitlement[2] Tag', [{ name: 'License' }, { name: 'Smart' }, { name: 'Entitlement', index: 2 }, { name: 'Tag' }]],
  ])('%s', (line, segments) => {
    const r = parse(line).request;
    expect(r.verb === 'status' && r.segments).toEqual(segments);
  });

  it('rejects an unknown top node', () => {
    const e = errorOf('xStatus Nope');
    expect([e.code, e.root]).toEqual(['xapi.noMatch', 'Status']);
  });
});

describe('xFeedback', () => {
  it('canonicalises paths', () => {
    const r = parse('xfeedback register /configuration/systemunit/name').request;
    expect(r.verb === 'feedback' && 'path' in r && r.path).toBe('/Configuration/SystemUnit/Name');
  });
  it('rejects unknown roots', () => {
    expect(errorOf('xfeedback register /Event/Foo').code).toBe('xapi.noMatch');
  });
});

describe('xConfiguration search and wildcard', () => {
  it('// finds leaves whose path words start with each term, in order', () => {
    const r = parse('xConfiguration // Name ?').request;
    expect(r.verb === 'configHelp' && r.leaves.map((l) => l.path.join(' '))).toEqual(['SystemUnit Name', 'IP DNS Domain Name']);
    const g = parse('xconfiguration //proxy//po').request;
    expect(g.verb === 'configGet' && g.leaves.map((l) => l.path.join(' '))).toEqual(['License Smart Transport Proxy Port']);
  });

  it('* is every setting', () => {
    const r = parse('xConfiguration *').request;
    expect(r.verb === 'configGet' && r.leaves.length).toBe(tree.configLeaves().length);
  });

  it('a search cannot set', () => {
    expect(errorOf('xConfiguration //Name: x').code).toBe('xapi.syntax');
  });
});
