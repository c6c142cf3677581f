/**
 * "Did you mean …?" for every place that names a choice (subcommands, factory-reset
 * names, licences): the closest candidate by edit distance, or a unique prefix match.
 */

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidates closest to `word` (case-insensitive): those it prefixes or that prefix
 * it, else those within an edit distance of a third of the word's length (at least 1,
 * at most 3), nearest first.
 */
export function similar(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  if (w === '') return [];
  const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(w) || w.startsWith(c.toLowerCase()));
  if (prefixed.length > 0) return prefixed;
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  return candidates
    .map((c) => ({ c, d: editDistance(w, c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d)
    .map((x) => x.c);
}

/** ` Did you mean 'x'?` (or `'x' or 'y'`), or '' when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = similar(word, candidates).slice(0, 3);
  if (near.length === 0) return '';
  return ` Did you mean ${near.map((n) => `'${n}'`).join(' or ')}?`;
}
