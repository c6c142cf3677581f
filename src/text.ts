/**
 * Text from outside (a request code's UDI, a virtual account name, an argument echoed in
 * an error) must not reach the operator's terminal raw: an escape sequence in a serial
 * number could clear the screen or retitle the window. C0, DEL and C1 control characters
 * become `\xHH`, as the device's terminal renderer shows them inside quoted values
 * (`quote` in src/xapi/render.ts); backslashes are left alone here, so a Windows path
 * reads as typed.
 */

const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** JSON.stringify escapes C0 characters but not DEL or C1 (U+0080–U+009F, CSI among them). */
const JSON_UNESCAPED = /[\x7f-\x9f]/g;

/** One JSON document, indented, with every control character escaped. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_UNESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Whether JSON text nests arrays and objects deeper than `max` (a linear scan that skips
 * strings): checked before parsing, since walking a hostile document (a backup, a stored
 * row) recursively would exhaust the stack long before its size is a problem.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
