import { describe, expect, it } from 'vitest';
import {
  customerIdFromToken,
  customerToken,
  eventSubject,
  fnv1a32,
  isWellFormedId,
  parsePartitionedSubject,
  partitionOfCustomer,
} from '../../contract/subjects.js';

describe('subjects and partitions', () => {
  it('uses plain ids as tokens and encodes the rest reversibly', () => {
    expect(customerToken('c-123_X')).toBe('c-123_X');
    for (const id of ['jane.doe@example.com', 'a b', '客户42', 'x'.repeat(65), '~tilde', '*', '>']) {
      const token = customerToken(id);
      expect(token).toMatch(/^~[A-Za-z0-9_-]+$/);
      expect(customerIdFromToken(token)).toBe(id);
    }
    expect(customerIdFromToken('~!!')).toBeUndefined();
    expect(eventSubject('purchase', 'a.b')).toBe(`bw.events.purchase.${customerToken('a.b')}`);
  });

  it('gives ids with lone surrogates tokens of their own, reversibly', () => {
    const ids = ['\ud800', '\ud801', '\udc00', '\ufffd', 'a\ud800', 'a\ufffd'];
    const tokens = ids.map(customerToken);
    expect(new Set(tokens).size).toBe(ids.length);
    expect(ids.map(isWellFormedId)).toEqual([false, false, false, true, false, true]);
    for (const [i, id] of ids.entries()) {
      expect(tokens[i]).toMatch(/^~~?[A-Za-z0-9_-]+$/);
      expect(customerIdFromToken(tokens[i]!)).toBe(id);
    }
    expect(isWellFormedId('\ud83d\ude00')).toBe(true);
    expect(customerToken('\ud83d\ude00')).toMatch(/^~[^~]/);
  });

  it('hashes like FNV-1a 32 over UTF-8 bytes', () => {
    // Reference values of FNV-1a 32 (the published test vectors).
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    let h = 0x811c9dc5;
    for (const byte of Buffer.from('aé', 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    expect(fnv1a32('aé')).toBe(h);
  });

  it('maps a customer to one partition', () => {
    const p = partitionOfCustomer('c1', 16);
    expect(p).toBe(fnv1a32('c1') % 16);
    expect(partitionOfCustomer('c1', 16)).toBe(p);
  });

  it('splits partitioned subjects, with and without the token of earlier versions', () => {
    expect(parsePartitionedSubject('bw.part.3.purchase')).toEqual({
      partition: 3,
      type: 'purchase',
      token: undefined,
    });
    expect(parsePartitionedSubject('bw.part.3.purchase.c1')).toEqual({
      partition: 3,
      type: 'purchase',
      token: 'c1',
    });
    expect(parsePartitionedSubject('bw.events.purchase.c1')).toBeUndefined();
    expect(parsePartitionedSubject('bw.part.3')).toBeUndefined();
  });
});
