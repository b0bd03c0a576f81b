/**
 * The JetStream streams the engine needs, created (or checked) at start:
 * - BW_EVENTS_<p>  `bw.part.<p>.>`  the events of partition p, one stream per partition (written
 *                  by the server's subject mapping); a deployment created before 2026-11-23 keeps
 *                  its single stream BW_EVENTS `bw.part.>` (layout `single`), see below
 * - BW_DLQ     `bw.dlq.>`    rejected events with their reason
 * - BW_ALERTS  `bw.alerts.>` risk alerts, deduplicated by `Nats-Msg-Id` over one hour
 * - BW_CRM     `bw.actions.>`, `bw.segments.>` rule actions and segment changes, likewise
 * - BW_AUDIT   `bw.audit.>`  the audit log's records (retention BW_AUDIT_RETENTION_DAYS, no delete)
 * The partition count is recorded in the events streams' descriptions and must not change.
 *
 * Why a stream per partition: on nats-server 2.9 a consumer with a filter on a shared stream finds
 * its next message by matching the filter against the messages of every other partition too (16
 * partitions: 16 messages examined per delivery), which was ~40% of nats-server's CPU during a
 * drain and grows with the partition count. A partition's own stream needs no filter, its
 * sequences are dense, and in a NATS cluster each stream can have its own leader, so partitions
 * spread over the cluster's servers.
 */
