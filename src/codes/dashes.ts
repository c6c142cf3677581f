/** Cisco's short codes are read and typed in groups of six, joined by `-` (`CAVfS8-tqmsHn-…`). */
export const GROUP = 6;

export function groupWithDashes(s: string): string {
  const groups: string[] = [];
  for (let i = 0; i < s.length; i += GROUP) groups.push(s.slice(i, i + GROUP));
  return groups.join('-');
}

/**
 * The code without its dashes, or null when dashes are anywhere but after every sixth
 * character. A fully undashed code is accepted too; a code with a dash missing or moved
 * is not, so every single-character deletion of a valid code is caught here.
 */
export function ungroup(s: string): string | null {
  if (!s.includes('-')) return s;
  const plain = s.replaceAll('-', '');
  return groupWithDashes(plain) === s ? plain : null;
}
