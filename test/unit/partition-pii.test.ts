import { describe, expect, it } from 'vitest';
import { PartitionPii } from '../../engine/state/partition-pii.js';
import { recordFields, sealedKeyId } from '../../security/pii-cipher.js';
import { PiiKeyring } from '../../security/pii-keyring.js';
import {
  DEFAULT_PLAIN_PROFILE_FIELDS,
  MAX_PERSONAL_FIELDS,
  MAX_PERSONAL_VALUE_LENGTH,
  ProfilePolicy,
  parsePlainFields,
} from '../../security/pii-policy.js';
import { PiiSealer } from '../../security/pii-sealer.js';

const K1 = `k1:${'11'.repeat(32)}`;
const K2 = `k2:${'22'.repeat(32)}`;

function setup(keys = K1) {
  let sealer = new PiiSealer(PiiKeyring.parse(keys, 'aes-256-gcm', 'test'));
  const pii = new PartitionPii(() => sealer, new ProfilePolicy());
  return {
    pii,
    sealer: () => sealer,
    rekey: (next: string) => {
      sealer = new PiiSealer(PiiKeyring.parse(next, 'aes-256-gcm', 'test'));
    },
  };
}

function counts(pii: PartitionPii): Record<string, number> {
  const into = new Map<string, number>();
  pii.countByKey(into);
  return Object.fromEntries(into);
}

describe('personal fields of a partition', () => {
  it('keeps one record per customer: a partial update keeps the other fields, the latest value wins', () => {
    const { pii, sealer } = setup();
    expect(pii.onProfile(0, 'c1', { name: 'Wei Muller', phone: '13425267935', country: 'IT' })).toEqual({
      dropped: 0,
      refused: 0,
    });
    const first = pii.sealed(0) as string;
    expect(recordFields(first)).toEqual(['name', 'phone']);
    pii.onProfile(0, 'c1', { phone: '13900001111', email: 'c1@example.com' });
    const second = pii.sealed(0);
    expect(typeof second).toBe('string');
    expect(sealer().openPii('c1', second!)).toEqual({
      name: 'Wei Muller',
      phone: '13900001111',
      email: 'c1@example.com',
    });
    // A profile without personal fields leaves the record alone.
    pii.onProfile(0, 'c1', { country: 'FR' });
    expect(pii.sealed(0)).toBe(second);
    expect(counts(pii)).toEqual({ k1: 3 });
  });

  it('reads per-field ciphertexts of older checkpoints and turns them into a record at the next update', () => {
    const { pii, sealer } = setup();
    const legacy = {
      name: sealer().seal('c7', 'name', 'Anna Zhang'),
      phone: sealer().seal('c7', 'phone', '13160754916'),
    };
    pii.restore([[3, legacy]]);
    expect(counts(pii)).toEqual({ k1: 2 });
    expect(sealer().openPii('c7', pii.sealed(3)!)).toEqual({ name: 'Anna Zhang', phone: '13160754916' });
    pii.onProfile(3, 'c7', { email: 'c7@example.com' });
    expect(recordFields(pii.sealed(3) as string)).toEqual(['email', 'name', 'phone']);
    expect(counts(pii)).toEqual({ k1: 3 });
  });

  it('leaves per-field ciphertexts already under the current key alone when it re-seals', () => {
    const { pii, sealer } = setup();
    const legacy = { phone: sealer().seal('c4', 'phone', '13160754916') };
    pii.restore([[0, legacy]]);
    expect(pii.reseal(() => 'c4')).toEqual({ resealed: 0, failed: 0 });
    expect(pii.sealed(0)).toBe(legacy);
  });

  it('re-seals records and per-field ciphertexts under a new key, and counts fields per key throughout', () => {
    const { pii, sealer, rekey } = setup();
    pii.onProfile(0, 'c0', { name: 'A', phone: '1' });
    pii.restore([[1, { email: sealer().seal('c1', 'email', 'b@example.com') }]]);
    pii.onProfile(2, 'c2', { name: 'C' });
    expect(counts(pii)).toEqual({ k1: 4 });
    rekey(`${K2},${K1}`);
    const ids = ['c0', 'c1', 'c2'];
    expect(pii.reseal((slot) => ids[slot]!)).toEqual({ resealed: 4, failed: 0 });
    expect(counts(pii)).toEqual({ k2: 4 });
    for (const slot of [0, 1, 2]) expect(sealedKeyId(pii.sealed(slot) as string)).toBe('k2');
    expect(sealer().openPii('c1', pii.sealed(1)!)).toEqual({ email: 'b@example.com' });
    // Slots move when a customer is forgotten: counts follow.
    pii.removeSlot(0);
    pii.moveSlot(2, 0);
    expect(counts(pii)).toEqual({ k2: 2 });
    expect(sealer().openPii('c2', pii.sealed(0)!)).toEqual({ name: 'C' });
    expect(pii.sealed(2)).toBeUndefined();
  });

  it('drops and counts the fields of a record whose key was removed, keeping the new ones', () => {
    const { pii, sealer, rekey } = setup();
    pii.onProfile(0, 'c0', { name: 'A', phone: '1' });
    rekey(K2);
    expect(pii.onProfile(0, 'c0', { email: 'a@example.com' })).toEqual({ dropped: 2, refused: 0 });
    expect(sealer().openPii('c0', pii.sealed(0)!)).toEqual({ email: 'a@example.com' });
    expect(counts(pii)).toEqual({ k2: 1 });
  });
});