import type { JetStreamManager, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { BellwetherError } from '../../contract/errors.js';
import { DAY_MS, HOUR_MS } from '../../contract/time.js';

/** The single events stream of deployments created before 2026-11-23 (layout `single`). */
export const EVENTS_STREAM = 'BW_EVENTS';
/** Prefix of every events stream's name, in both layouts. */
export const EVENTS_STREAM_PREFIX = 'BW_EVENTS';

/** `partitioned`: one stream per partition (BW_EVENTS_<p>); `single`: BW_EVENTS for all. */
export type EventsLayout = 'partitioned' | 'single';

/** The stream holding partition `p`'s events. */
export function eventsStreamOf(partition: number, layout: EventsLayout): string {
  return layout === 'single' ? EVENTS_STREAM : `${EVENTS_STREAM_PREFIX}_${partition}`;
}
export const DLQ_STREAM = 'BW_DLQ';
const ALERTS_STREAM = 'BW_ALERTS';
const CRM_STREAM = 'BW_CRM';
const AUDIT_STREAM = 'BW_AUDIT';

const NANOS_PER_MS = 1_000_000;
const DAY_NS = DAY_MS * NANOS_PER_MS;
const MIB = 1024 * 1024;
/** The least a bounded stream keeps, however small the bound and many the partitions. */
const MIN_STREAM_BYTES = MIB;

export function partitionsDescription(partitions: number): string {
  return `bellwether events; partitions=${partitions}`;
}

export function isStreamNotFound(err: unknown): boolean {
  return (err as { name?: string }).name === 'StreamNotFoundError' || /stream not found/i.test(String(err));
}

/** The keys of `config` whose value differs in the stream's current configuration `info`. */
export function differingKeys(config: EngineStreamConfig, info: StreamInfo): string[] {
  const { name: _name, ...rest } = config;
  const current = info.config as unknown as Record<string, unknown>;
  return Object.entries(rest)
    .filter(([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value))
    .map(([key]) => key);
}

/** Creates the stream, or updates it where it differs; `known` is its info when already read. */
async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  known?: StreamInfo,
): Promise<void> {
  try {
    const info = known ?? (await jsm.streams.info(config.name));
    // Updated only when something differs: an update rewrites the stream's metadata on the server.
    if (differingKeys(config, info).length > 0)
      await jsm.streams.update(config.name, { ...info.config, ...config });
  } catch (err) {
    if (isStreamNotFound(err)) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
}

/** The partition count recorded in an events stream's description (NaN when it records none). */
function recordedPartitions(info: StreamInfo): number {
  const match = /partitions=(\d+)/.exec(info.config.description ?? '');
  return match ? Number(match[1]) : Number.NaN;
}

export interface StreamOptions {
  partitions: number;
  eventsMaxAgeDays: number;
  auditRetentionDays: number;
  /**
   * Disk bound of the streams the engine fills, in MiB (BW_STREAMS_MAX_MB; 0 or absent: none): 3/4
   * for the events, split evenly over the partitions, 1/12 each for dead letters, alerts and CRM
   * effects. The oldest messages are discarded first.
   */
  maxMb?: number;
  /** Copies of every stream (BW_REPLICAS): 3 on a 3-node NATS cluster. Default 1. */
  replicas?: number;
}

export type EngineStreamConfig = Partial<StreamConfig> & { name: string };

/**
 * The configuration of every stream the engine needs, in the given layout: what `ensureStreams`
 * creates at start and what the stream watch (stream-watch.ts) restores.
 */
export function streamConfigs(opts: StreamOptions, layout: EventsLayout): EngineStreamConfig[] {
  const num_replicas = opts.replicas ?? 1;
  const configs: EngineStreamConfig[] = [];
  const bound = (share: number): number =>
    (opts.maxMb ?? 0) > 0 ? Math.max(MIN_STREAM_BYTES, Math.floor(opts.maxMb! * MIB * share)) : -1;
  const eventStreams = layout === 'single' ? 1 : opts.partitions;
  const events = {
    max_age: Math.round(opts.eventsMaxAgeDays * DAY_NS),
    max_bytes: bound(3 / 4 / eventStreams),
    duplicate_window: 120_000 * NANOS_PER_MS,
    num_replicas,
  };
  if (layout === 'single') {
    configs.push({
      name: EVENTS_STREAM,
      description: partitionsDescription(opts.partitions),
      subjects: ['bw.part.>'],
      ...events,
    });
  } else {
    for (let p = 0; p < opts.partitions; p++) {
      const name = eventsStreamOf(p, layout);
      configs.push({
        name,
        description: `bellwether events of partition ${p}; partitions=${opts.partitions}`,
        subjects: [`bw.part.${p}.>`],
        ...events,
      });
    }
  }
  configs.push({
    name: DLQ_STREAM,
    description:
      'bellwether dead letters: sealed original body, headers Bw-Reason, Bw-Error-Code, Bw-Subject, Bw-Error',
    subjects: ['bw.dlq.>'],
    max_age: 30 * DAY_NS,
    max_bytes: bound(1 / 12),
    duplicate_window: HOUR_MS * NANOS_PER_MS,
    num_replicas,
  });
  configs.push({
    name: ALERTS_STREAM,
    description: 'bellwether risk alerts',
    subjects: ['bw.alerts.>'],
    max_age: 30 * DAY_NS,
    max_bytes: bound(1 / 12),
    duplicate_window: HOUR_MS * NANOS_PER_MS,
    num_replicas,
  });
  configs.push({
    name: CRM_STREAM,
    description: 'bellwether rule actions and segment changes',
    subjects: ['bw.actions.>', 'bw.segments.>'],
    max_age: 30 * DAY_NS,
    max_bytes: bound(1 / 12),
    duplicate_window: HOUR_MS * NANOS_PER_MS,
    num_replicas,
  });
  configs.push({
    name: AUDIT_STREAM,
    description: 'bellwether audit records (hash-chained; docs/security.md)',
    subjects: ['bw.audit.>'],
    max_age: Math.round(opts.auditRetentionDays * DAY_NS),
    deny_delete: true,
    deny_purge: true,
    num_replicas,
  });
  return configs;
}

/**
 * Creates (or updates) every stream the engine needs; returns the events layout in use. The
 * layout is `single` when the stream BW_EVENTS of an earlier version exists (it is kept and read
 * as before), `partitioned` otherwise. Any error other than "not found" stops the start (a
 * timeout must not be taken for a missing stream: that would pick the wrong layout or skip the
 * partition-count check).
 */
export async function ensureStreams(jsm: JetStreamManager, opts: StreamOptions): Promise<EventsLayout> {
  const names: string[] = [];
  for await (const name of jsm.streams.names()) if (name.startsWith(EVENTS_STREAM_PREFIX)) names.push(name);
  const layout: EventsLayout = names.includes(EVENTS_STREAM) ? 'single' : 'partitioned';
  const changed = (recorded: number) =>
    new BellwetherError(
      'BW_ERR_PARTITIONS_CHANGED',
      `the events streams have ${recorded} partitions, BW_PARTITIONS is ${opts.partitions}`,
    );
  // Read once: checked here, then handed to ensureStream.
  const existing = new Map<string, StreamInfo>();
  for (const name of names) {
    const partition = /^BW_EVENTS_(\d+)$/.exec(name);
    if (layout === 'partitioned' && !partition) continue;
    const info = await jsm.streams.info(name);
    existing.set(name, info);
    const recorded = recordedPartitions(info);
    if (!Number.isNaN(recorded) && recorded !== opts.partitions) throw changed(recorded);
    // A stream of a partition beyond the count: there were more partitions.
    if (partition && Number(partition[1]) >= opts.partitions) throw changed(Number(partition[1]) + 1);
  }
  for (const config of streamConfigs(opts, layout))
    await ensureStream(jsm, config, existing.get(config.name));
  return layout;
}
