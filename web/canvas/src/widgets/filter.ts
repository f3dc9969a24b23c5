/** Fuzzy matching for the node search and the combo type-to-filter. */

/** A score > 0 when every character of `query` appears in order in `text`; contiguous and early runs score more. */
export function fuzzyScore(query: string, text: string): number {
  const q = query.toLowerCase().trim();
  const t = text.toLowerCase();
  if (!q) return 1;
  const at = t.indexOf(q);
  if (at >= 0) return 1000 - at * 2 - (t.length - q.length) * 0.1 + (at === 0 ? 200 : 0);
  let score = 0;
  let pos = 0;
  let run = 0;
  for (const ch of q) {
    if (ch === " ") continue;
    const found = t.indexOf(ch, pos);
    if (found < 0) return 0;
    run = found === pos ? run + 1 : 0;
    score += 10 + run * 5 - Math.min(found - pos, 10);
    pos = found + 1;
  }
  return Math.max(score, 1);
}

export function filterOptions(values: string[], query: string): string[] {
  if (!query.trim()) return values;
  return values
    .map((v, i) => ({ v, i, s: fuzzyScore(query, v) }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.v);
}
