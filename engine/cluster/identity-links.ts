/**
 * The link table of anonymous ids to customers: the KV bucket BW_IDENTITY (docs/events.md,
 * Identity). One key per anonymous id, `<partition>.<token>`: the partition of the anonymous id
 * (so a worker watches only the keys of its partitions, `<p>.>`) and its subject token, with the
 * `~` of an encoded token written `=` (not a KV key character). The value is JSON
 * `{customer_id, at, stream, seq}`: the customer, when the link was written (epoch ms) and the
 * identifying event's stream and sequence. Keys are created, never updated: first link wins.
 * Forwarded events (an anonymous profile's history re-published for its customer) carry the
 * headers below, naming the message they copy.
 */
import { customerIdFromToken, customerToken, partitionOfCustomer } from '../../contract/subjects.js';
import { type KvBucketSpec, parseJson } from './buckets.js';

export const IDENTITY_BUCKET = 'BW_IDENTITY';

export function identityBucketSpec(replicas: number): KvBucketSpec {
  return {
    name: IDENTITY_BUCKET,
    description: 'bellwether identity links: anonymous id -> customer (first link wins)',
    replicas,
  };
}

/** Header of a forwarded event: the events stream of the message it copies. */
export const ORIGIN_STREAM_HEADER = 'Bw-Origin-Stream';
/** Header of a forwarded event: the stream sequence of the message it copies. */
export const ORIGIN_SEQ_HEADER = 'Bw-Origin-Seq';

export interface LinkValue {
  customer_id: string;
  at: number;
  stream: string;
  seq: number;
}

/** The bucket key of an anonymous id. */
export function linkKey(anonymousId: string, partitions: number): string {
  const token = customerToken(anonymousId).replace('~', '=');
  return `${partitionOfCustomer(anonymousId, partitions)}.${token}`;
}

/** The watch filter of a partition's links. */
export function linkFilter(partition: number): string {
  return `${partition}.>`;
}

/** The anonymous id of a bucket key, or undefined for a key of another shape. */
export function anonymousIdOfKey(key: string): string | undefined {
  const dot = key.indexOf('.');
  if (dot < 0) return undefined;
  return customerIdFromToken(key.slice(dot + 1).replace('=', '~'));
}

/** A link value read from the bucket, or undefined when it is not one. */
export function parseLink(bytes: Uint8Array): LinkValue | undefined {
  const v = parseJson(bytes) as Partial<LinkValue> | undefined;
  if (typeof v?.customer_id !== 'string' || typeof v.at !== 'number') return undefined;
  return { customer_id: v.customer_id, at: v.at, stream: String(v.stream ?? ''), seq: Number(v.seq ?? 0) };
}
