/**
 * The main thread's own series: Node's default process metrics (without prom-client's three
 * `nodejs_active_*_total` gauges, which repeat their labelled twins and which `promtool check
 * metrics` flags), worker restarts and the answer cache's hits and misses. Read from the pool when
 * scraped; 0 before the workers start.
 */
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import type { WorkerPool } from './pool/worker-pool.js';

export function registerMainMetrics(registry: Registry, pool: () => WorkerPool | undefined): void {
  collectDefaultMetrics({ register: registry });
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  const gauge = (name: string, help: string, read: (p: WorkerPool) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const p = pool();
        this.set(p ? read(p) : 0);
      },
    });
  };
  gauge(
    'bellwether_worker_restarts',
    'Partition worker threads restarted after an unexpected exit since the engine started',
    (p) => p.restarts,
  );
  gauge(
    'bellwether_answer_cache_hits',
    'Customer answers served by the main thread from its cache since start (no worker asked)',
    (p) => p.answers.hits,
  );
  gauge(
    'bellwether_answer_cache_misses',
    'Customer answers the main thread asked a worker for since start',
    (p) => p.answers.misses,
  );
}
