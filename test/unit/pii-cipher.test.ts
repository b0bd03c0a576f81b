import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import {
  fieldAad,
  openRecord,
  openSealed,
  recordFields,
  seal,
  sealedKeyId,
  sealRecord,
} from '../../security/pii-cipher.js';
import { derivedKeyId, loadKeyring, PiiKeyring } from '../../security/pii-keyring.js';
import { PiiSealer } from '../../security/pii-sealer.js';
import { strongPiiKey } from '../support/test-keys.js';

const K1 = `k1:${'11'.repeat(32)}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;

describe('the primitives are the standard ones', () => {
  // GB/T 32907-2016 appendix A.1: one block, key = plaintext = 0123456789abcdeffedcba9876543210.
  it('SM4 matches the standard test vector', () => {
    const key = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
    const c = createCipheriv('sm4-ecb', key, null).setAutoPadding(false);
    const out = Buffer.concat([c.update(key), c.final()]).toString('hex');
    expect(out).toBe('681edf34d206965e86b3e94f536e4246');
  });

  // GB/T 32905-2016 appendix A.1: SM3("abc").
  it('SM3 matches the standard test vector', () => {
    expect(createHash('sm3').update('abc').digest('hex')).toBe(
      '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0',
    );
  });
});

describe.each(['aes-256-gcm', 'sm4'] as const)('sealing with %s', (cipher) => {
  const keyring = PiiKeyring.parse(K1, cipher, 'test');

  it('opens what it sealed, with the key id in the ciphertext and a fresh IV each time', () => {
    const aad = fieldAad('c1', 'phone');
    const a = seal(keyring, '13812345678', aad);
    const b = seal(keyring, '13812345678', aad);
    expect(a).not.toBe(b);
    expect(a).not.toContain('13812345678');
    expect(sealedKeyId(a)).toBe('k1');
    expect(a.split('.')[1]).toBe(cipher === 'sm4' ? 's' : 'g');
    expect(openSealed(keyring, a, aad)).toBe('13812345678');
    expect(openSealed(keyring, seal(keyring, '张三丰', aad), aad)).toBe('张三丰');
  });

  it('refuses a ciphertext moved to another customer or field, or altered', () => {
    const sealed = seal(keyring, 'x@example.com', fieldAad('c1', 'email'));
    expect(() => openSealed(keyring, sealed, fieldAad('c2', 'email'))).toThrow(BellwetherError);
    expect(() => openSealed(keyring, sealed, fieldAad('c1', 'name'))).toThrow(/fails authentication/);
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[4]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[4] = ct.toString('base64url');
    expect(() => openSealed(keyring, parts.join('.'), fieldAad('c1', 'email'))).toThrow(/BW_ERR|fails/);
  });

  it('names an unknown key id', () => {
    const other = PiiKeyring.parse(K2, cipher, 'test');
    const sealed = seal(other, 'v', 'aad');
    expect(() => openSealed(keyring, sealed, 'aad')).toThrow(/key id k2 is not in the keyring/);
  });
});

describe('key rotation', () => {
  it('a keyring with a new first key opens old ciphertexts and re-seals them under the new key', () => {
    const old = new PiiSealer(PiiKeyring.parse(K1, 'aes-256-gcm', 'test'));
    const sealed = old.seal('c9', 'phone', '13900001111');
    const rotated = new PiiSealer(PiiKeyring.parse(`${K2},${K1}`, 'sm4', 'test'));
    expect(rotated.open('c9', 'phone', sealed)).toBe('13900001111');
    const resealed = rotated.reseal('c9', 'phone', sealed);
    expect(sealedKeyId(resealed)).toBe('k2');
    expect(resealed.split('.')[1]).toBe('s');
    expect(rotated.reseal('c9', 'phone', resealed)).toBe(resealed);
    const newOnly = new PiiSealer(PiiKeyring.parse(K2, 'sm4', 'test'));
    expect(newOnly.open('c9', 'phone', resealed)).toBe('13900001111');
  });
});

describe('key text', () => {
  it('accepts hex and base64 keys, derives ids for bare keys, rejects short keys and repeated ids', () => {
    const bare = '22'.repeat(32);
    const ring = PiiKeyring.parse(`${bare}\n# comment\n${K1}`, 'aes-256-gcm', 'test');
    expect(ring.current.id).toBe(derivedKeyId(Buffer.from(bare, 'hex')));
    expect(ring.keys.map((k) => k.id)).toEqual([ring.current.id, 'k1']);
    expect(() => PiiKeyring.parse('k:abcd', 'sm4', 'BW_PII_KEY')).toThrow(
      /BW_PII_KEY entry 1: a key must be 32 bytes/,
    );
    expect(() => PiiKeyring.parse(`${K1},${K1}`, 'sm4', 'x')).toThrow(/k1 repeats/);
    expect(() => PiiKeyring.parse('', 'sm4', 'x')).toThrow(/empty/);
    try {
      PiiKeyring.parse('k:short-secret', 'sm4', 'BW_PII_KEY');
    } catch (err) {
      expect(String(err)).not.toContain('short-secret');
    }
  });

  it('generates a key file (mode 0600) once when no key is configured, then reads it back', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-keys-'));
    try {
      const first = await loadKeyring({ cipher: 'aes-256-gcm', dataDir: dir });
      expect(first.generated).toBe(true);
      const file = path.join(dir, 'pii.key');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const again = await loadKeyring({ cipher: 'aes-256-gcm', dataDir: dir });
      expect(again.keyring.current.secret.equals(first.keyring.current.secret)).toBe(true);
      expect((await readFile(file, 'utf8')).startsWith(`${first.keyring.current.id}:`)).toBe(true);
      const fromEnv = await loadKeyring({ cipher: 'sm4', key: strongPiiKey('k1'), dataDir: dir });
      expect(fromEnv.keyring.current.id).toBe('k1');
      expect(fromEnv.generated).toBe(false);
      // An inline key must clear the entropy bar (32 bytes of 0x11 score 0 bits); a key file need not.
      await expect(loadKeyring({ cipher: 'sm4', key: K1, dataDir: dir })).rejects.toMatchObject({
        code: 'BW_ERR_KEY_WEAK',
        message: expect.stringMatching(/BW_PII_KEY key k1: the key looks weak \(about 0 bits/),
      });
      const keyFile = path.join(dir, 'weak.keys');
      await writeFile(keyFile, `${K1}\n`);
      expect((await loadKeyring({ cipher: 'sm4', keyFile, dataDir: dir })).keyring.current.id).toBe('k1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(['aes-256-gcm', 'sm4'] as const)('records of a customer’s fields with %s', (cipher) => {
  const keyring = PiiKeyring.parse(K1, cipher, 'test');
  const fields = { phone: '13812345678', email: 'x@example.com', name: '张三丰' };

  it('seals every field in one ciphertext with the field names in the clear, and opens it', () => {
    const sealed = sealRecord(keyring, 'c1', fields);
    expect(sealed.startsWith(`bw2.${cipher === 'sm4' ? 's' : 'g'}.k1.email,name,phone.`)).toBe(true);
    expect(sealed).not.toContain('13812345678');
    expect(recordFields(sealed)).toEqual(['email', 'name', 'phone']);
    expect(sealedKeyId(sealed)).toBe('k1');
    expect(openRecord(keyring, sealed, 'c1')).toEqual(fields);
    expect(sealRecord(keyring, 'c1', fields)).not.toBe(sealed);
  });

  it('refuses a record moved to another customer, with its field names changed, or altered', () => {
    const sealed = sealRecord(keyring, 'c1', fields);
    expect(() => openRecord(keyring, sealed, 'c2')).toThrow(/fails authentication/);
    const renamed = sealed.replace('email,name,phone', 'email,name,address');
    expect(() => openRecord(keyring, renamed, 'c1')).toThrow(/fails authentication/);
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[5]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[5] = ct.toString('base64url');
    expect(() => openRecord(keyring, parts.join('.'), 'c1')).toThrow(/fails authentication/);
    expect(() => openRecord(keyring, seal(keyring, 'v', fieldAad('c1', 'phone')), 'c1')).toThrow(/not a bw2/);
  });

  it('keeps plain field names as they are and encodes any other name, which opens back the same', () => {
    const fields = { Phone: '13812345678', 'e.mail,2': 'a@b.c', 电话: '139', __proto__x: 'p' };
    const sealed = sealRecord(keyring, 'c1', fields);
    const front = sealed.split('.')[3]!;
    expect(front.split(',')).toContain('Phone');
    expect(front).not.toContain('e.mail');
    expect(front).not.toContain('电话');
    expect(openRecord(keyring, sealed, 'c1')).toEqual(fields);
    expect(recordFields(sealed)?.sort()).toEqual(Object.keys(fields).sort());
    const proto = sealRecord(keyring, 'c1', JSON.parse('{"__proto__":"x"}') as Record<string, string>);
    const opened = openRecord(keyring, proto, 'c1');
    expect(Object.hasOwn(opened, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(opened, '__proto__')?.value).toBe('x');
    expect(() => sealRecord(keyring, 'c1', { '': 'v' })).toThrow(BellwetherError);
  });
});
