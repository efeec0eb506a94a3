/**
 * What a user probably meant by a configuration key CoreDog does not know:
 * the same key in other letter case, or a known key a typo or two away.
 *
 * @module
 */

/** The known key `key` was probably meant to be, and how it differs. */
export type KeySuggestion =
  | { kind: "case"; key: string }
  | { kind: "typo"; key: string };

/** The key of `known` that `key` is a mis-cased or misspelled form of, or undefined. */
export function suggestKey(key: string, known: string[]): KeySuggestion | undefined {
  const sameLetters = known.find((k) => k.toLowerCase() === key.toLowerCase());
  if (sameLetters) return { kind: "case", key: sameLetters };
  const near = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return near ? { kind: "typo", key: near } : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
