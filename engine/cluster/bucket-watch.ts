/**
 * A KV bucket watched for as long as its owner runs: every entry (last values first, then each
 * change) goes to `onEntry`; when the watch ends or fails (its server died, the connection moved
 * to another server) it is started again after a pause, and `restart()` forces that when the
 * owner notices the watch has gone quiet. Also a full read of a bucket for start-up and for
 * catching up after a watch was broken.
 */
import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import type { Logger } from '../log.js';

export interface BucketWatchOptions {
  kv: KV;
  log: Logger;
  onEntry(entry: KvWatchEntry): void;
  /** Pause before a failed or ended watch is started again; default 500 ms. */
  retryMs?: number;
}

export class BucketWatch {
  private iterator: QueuedIterator<KvWatchEntry> | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private restartNow = false;
  /** Entries delivered since the watch was created (all restarts). */
  delivered = 0;

  constructor(private readonly opts: BucketWatchOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the current watch; the loop starts a new one at once. */
  restart(): void {
    this.restartNow = true;
    this.iterator?.stop();
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.iterator?.stop();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { kv, log } = this.opts;
    while (this.running) {
      try {
        const iterator = await kv.watch();
        this.iterator = iterator;
        if (!this.running) iterator.stop();
        for await (const entry of iterator) {
          this.delivered += 1;
          this.opts.onEntry(entry);
        }
        if (this.running) log.warn({}, 'bucket watch ended; watching again');
      } catch (err) {
        if (this.running) log.warn({ err: String(err) }, 'bucket watch failed; watching again');
      } finally {
        this.iterator = undefined;
      }
      if (!this.running) break;
      if (this.restartNow) {
        this.restartNow = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.retryMs ?? 500);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

/** The current entry of every key in the bucket (deleted keys left out). */
export async function readBucket(kv: KV): Promise<KvEntry[]> {
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  const entries = await Promise.all(keys.map((key) => kv.get(key)));
  return entries.filter((e): e is KvEntry => e !== null && e.operation === 'PUT');
}
