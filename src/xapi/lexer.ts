import { ExshError } from '../errors.js';

/**
 * Splits one request line into tokens (§2.1, §2.2). Schema-agnostic: the resolver
 * decides what each word means.
 */
export type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'key'; text: string } | { kind: 'query' };

export interface LexedLine {
  tokens: Token[];
  resultId?: string;
}

const RESULT_ID = /^\s*resultId\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*$/i;
const KEY_VALUE = /^([A-Za-z][A-Za-z0-9]*):(.+)$/;

function syntaxError(message: string): ExshError {
  return new ExshError('xapi.syntax', message);
}

function unescapeQuoted(s: string): string {
  return s.replace(/\\(["\\])/g, '$1');
}

export function lex(line: string): LexedLine {
  const tokens: Token[] = [];
  let resultId: string | undefined;
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      let closed = false;
      while (j < n) {
        const d = line[j];
        if (d === '\\' && j + 1 < n && (line[j + 1] === '"' || line[j + 1] === '\\')) {
          text += line[j + 1];
          j += 2;
          continue;
        }
        if (d === '"') {
          closed = true;
          break;
        }
        text += d;
        j++;
      }
      if (!closed) throw syntaxError('Unterminated quoted string: add the closing double quote.');
      tokens.push({ kind: 'string', text });
      i = j + 1;
      continue;
    }
    if (c === '|') {
      const m = RESULT_ID.exec(line.slice(i + 1));
      if (!m) throw syntaxError('Invalid request tag: expected | resultId="<id>" at the end of the line.');
      resultId = m[1] !== undefined ? unescapeQuoted(m[1]) : m[2];
      break;
    }
    let j = i;
    while (j < n && !' \t\r\n"|'.includes(line[j] as string)) j++;
    const word = line.slice(i, j);
    i = j;
    if (word === '?') {
      tokens.push({ kind: 'query' });
    } else if (word.endsWith(':') && word.length > 1) {
      tokens.push({ kind: 'key', text: word.slice(0, -1) });
    } else if (word.endsWith('?') && word.length > 1 && !word.includes(':')) {
      tokens.push({ kind: 'word', text: word.slice(0, -1) }, { kind: 'query' });
    } else {
      const kv = KEY_VALUE.exec(word);
      // "Minutes:1" is a key and a value; "https://x" is a value.
      if (kv && !(kv[2] as string).startsWith('/')) {
        tokens.push({ kind: 'key', text: kv[1] as string }, { kind: 'word', text: kv[2] as string });
      } else {
        tokens.push({ kind: 'word', text: word });
      }
    }
  }
  return { tokens, resultId };
}
