// Bounded concurrency: a real Nextcloud takes about half a second per OCS call, so
// calls overlap, but never so many that a small server falls over.

/** Runs `fn` on every item, at most `limit` at a time; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`mapLimit: limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Like mapLimit, but every item runs even when some fail; the failures are returned. */
export async function settleLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<{ item: T; error: unknown }[]> {
  const failures: { item: T; error: unknown }[] = [];
  await mapLimit(items, limit, async (item) => {
    try {
      await fn(item);
    } catch (error) {
      failures.push({ item, error });
    }
  });
  return failures;
}
