import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * One parser for the process, built once rather than per code, since installs must
 * verify at 2,000/s (§11). preserveOrder keeps sibling order, which §6.5 fixes; values
 * stay strings and untrimmed because they are checked, not coerced.
 */
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: false,
});

/** A node of fast-xml-parser's preserveOrder tree: `{ name: children, ':@'?: attributes }` or `{ '#text': s }`. */
export type XmlNode = Record<string, unknown>;

/** Null when well formed, else the validator's sentence (with line and column). */
export function xmlProblem(text: string): string | null {
  const r = XMLValidator.validate(text);
  return r === true ? null : `${r.err.msg} (column ${r.err.col})`;
}

export function parseXml(text: string): XmlNode[] {
  return parser.parse(text) as XmlNode[];
}

export function escapeXmlText(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
