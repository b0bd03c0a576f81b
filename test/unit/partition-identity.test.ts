import { describe, expect, it } from 'vitest';
import { anonymousIdOfKey, linkKey, parseLink } from '../../engine/cluster/identity-links.js';
import { ANONYMOUS_HISTORY, PartitionIdentity } from '../../engine/state/partition-identity.js';

describe('partition identity state', () => {
  it('folds anonymous events until the link, then queues them after the history, in order', () => {
    const id = new PartitionIdentity();
    expect(id.anonymousEvent('dev', 3)).toBe(true);
    expect(id.anonymousEvent('dev', 7)).toBe(true);
    expect(id.isAnonymous('dev')).toBe(true);
    expect(id.learn('dev', 'alice', 1000)).toBe(true);
    expect(id.learn('dev', 'alice', 1000)).toBe(false);
    expect(id.isAnonymous('dev')).toBe(false);
    expect(id.anonymousEvent('dev', 9)).toBe(false);
    const queued = [...id.toForward()].map(([anon, link, seqs]) => [anon, link.customerId, [...seqs]]);
    expect(queued).toEqual([['dev', 'alice', [3, 7, 9]]]);
    // The merge ends when the history and what came meanwhile are forwarded, counted once.
    expect(id.forwarded('dev', 3)).toBe(false);
    expect(id.forwarded('dev', 7)).toBe(false);
    expect(id.forwarded('dev', 9)).toBe(true);
    expect(id.anonymousEvent('dev', 12)).toBe(false);
    expect(id.forwarded('dev', 12)).toBe(false);
    expect([...id.toForward()]).toEqual([]);
  });

  it('keeps the last ANONYMOUS_HISTORY sequences of a profile before its link', () => {
    const id = new PartitionIdentity();
    for (let seq = 1; seq <= ANONYMOUS_HISTORY + 5; seq++) id.anonymousEvent('dev', seq);
    id.learn('dev', 'alice', 0);
    const [[, , seqs]] = [...id.toForward()] as [[string, unknown, readonly number[]]];
    expect(seqs.length).toBe(ANONYMOUS_HISTORY);
    expect(seqs[0]).toBe(6);
  });

  it('drops a forwarded event at or below the highest origin sequence folded', () => {
    const id = new PartitionIdentity();
    expect(id.admitForwarded('dev', 5)).toBe(true);
    expect(id.admitForwarded('dev', 5)).toBe(false);
    expect(id.admitForwarded('dev', 4)).toBe(false);
    expect(id.admitForwarded('dev', 8)).toBe(true);
    expect(id.admitForwarded('tablet', 2)).toBe(true);
  });

  it('asks for a link once, and lists the identities written', () => {
    const id = new PartitionIdentity();
    expect(id.requestLink('alice', 'dev', 10)).toBe(true);
    expect(id.requestLink('alice', 'dev', 11)).toBe(false);
    expect(id.requestLink('alice', 'tablet', 12)).toBe(true);
    const [dev, tablet] = id.pendingLinks();
    id.settle(dev!, true);
    id.settle(tablet!, false);
    expect(id.pendingLinks()).toEqual([]);
    expect(id.identitiesOf('alice')).toEqual(['dev']);
    // Known: a later login with the same device asks nothing.
    expect(id.requestLink('alice', 'dev', 20)).toBe(false);
  });

  it('comes back whole from its snapshot', () => {
    const id = new PartitionIdentity();
    id.anonymousEvent('dev', 1);
    id.anonymousEvent('phone', 2);
    id.learn('phone', 'bob', 42);
    id.requestLink('alice', 'tablet', 3);
    id.requestLink('bob', 'laptop', 4);
    id.settle(id.pendingLinks()[1]!, true);
    id.admitForwarded('x', 77);
    const copy = new PartitionIdentity();
    copy.restore(JSON.parse(JSON.stringify(id.snapshot())));
    expect(copy.snapshot()).toEqual(id.snapshot());
    expect(copy.isAnonymous('dev')).toBe(true);
    expect(copy.linkOf('phone')).toEqual({ customerId: 'bob', at: 42, merged: false });
    expect(copy.identitiesOf('bob')).toEqual(['laptop']);
    expect(copy.admitForwarded('x', 77)).toBe(false);
  });

  it('forgets an evicted anonymous profile but not a linked one', () => {
    const id = new PartitionIdentity();
    id.anonymousEvent('dev', 1);
    id.anonymousEvent('phone', 2);
    id.learn('phone', 'bob', 0);
    id.forget('dev');
    id.forget('phone');
    expect(id.isAnonymous('dev')).toBe(false);
    expect([...id.toForward()].map(([anon]) => anon)).toEqual(['phone']);
  });
});

describe('identity link keys', () => {
  it('name the anonymous id partition and token, and read back', () => {
    for (const anon of ['dev-1', 'cookie:ä/1', 'x'.repeat(100)]) {
      const key = linkKey(anon, 8);
      expect(key).toMatch(/^[0-7]\.[-/_=.a-zA-Z0-9]+$/);
      expect(anonymousIdOfKey(key)).toBe(anon);
    }
    const value = new TextEncoder().encode(JSON.stringify({ customer_id: 'c', at: 5, stream: 'S', seq: 2 }));
    expect(parseLink(value)).toEqual({ customer_id: 'c', at: 5, stream: 'S', seq: 2 });
    expect(parseLink(new TextEncoder().encode('{"at":1}'))).toBeUndefined();
  });
});
