/**
 * Deterministic per-class holdout splitting and class-interleaved ordering.
 *
 * For each class (in original order) the first ~90% of its items are train and
 * the remaining ~10% are test. The number of test items per class is found by
 * largest-remainder apportionment so that the overall test count is exactly
 * round(holdout · N) (ties broken by lower class id); any class with at least
 * two items keeps at least one test item.
 *
 * The selected indices are returned interleaved round-robin across classes
 * (class 0 item 0, class 1 item 0, …, class 0 item 1, …) so that any prefix,
 * in particular the one kept by `limit`, is class-balanced.
 */
export function splitIndices(
  labels: ArrayLike<number>,
  numClasses: number,
  split: 'train' | 'test',
  holdout = 0.1,
): number[] {
  const perClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) perClass[labels[i]].push(i);
  const counts = perClass.map((l) => l.length);
  const total = counts.reduce((a, b) => a + b, 0);
  const target = Math.round(holdout * total);
  const exact = counts.map((n) => holdout * n);
  const testCounts = exact.map((e) => Math.floor(e + 1e-9));
  let remaining = target - testCounts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, k) => ({ k, r: Math.round((e - testCounts[k]) * 1e9) }))
    .sort((a, b) => b.r - a.r || a.k - b.k);
  for (const { k } of order) {
    if (remaining <= 0) break;
    if (testCounts[k] < counts[k]) {
      testCounts[k]++;
      remaining--;
    }
  }
  for (let k = 0; k < numClasses; k++) {
    if (testCounts[k] === 0 && counts[k] >= 2) testCounts[k] = 1;
  }
  const chosen = perClass.map((l, k) => {
    const nTrain = counts[k] - testCounts[k];
    return split === 'train' ? l.slice(0, nTrain) : l.slice(nTrain);
  });
  return interleave(chosen);
}

/** Round-robin interleave of per-class index lists. */
export function interleave(lists: number[][]): number[] {
  const out: number[] = [];
  const maxLen = lists.reduce((m, l) => Math.max(m, l.length), 0);
  for (let j = 0; j < maxLen; j++) {
    for (const l of lists) if (j < l.length) out.push(l[j]);
  }
  return out;
}

/** Returns all indices (no holdout) interleaved by class. */
export function allIndicesInterleaved(labels: ArrayLike<number>, numClasses: number): number[] {
  const perClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) perClass[labels[i]].push(i);
  return interleave(perClass);
}

/** Validates an optional `limit` (positive integer) and applies it to an index list. */
export function applyLimit(indices: number[], limit: number | undefined, field = 'limit'): number[] {
  if (limit === undefined) return indices;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new Error(`${field} must be a positive integer, got ${JSON.stringify(limit)}`);
  }
  return indices.length > limit ? indices.slice(0, limit) : indices;
}
