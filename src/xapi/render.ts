import type { ConfigLine, FeedbackEvent, Reply } from './reply.js';
import type { OutputMode, Scalar, StatusObject, StatusValue } from './types.js';

/**
 * Renderers for the three output modes (§3). Lines end with "\n"; a pty turns them
 * into CRLF, and a no-pty channel must never see "\r" (jsxapi compares `OK` with ===).
 */

export interface Style {
  ok(s: string): string;
  error(s: string): string;
}
export const plainStyle: Style = { ok: (s) => s, error: (s) => s };

export function render(mode: OutputMode, reply: Reply, resultId: string | undefined, style: Style = plainStyle): string {
  switch (mode) {
    case 'terminal':
      return renderTerminal(reply, resultId, style);
    case 'json':
      return renderJson(reply, resultId);
    case 'xml':
      return renderXml(reply, resultId);
  }
}

export function renderFeedback(mode: OutputMode, event: FeedbackEvent): string {
  switch (mode) {
    case 'terminal':
      return `${(event.kind === 'config' ? configLines(event.lines) : statusLines(event.tree)).join('\n')}\n** end\n`;
    case 'json':
      return jsonDoc([[event.kind === 'config' ? 'Configuration' : 'Status', event.kind === 'config' ? configJson(event.lines) : statusJson(event.tree)]]);
    case 'xml': {
      const body = event.kind === 'config' ? xmlElement('Configuration', configObject(event.lines), 1) : xmlElement('Status', event.tree, 1);
      return `<XmlDoc>\n${body}</XmlDoc>\n`;
    }
  }
}

// ---------------------------------------------------------------------------
// terminal

function quote(s: string): string {
  // Control characters from user input must not reach the terminal raw.
  const escaped = s
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${escaped}"`;
}

function scalarText(v: Scalar): string {
  return typeof v === 'number' ? String(v) : quote(v);
}

function configLines(lines: ConfigLine[]): string[] {
  return lines.map((l) => `*c xConfiguration ${l.path.join(' ')}: ${l.quoted ? quote(String(l.value)) : String(l.value)}`);
}

function statusLines(tree: StatusObject): string[] {
  const out: string[] = [];
  for (const [top, value] of Object.entries(tree)) {
    if (Array.isArray(value)) {
      for (const item of value) {
        out.push(`*s ${top} ${String(item.id)}: /`);
        statusBody(withoutId(item), 4, out);
        out.push('*s/end');
      }
    } else if (typeof value === 'object') {
      out.push(`*s ${top}: /`);
      statusBody(value, 4, out);
      out.push('*s/end');
    } else {
      out.push(`*s ${top}: ${scalarText(value)}`);
      out.push('*s/end');
    }
  }
  return out;
}

function withoutId(item: StatusObject): StatusObject {
  const { id: _id, ...rest } = item;
  return rest;
}

function statusBody(obj: StatusObject, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) {
      for (const item of v) {
        out.push(`${pad}${k} ${String(item.id)}:`);
        statusBody(withoutId(item), indent + 2, out);
      }
    } else if (typeof v === 'object') {
      out.push(`${pad}${k}:`);
      statusBody(v, indent + 2, out);
    } else {
      out.push(`${pad}${k}: ${scalarText(v)}`);
    }
  }
}

function trailer(ok: boolean, resultId: string | undefined, style: Style): string {
  const tag = resultId === undefined ? '' : `** resultId: ${quote(resultId)}\n`;
  return `${tag}${ok ? style.ok('OK') : style.error('ERROR')}\n`;
}

