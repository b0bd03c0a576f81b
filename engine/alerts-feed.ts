/**
 * Alerts and rule actions for people watching (the console's live feed, `GET /v1/alerts/stream`)
 * and the recent ones (`GET /v1/alerts`). Live: core NATS subscriptions on `bw.alerts.>` and
 * `bw.actions.>`, opened while someone listens, so every instance of a cluster sees every alert
 * whichever instance raised it. Recent: read from the BW_ALERTS stream with an ordered consumer
 * (nats-server 2.9: one filter subject), newest last.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ALERTS_PREFIX } from '../contract/subjects.js';
import type { Logger } from './log.js';
import { ACTIONS_PREFIX } from './nats/crm-effects.js';

/** One alert or rule action as the console shows it. */
export interface AlertRecord {
  /** `alert` (bw.alerts.<kind>) or `action` (bw.actions.<rule>). */
  type: 'alert' | 'action';
  /** The alert's kind (`churn`, `intent`, `security`, ...) or the action's rule id. */
  kind: string;
  subject: string;
  /** The published JSON body (alerts carry ids, risks and reasons: no personal fields). */
  body: unknown;
  /** When the stream stored it (recent) or when this instance received it (live), ISO-8601. */
  received_at: string;
}

export interface AlertsView {
  /** The last `limit` alerts (of `kind`, among the stream's last {@link KIND_SCAN} when a kind is given), oldest first. */
  recent(kind: string | undefined, limit: number): Promise<AlertRecord[]>;
  /** Calls `listener` with each alert and rule action from now on; returns the unsubscribe. */
  watch(listener: (record: AlertRecord) => void): () => void;
}

const ALERTS_STREAM = 'BW_ALERTS';
/** Alerts read back from the stream's end when one kind is asked for. */
const KIND_SCAN = 20_000;
const decoder = new TextDecoder();

function record(subject: string, data: Uint8Array, at: Date): AlertRecord {
  const action = subject.startsWith(`${ACTIONS_PREFIX}.`);
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(data));
  } catch {
    body = null;
  }
  return {
    type: action ? 'action' : 'alert',
    kind: subject.slice((action ? ACTIONS_PREFIX : ALERTS_PREFIX).length + 1),
    subject,
    body,
    received_at: at.toISOString(),
  };
}

export function createAlertsFeed(nc: NatsConnection, log: Logger): AlertsView & { close(): void } {
  const listeners = new Set<(record: AlertRecord) => void>();
  let subscriptions: Subscription[] = [];

  const open = (): void => {
    subscriptions = [`${ALERTS_PREFIX}.>`, `${ACTIONS_PREFIX}.>`].map((subject) =>
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) {
            log.warn({ component: 'alerts-feed', subject, err }, 'alert subscription failed');
            return;
          }
          const r = record(msg.subject, msg.data, new Date());
          for (const listener of listeners) listener(r);
        },
      }),
    );
  };
  const close = (): void => {
    for (const s of subscriptions) s.unsubscribe();
    subscriptions = [];
  };

  return {
    watch(listener) {
      if (listeners.size === 0) open();
      listeners.add(listener);
      return () => {
        if (listeners.delete(listener) && listeners.size === 0) close();
      };
    },

    async recent(kind, limit) {
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info(ALERTS_STREAM);
      if (state.messages === 0) return [];
      const scan = kind === undefined ? limit : KIND_SCAN;
      const start = Math.max(state.first_seq, state.last_seq - scan + 1);
      const consumer = await jetstream(nc).consumers.get(ALERTS_STREAM, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start,
        filter_subjects: kind === undefined ? `${ALERTS_PREFIX}.>` : `${ALERTS_PREFIX}.${kind}`,
      });
      const out: AlertRecord[] = [];
      // Until caught up with the stream (alerts published meanwhile come live).
      for (let done = false; !done; ) {
        const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
        done = true;
        for await (const m of batch) {
          out.push(record(m.subject, m.data, new Date(m.info.timestampNanos / 1e6)));
          if (out.length > limit) out.shift();
          done = m.info.pending === 0;
          if (done) break;
        }
      }
      return out;
    },

    close,
  };
}
