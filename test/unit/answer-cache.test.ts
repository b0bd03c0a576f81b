import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../engine/pool/answer-cache.js';
import {
  bucketOf,
  bumpCustomer,
  bumpPartition,
  createAnswerVersions,
} from '../../engine/pool/answer-versions.js';
import type { CustomerAnswer } from '../../engine/pool/thread-messages.js';

const answer = (id: string) => ({ customer_id: id }) as unknown as CustomerAnswer;

describe('answer cache', () => {
  it('serves an answer until its customer, its partition or the time-to-live moves on', () => {
    const versions = createAnswerVersions(4);
    const cache = new AnswerCache(versions, { ttlMs: 1000, max: 10 });
    const put = (id: string, p: number, at: number) => cache.set(id, answer(id), cache.stamp(id, p), at);

    put('alice', 1, 0);
    expect(cache.get('alice', 1, 10)?.customer_id).toBe('alice');
    bumpCustomer(versions, 'alice');
    expect(cache.get('alice', 1, 20)).toBeUndefined();

    put('alice', 1, 30);
    put('bob', 1, 30);
    bumpPartition(versions, 1);
    expect(cache.get('alice', 1, 40)).toBeUndefined();
    expect(cache.get('bob', 1, 40)).toBeUndefined();

    put('carol', 2, 50);
    bumpPartition(versions, 1);
    expect(cache.get('carol', 2, 60)?.customer_id).toBe('carol');
    expect(cache.get('carol', 2, 1049)?.customer_id).toBe('carol');
    expect(cache.get('carol', 2, 1050)).toBeUndefined();
    expect(cache.hits).toBe(3);
    expect(cache.misses).toBe(4);
  });

  it('treats a bump stamped before the worker answered as a change (never a stale hit)', () => {
    const versions = createAnswerVersions(1);
    const cache = new AnswerCache(versions, { ttlMs: 1000, max: 10 });
    const stamp = cache.stamp('dave', 0); // read before asking the worker
    bumpCustomer(versions, 'dave'); // an event folded while the question was in flight
    cache.set('dave', answer('dave'), stamp, 0);
    expect(cache.get('dave', 0, 1)).toBeUndefined();
  });

  it('keeps a pushed answer that overtook an older reply', () => {
    const versions = createAnswerVersions(1);
    const cache = new AnswerCache(versions, { ttlMs: 1000, max: 10 });
    const asked = cache.stamp('erin', 0); // the main thread asks the worker
    bumpCustomer(versions, 'erin'); // the batch with erin's event is scored
    const pushed = { ...answer('erin'), segment: 'pushed' } as CustomerAnswer;
    cache.set('erin', pushed, cache.stamp('erin', 0), 20); // the push, stamped after the bump
    cache.set('erin', answer('erin'), asked, 10); // the older reply arrives last
    expect(cache.get('erin', 0, 30)).toBe(pushed);
  });

  it('is off with a zero time-to-live, and shares buckets only as extra misses', () => {
    expect(new AnswerCache(createAnswerVersions(1), { ttlMs: 0, max: 10 }).enabled).toBe(false);
    expect(bucketOf('alice')).toBe(bucketOf('alice'));
    expect(bucketOf('alice')).toBeGreaterThanOrEqual(0);
    expect(bucketOf('alice')).toBeLessThan(1 << 20);
  });
});