function renderTerminal(reply: Reply, resultId: string | undefined, style: Style): string {
  switch (reply.kind) {
    case 'config':
      return `${configLines(reply.lines).join('\n')}${reply.lines.length ? '\n' : ''}\n${trailer(true, resultId, style)}`;
    case 'set':
    case 'done':
      return `\n${trailer(true, resultId, style)}`;
    case 'status': {
      const lines = statusLines(reply.tree);
      return `${lines.length ? `${lines.join('\n')}\n` : ''}\n${trailer(true, resultId, style)}`;
    }
    case 'help':
      return `${reply.lines.join('\n')}\n\n${trailer(!reply.error, resultId, style)}`;
    case 'feedbackList':
      return `${reply.paths.map((p) => `${p}\n`).join('')}** end\n\n${trailer(true, resultId, style)}`;
    case 'notRecognized':
      return 'Command not recognized.\n';
    case 'silent':
      return '';
    case 'result': {
      if (reply.status === 'OK') {
        if (reply.text && reply.text.length > 0) return `${reply.text.join('\n')}\n\n${trailer(true, resultId, style)}`;
        const fields = Object.entries(reply.fields ?? {});
        if (fields.length === 0) return `\n${trailer(true, resultId, style)}`;
        const body = fields.map(([k, v]) => `    ${k}: ${scalarText(v)}`).join('\n');
        return `*r ${reply.name} (status=OK):\n${body}\n*r/end\n\n${trailer(true, resultId, style)}`;
      }
      const lines = [`*r ${reply.name} (status=${reply.status}):`];
      if (reply.reason !== undefined) lines.push(`    Reason: ${quote(reply.reason)}`);
      if (reply.xpath !== undefined) lines.push(`    XPath: ${quote(reply.xpath)}`);
      if (reply.code !== undefined) lines.push(`    Code: ${quote(reply.code)}`);
      lines.push('*r/end');
      return `${lines.join('\n')}\n\n${trailer(false, resultId, style)}`;
    }
  }
}

// ---------------------------------------------------------------------------
// json

type Json = string | Json[] | { [k: string]: Json };

function value(v: Scalar): Json {
  return { Value: String(v) };
}

function setPath(root: { [k: string]: Json }, path: readonly string[], leaf: Json): void {
  let node = root;
  path.forEach((part, i) => {
    if (i === path.length - 1) {
      node[part] = leaf;
      return;
    }
    const next = node[part];
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) node = next;
    else {
      const created: { [k: string]: Json } = {};
      node[part] = created;
      node = created;
    }
  });
}

function configJson(lines: ConfigLine[]): Json {
  const root: { [k: string]: Json } = {};
  for (const l of lines) setPath(root, l.path, value(l.value));
  return root;
}

function statusJson(v: StatusValue): Json {
  if (Array.isArray(v)) {
    return v.map((item) => {
      const out: { [k: string]: Json } = { id: String(item.id) };
      for (const [k, x] of Object.entries(item)) if (k !== 'id') out[k] = statusJson(x);
      return out;
    });
  }
  if (typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) out[k] = statusJson(x);
    return out;
  }
  return value(v);
}

/** Outer braces on their own lines, no space after colons (PepperDash and ACA frame on them). */
function jsonDoc(members: [string, Json][], resultId?: string): string {
  const all = resultId === undefined ? members : [...members, ['ResultId', resultId] as [string, Json]];
  if (all.length === 0) return '{\n}\n';
  return `{\n${all.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',\n')}\n}\n`;
}

function resultJson(reply: Extract<Reply, { kind: 'result' }>): { [k: string]: Json } {
  const body: { [k: string]: Json } = { status: reply.status };
  for (const [k, v] of Object.entries(reply.fields ?? {})) body[k] = value(v);
  if (reply.reason !== undefined) body.Reason = value(reply.reason);
  if (reply.xpath !== undefined) body.XPath = value(reply.xpath);
  if (reply.code !== undefined) body.ErrorCode = value(reply.code);
  return body;
}

