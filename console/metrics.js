// Reads the engine's /metrics text (the same numbers Prometheus scrapes) into what the Live screen
// shows: rates between two samples and a histogram quantile of the interval.

/** name → [{ labels, value }] */
export function parseMetrics(text) {
  const series = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    const list = series.get(m[1]) ?? [];
    list.push({ labels, value: Number(m[4]) });
    series.set(m[1], list);
  }
  return series;
}

export function total(series, name) {
  return (series.get(name) ?? []).reduce((sum, s) => sum + s.value, 0);
}

/** Cumulative bucket counts by upper bound, summed over label sets. */
function buckets(series, name) {
  const byLe = new Map();
  for (const s of series.get(`${name}_bucket`) ?? []) {
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]);
}

/** The q-quantile of what a histogram observed between two samples (linear within a bucket), or null. */
export function quantileBetween(before, after, name, q) {
  const a = buckets(after, name);
  const b = new Map(buckets(before, name));
  const counts = a.map(([le, c]) => [le, c - (b.get(le) ?? 0)]);
  const count = counts.at(-1)?.[1] ?? 0;
  if (count <= 0) return null;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [le, c] of counts) {
    if (c >= rank) {
      if (!Number.isFinite(le)) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(c - below, 1e-9);
    }
    lower = le;
    below = c;
  }
  return lower;
}
