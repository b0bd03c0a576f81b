/**
 * A dead letter: the rejected message's original bytes, sealed (they may hold personal data;
 * `bellwether dlq read` opens them), on `bw.dlq.<reason>` with headers saying why, and a
 * `Nats-Msg-Id` from the events stream and sequence so a replay does not store it twice.
 */
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { RejectReason } from '../../contract/event-schema.js';
import { DLQ_PREFIX } from '../../contract/subjects.js';
import { deadLetterAad, seal } from '../../security/pii-cipher.js';
import type { PiiKeyring } from '../../security/pii-keyring.js';

/**
 * Largest body kept: sealed (base64url, ×4/3) it stays well under nats-server's 1 MB payload limit.
 * Longer bodies (already rejected as `oversized` at 64 KiB) keep their first bytes and say so.
 */
export const MAX_DEAD_LETTER_BODY = 512 * 1024;

/**
 * Header of a dead letter re-published by `bellwether dlq replay`: its value is the reason it was
 * quarantined for, and an event carrying it is admitted even when a cleansing rule would quarantine
 * it again (docs/cleansing.md).
 */
export const REVIEWED_HEADER = 'Bw-Reviewed';

export interface DeadLetter {
  subject: string;
  body: string;
  msgID: string;
  headers: MsgHdrs;
}

export function deadLetter(
  msg: { subject: string; seq: number; data: Uint8Array },
  reason: RejectReason,
  detail: string,
  keyring: PiiKeyring,
  /** The events stream the message was read from (BW_EVENTS_<p>, or BW_EVENTS). */
  stream: string,
): DeadLetter {
  const h = headers();
  h.set('Bw-Reason', reason);
  h.set('Bw-Error-Code', errorCodeOf(reason));
  h.set('Bw-Subject', msg.subject);
  h.set('Bw-Error', detail.replace(/[\r\n]/g, ' ').slice(0, 512));
  h.set('Bw-Stream', stream);
  h.set('Bw-Stream-Seq', String(msg.seq));
  h.set('Bw-Sealed', keyring.current.id);
  let data = msg.data;
  if (data.length > MAX_DEAD_LETTER_BODY) {
    h.set('Bw-Truncated', String(data.length));
    data = data.subarray(0, MAX_DEAD_LETTER_BODY);
  }
  return {
    subject: `${DLQ_PREFIX}.${reason}`,
    body: seal(keyring, data, deadLetterAad(msg.seq, stream)),
    msgID: `dlq-${stream}-${msg.seq}`,
    headers: h,
  };
}

function errorCodeOf(reason: RejectReason): string {
  if (reason === 'poison' || reason === 'processing_error') return 'BW_ERR_WORKER_FAILED';
  if (reason === 'outlier' || reason === 'near_duplicate') return 'BW_ERR_EVENT_QUARANTINED';
  if (reason === 'identity_conflict') return 'BW_ERR_IDENTITY_CONFLICT';
  return 'BW_ERR_EVENT_SCHEMA';
}
