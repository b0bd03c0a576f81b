/**
 * `bellwether run`: wires the engine, the HTTP API over its view and, when asked, the simulated
 * feed. HTTP listens before the workers start, so /healthz answers and /readyz says 503 during
 * catch-up; on stop HTTP closes first, then the feed, then the engine.
 */
import { buildServer } from '../api/server.js';
import type { Config } from '../engine/config.js';
import { type EngineOptions, openEngine } from '../engine/engine.js';
import type { Logger } from '../engine/log.js';
import { startSimulatorWorker } from '../feeds/simulator-host.js';
import { ShutdownSteps } from '../lib/shutdown-steps.js';

export interface RunningEngine {
  httpUrl: string;
  natsUrl: string;
  /** API keys are configured: every route but /healthz and /readyz needs one. */
  apiKeys: boolean;
  stop(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export async function startRunning(
  config: Config,
  log: Logger,
  options: EngineOptions = {},
): Promise<RunningEngine> {
  // Whatever the process (and the embedded nats-server it spawns) creates is its owner's only.
  process.umask(0o077);
  const engine = await openEngine(config, log, options);
  // HTTP closes first, then the feed, then the engine (last added, first run).
  const stops = new ShutdownSteps(log);
  stops.push('engine', () => engine.stop());
  // The feed starts after HTTP but stops before the engine and after HTTP.
  let sim: ReturnType<typeof startSimulatorWorker> | undefined;
  stops.push('simulator', async () => sim?.stop());
  const stop = (): Promise<void> => stops.run();
  try {
    const { security } = engine;
    const app = await buildServer(engine.view, {
      logger: log.child({ component: 'http' }),
      security,
      rateLimit: config.rateLimit,
    });
    let httpHost = config.httpHost;
    if (security.apiKeys.size === 0 && !isLoopback(httpHost)) {
      log.warn(
        { component: 'security', asked: httpHost },
        'no API keys (BW_API_KEYS, BW_API_KEYS_FILE): the API listens on 127.0.0.1 only',
      );
      httpHost = '127.0.0.1';
    } else if (security.apiKeys.size === 0) {
      log.warn({ component: 'security' }, 'no API keys: every local caller acts as admin (loopback only)');
    }
    await app.listen({ port: config.httpPort, host: httpHost });
    stops.push('http', () => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const host = httpHost.includes(':') ? `[${httpHost}]` : httpHost;
    const httpUrl = `http://${host}:${port}`;
    log.info({ component: 'http', http: httpUrl }, 'http listening');

    await engine.startWorkers();

    if (config.simulate > 0) {
      sim = startSimulatorWorker({
        ...engine.natsSettings,
        rate: config.simulate,
        // After catching up with the present the feed stays visibly alive (docs: BW_SIMULATE_LIVE).
        liveRate: Math.min(config.simulateLive, config.simulate),
        customers: config.simulateCustomers,
        seed: 42,
        historyDays: config.simulateDays,
        badRate: 0.001,
        // Data-quality faults for the cleansing rules to catch (docs/cleansing.md): outliers land on
        // bw.dlq.outlier, near-duplicates on bw.dlq.near_duplicate, repairs in the metrics.
        faultRate: 0.002,
        // Injected drift for the model monitor (docs/models.md, Monitoring): amounts × this from the sim start.
        driftFactor: config.simulateDrift,
      });
      sim.onError((err) => log.error({ component: 'simulator', err }, 'simulated feed failed'));
    }
    const status = await engine.view.info();
    log.info(
      {
        component: 'engine',
        http: httpUrl,
        nats: engine.natsUrl,
        workers: status.workers,
        partitions: config.partitions,
      },
      'engine started',
    );
    return { httpUrl, natsUrl: engine.natsUrl, apiKeys: security.apiKeys.size > 0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
