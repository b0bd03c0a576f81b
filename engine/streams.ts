/**
 * The JetStream streams the engine needs, created (or checked) at start:
 * - BW_EVENTS  `bw.part.>`   partitioned events (written by the server's subject mapping)
 * - BW_DLQ     `bw.dlq.>`    rejected events with their reason
 * - BW_ALERTS  `bw.alerts.>` risk alerts, deduplicated by `Nats-Msg-Id` over one hour
 * - BW_CRM     `bw.actions.>`, `bw.segments.>` rule actions and segment changes, likewise
 * - BW_AUDIT   `bw.audit.>`  the audit log's records (retention BW_AUDIT_RETENTION_DAYS, no delete)
 * The partition count is recorded in the events stream's description and must not change.
 */
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { BellwetherError } from './errors.js';

export const EVENTS_STREAM = 'BW_EVENTS';
export const DLQ_STREAM = 'BW_DLQ';
export const ALERTS_STREAM = 'BW_ALERTS';
export const CRM_STREAM = 'BW_CRM';
export const AUDIT_STREAM = 'BW_AUDIT';

const NANOS_PER_MS = 1_000_000;
const DAY_NS = 86_400_000 * NANOS_PER_MS;

export function partitionsDescription(partitions: number): string {
  return `bellwether events; partitions=${partitions}`;
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name);
    const { name: _name, ...rest } = config;
    await jsm.streams.update(config.name, { ...info.config, ...rest });
  } catch (err) {
    if (
      (err as { name?: string; code?: string }).name === 'StreamNotFoundError' ||
      /not found/i.test(String(err))
    ) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
}

export async function ensureStreams(
  jsm: JetStreamManager,
  opts: { partitions: number; eventsMaxAgeDays: number; auditRetentionDays: number },
): Promise<void> {
  try {
    const info = await jsm.streams.info(EVENTS_STREAM);
    const match = /partitions=(\d+)/.exec(info.config.description ?? '');
    if (match && Number(match[1]) !== opts.partitions) {
      throw new BellwetherError(
        'BW_ERR_PARTITIONS_CHANGED',
        `stream ${EVENTS_STREAM} has ${match[1]} partitions, BW_PARTITIONS is ${opts.partitions}`,
      );
    }
  } catch (err) {
    if (err instanceof BellwetherError) throw err;
  }
  await ensureStream(jsm, {
    name: EVENTS_STREAM,
    description: partitionsDescription(opts.partitions),
    subjects: ['bw.part.>'],
    max_age: Math.round(opts.eventsMaxAgeDays * DAY_NS),
    duplicate_window: 120_000 * NANOS_PER_MS,
  });
  await ensureStream(jsm, {
    name: DLQ_STREAM,
    description:
      'bellwether dead letters: original body, headers Bw-Reason, Bw-Error-Code, Bw-Subject, Bw-Error',
    subjects: ['bw.dlq.>'],
    max_age: 30 * DAY_NS,
    duplicate_window: 3_600_000 * NANOS_PER_MS,
  });
  await ensureStream(jsm, {
    name: ALERTS_STREAM,
    description: 'bellwether risk alerts',
    subjects: ['bw.alerts.>'],
    max_age: 30 * DAY_NS,
    duplicate_window: 3_600_000 * NANOS_PER_MS,
  });
  await ensureStream(jsm, {
    name: CRM_STREAM,
    description: 'bellwether rule actions and segment changes',
    subjects: ['bw.actions.>', 'bw.segments.>'],
    max_age: 30 * DAY_NS,
    duplicate_window: 3_600_000 * NANOS_PER_MS,
  });
  await ensureStream(jsm, {
    name: AUDIT_STREAM,
    description: 'bellwether audit records (hash-chained; docs/security.md)',
    subjects: ['bw.audit.>'],
    max_age: Math.round(opts.auditRetentionDays * DAY_NS),
    deny_delete: true,
    deny_purge: true,
  });
}
