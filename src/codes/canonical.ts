/**
 * §6.3 step 1. Terminals, mail clients and the Expressway's own quoting mangle long codes:
 * they wrap them (with LF or CRLF), re-indent them, or wrap them in double quotes. Line
 * breaks are joined with nothing (a hard wrap inserts a break, it does not replace a
 * character), whitespace left between two tags is dropped, and the code is trimmed and
 * unquoted. Spaces inside text, such as display names, are kept: they are signed.
 */
export function canonicalizeCode(text: string): string {
  let s = text.replace(/[\r\n]+/g, '').trim();
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1).trim();
  return s.replace(/>[ \t]+</g, '><');
}
