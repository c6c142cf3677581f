import { ExshError } from '../errors.js';

/** The Unique Device Identifier that every reservation code is bound to (§5.1). */
export interface Udi {
  pid: string;
  serial: string;
  vid: string;
  hostId: string;
}

// A field may hold anything printable but the separators of the two UDI spellings.
const FIELD = /^[^\s,:]+$/;

function checkFields(u: Udi): void {
  for (const [name, value] of [
    ['product id', u.pid],
    ['serial number', u.serial],
    ['version id', u.vid],
    ['host id', u.hostId],
  ] as const) {
    if (!FIELD.test(value)) {
      throw new ExshError('code.badUdi', `The UDI ${name} '${value}' must be non-empty, without spaces, commas or colons.`);
    }
  }
}

/** `P:<pid>,S:<serial>,V:<vid>,H:<hostid>`, the spelling used inside authorization codes. */
export function formatUdi(u: Udi): string {
  checkFields(u);
  return `P:${u.pid},S:${u.serial},V:${u.vid},H:${u.hostId}`;
}

const UDI = /^P:([^,]*),S:([^,]*),V:([^,]*),H:([^,]*)$/;

export function parseUdi(s: string): Udi {
  const m = UDI.exec(s);
  if (!m) {
    throw new ExshError('code.badUdi', `'${s}' is not a UDI; expected P:<pid>,S:<serial>,V:<vid>,H:<hostid>.`);
  }
  const [, pid = '', serial = '', vid = '', hostId = ''] = m;
  const u: Udi = { pid, serial, vid, hostId };
  checkFields(u);
  return u;
}

/** The request-code spelling: the same fields, letter-prefixed without colons. */
export function udiBlock(u: Udi): string {
  checkFields(u);
  return `P${u.pid},S${u.serial},V${u.vid},H${u.hostId}`;
}

export function udiEquals(a: Udi, b: Udi): boolean {
  return a.pid === b.pid && a.serial === b.serial && a.vid === b.vid && a.hostId === b.hostId;
}
