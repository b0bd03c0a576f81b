/**
 * The usual integration set-up: a test nats-server with `partitions` partitions, a client
 * connection to it, and the engine process pointed at it (two workers). `stop` tears all three
 * down in reverse order.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type EngineProcess, startEngineProcess } from './engine-process.js';
import { startNats, type TestNats } from './nats-server.js';

export interface TestStack {
  nats: TestNats;
  nc: NatsConnection;
  engine: EngineProcess;
  /** Stops the engine with `signal`, then the client and the server; resolves with the engine's exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startStack(partitions: number, env: Record<string, string> = {}): Promise<TestStack> {
  const nats = await startNats(partitions);
  const nc = await connect({ servers: nats.url });
  const engine = await startEngineProcess({
    BW_NATS_URL: nats.url,
    BW_PARTITIONS: String(partitions),
    BW_WORKERS: '2',
    ...env,
  });
  return {
    nats,
    nc,
    engine,
    async stop(signal = 'SIGKILL') {
      const code = await engine.stop(signal);
      await nc.close();
      await nats.stop();
      return code;
    },
  };
}