describe('the personal data policy', () => {
  it('seals every property not declared plain, whatever its spelling', () => {
    const { pii, sealer } = setup();
    const props = {
      Phone: '13800000001',
      EMAIL: 'wei@example.com',
      mobile: '13900000002',
      full_name: 'Wei Muller',
      first_name: 'Wei',
      idNumber: '110101199003074514',
      'e-mail': 'other@example.com',
      电话: '13700000003',
      nickname: 'wm',
      tier: 'gold',
      country: 'DE',
    };
    pii.onProfile(0, 'c1', props);
    const { tier: _tier, country: _country, ...personal } = props;
    expect(sealer().openPii('c1', pii.sealed(0)!)).toEqual(personal);
    const record = pii.sealed(0) as string;
    for (const value of Object.values(personal)) expect(record).not.toContain(value);
  });

  it('seals objects and arrays as their JSON, numbers and booleans as text, and skips null and empty text', () => {
    const { pii, sealer } = setup();
    pii.onProfile(0, 'c1', {
      address: { street: 'Hauptstr. 1', city: 'Berlin' },
      phones: ['13800000001', '13800000002'],
      age: 41,
      vip: true,
      middle_name: null,
      nick: '',
    });
    expect(sealer().openPii('c1', pii.sealed(0)!)).toEqual({
      address: '{"street":"Hauptstr. 1","city":"Berlin"}',
      phones: '["13800000001","13800000002"]',
      age: '41',
      vip: 'true',
    });
  });

  it('keeps only allow-listed names plain: exact and case-sensitive', () => {
    const policy = new ProfilePolicy('tier,city');
    expect(policy.isPlain('tier')).toBe(true);
    expect(policy.isPlain('Tier')).toBe(false);
    expect(policy.isPlain('country')).toBe(false);
    expect(policy.isPlain('constructor')).toBe(false);
    expect(policy.isPlain('__proto__')).toBe(false);
    expect(new ProfilePolicy().plainFields).toEqual([...DEFAULT_PLAIN_PROFILE_FIELDS]);
    expect(new ProfilePolicy('-').plainFields).toEqual([]);
  });

  it('refuses to declare a personal name plain, in any spelling', () => {
    for (const text of ['tier,Phone', 'EMAIL', 'mobile', 'idNumber', 'Date_of_Birth'])
      expect(() => parsePlainFields(text)).toThrow(/BW_PROFILE_PLAIN_FIELDS: .* name personal data/);
    expect(() => parsePlainFields('tier;city')).toThrow(/expected name,name/);
  });

  it('refuses values too long and fields past the bound per customer, and counts them', () => {
    const { pii, sealer } = setup();
    const many: Record<string, string> = {};
    for (let i = 0; i < MAX_PERSONAL_FIELDS + 3; i++) many[`f${i}`] = `v${i}`;
    expect(pii.onProfile(0, 'c1', { note: 'x'.repeat(MAX_PERSONAL_VALUE_LENGTH + 1), ...many })).toEqual({
      dropped: 0,
      refused: 4,
    });
    expect(Object.keys(sealer().openPii('c1', pii.sealed(0)!))).toHaveLength(MAX_PERSONAL_FIELDS);
  });
});
