import { createRequire } from 'node:module';
import type * as Fxp from 'fast-xml-parser';

/**
 * One parser for the process, built on first use rather than per code, since installs
 * must verify at 2,000/s (§11). preserveOrder keeps sibling order, which §6.5 fixes;
 * values stay strings and untrimmed because they are checked, not coerced.
 *
 * fast-xml-parser's ESM entry loads ~30 ms of small modules; its CommonJS bundle loads
 * in ~5 ms, and only when a code is actually parsed, so `exsh -c 'xStatus …'` stays
 * within §11's start-up bar.
 */
let fxp: typeof Fxp | undefined;
let xmlParser: Fxp.XMLParser | undefined;

function lib(): typeof Fxp {
  fxp ??= createRequire(import.meta.url)('fast-xml-parser') as typeof Fxp;
  return fxp;
}

function parser(): Fxp.XMLParser {
  xmlParser ??= new (lib().XMLParser)({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    trimValues: false,
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: true,
    htmlEntities: false,
  });
  return xmlParser;
}

/** A node of fast-xml-parser's preserveOrder tree: `{ name: children, ':@'?: attributes }` or `{ '#text': s }`. */
export type XmlNode = Record<string, unknown>;

/** Null when well formed, else the validator's sentence (with line and column). */
export function xmlProblem(text: string): string | null {
  const r = lib().XMLValidator.validate(text);
  return r === true ? null : `${r.err.msg} (column ${r.err.col})`;
}

export function parseXml(text: string): XmlNode[] {
  return parser().parse(text) as XmlNode[];
}

export function escapeXmlText(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