function renderJson(reply: Reply, resultId: string | undefined): string {
  switch (reply.kind) {
    case 'config':
      return jsonDoc([['Configuration', configJson(reply.lines)]], resultId);
    case 'set':
    case 'done':
      return jsonDoc([], resultId);
    case 'status':
      return jsonDoc([['Status', statusJson(reply.tree)]], resultId);
    case 'help':
      return jsonDoc([['CommandResponse', { HelpResult: { status: reply.error ? 'ParameterError' : 'OK', Help: value(reply.lines.join('\n')) } }]], resultId);
    case 'feedbackList':
      return jsonDoc(
        [['CommandResponse', { FeedbackListResult: { status: 'OK', Path: reply.paths.map((p, i) => ({ id: String(i + 1), Value: p })) } }]],
        resultId,
      );
    case 'notRecognized':
      // Clients (ACA, PlaceOS) expect this plain line even in JSON mode.
      return 'Command not recognized.\n';
    case 'silent':
      return '';
    case 'result': {
      if (reply.status !== 'OK' && reply.root === 'Configuration' && reply.illegalValuePath) {
        // jsxapi turns this shape into IllegalValueError(Value).
        const root: { [k: string]: Json } = {};
        setPath(root, reply.illegalValuePath, { error: 'True', Value: reply.reason ?? 'Illegal value' });
        return jsonDoc([['Configuration', root]], resultId);
      }
      if (reply.status !== 'OK' && reply.root === 'Status') {
        return jsonDoc([['Status', resultJson(reply)]], resultId);
      }
      const name = reply.status !== 'OK' && reply.root === 'Configuration' ? 'Configuration' : reply.name;
      return jsonDoc([['CommandResponse', { [name]: resultJson(reply) }]], resultId);
    }
  }
}

// ---------------------------------------------------------------------------
// xml

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function configObject(lines: ConfigLine[]): StatusObject {
  const root: StatusObject = {};
  for (const l of lines) {
    let node = root;
    l.path.forEach((part, i) => {
      if (i === l.path.length - 1) node[part] = l.value;
      else {
        const next = node[part];
        if (typeof next === 'object' && !Array.isArray(next)) node = next;
        else {
          const created: StatusObject = {};
          node[part] = created;
          node = created;
        }
      }
    });
  }
  return root;
}

function xmlElement(name: string, v: StatusValue, depth: number, attrs = ''): string {
  const pad = '  '.repeat(depth);
  if (Array.isArray(v)) {
    return v.map((item) => xmlElement(name, withoutId(item), depth, ` item="${esc(String(item.id))}"`)).join('');
  }
  if (typeof v === 'object') {
    const inner = Object.entries(v)
      .map(([k, x]) => xmlElement(k, x, depth + 1))
      .join('');
    return `${pad}<${name}${attrs}>\n${inner}${pad}</${name}>\n`;
  }
  return `${pad}<${name}${attrs}>${esc(String(v))}</${name}>\n`;
}

function xmlDoc(body: string, resultId: string | undefined): string {
  return `<XmlDoc resultId="${esc(resultId ?? '')}">\n${body}</XmlDoc>\n`;
}

function renderXml(reply: Reply, resultId: string | undefined): string {
  switch (reply.kind) {
    case 'config':
      return xmlDoc(xmlElement('Configuration', configObject(reply.lines), 1), resultId);
    case 'set':
    case 'done':
      return xmlDoc('', resultId);
    case 'status':
      return xmlDoc(xmlElement('Status', reply.tree, 1), resultId);
    case 'help':
      return xmlDoc(
        xmlElement('CommandResponse', { HelpResult: { Help: reply.lines.join('\n') } }, 1).replace(
          '<HelpResult>',
          `<HelpResult status="${reply.error ? 'ParameterError' : 'OK'}">`,
        ),
        resultId,
      );
    case 'feedbackList':
      return xmlDoc(
        `  <CommandResponse>\n    <FeedbackListResult status="OK">\n${reply.paths.map((p) => `      <Path>${esc(p)}</Path>\n`).join('')}    </FeedbackListResult>\n  </CommandResponse>\n`,
        resultId,
      );
    case 'notRecognized':
      return 'Command not recognized.\n';
    case 'silent':
      return '';
    case 'result': {
      const body: StatusObject = { ...(reply.fields ?? {}) };
      if (reply.reason !== undefined) body.Reason = reply.reason;
      if (reply.xpath !== undefined) body.XPath = reply.xpath;
      if (reply.code !== undefined) body.ErrorCode = reply.code;
      const inner = xmlElement(reply.name, body, 2, ` status="${reply.status}"`);
      return xmlDoc(`  <CommandResponse>\n${inner}  </CommandResponse>\n`, resultId);
    }
  }
}
