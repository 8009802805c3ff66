// Token buckets counted in thousandths of a token, so every step is exact integer
// arithmetic: a bucket holds at most capacity * 1000, gains refill_per_sec per
// millisecond, and a request costs 1000.
const COST = 1000;

export function decide(config, events) {
  const full = config.capacity * COST;
  const buckets = new Map(); // client -> { level, at }; a Map has no inherited keys
  const result = [];
  for (const [t, client] of events) {
    let bucket = buckets.get(client);
    if (bucket === undefined) {
      bucket = { level: full, at: t };
      buckets.set(client, bucket);
    }
    bucket.level = Math.min(full, bucket.level + (t - bucket.at) * config.refill_per_sec);
    bucket.at = t;
    if (bucket.level >= COST) {
      bucket.level -= COST;
      result.push(true);
    } else {
      result.push(false);
    }
  }
  return result;
}
