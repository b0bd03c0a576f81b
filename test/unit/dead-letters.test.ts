import { describe, expect, it } from 'vitest';
import { deadLetter, MAX_DEAD_LETTER_BODY } from '../../engine/nats/dead-letters.js';
import { deadLetterAad, openDeadLetterBody, openSealedBytes, seal } from '../../security/pii-cipher.js';
import { PiiKeyring } from '../../security/pii-keyring.js';

const keyring = PiiKeyring.parse(`k1:${'a1'.repeat(32)}`, 'aes-256-gcm', 'test');

describe('dead letters', () => {
  it('seal the original bytes, bound to their stream sequence, with headers saying why', () => {
    const data = new TextEncoder().encode('{"phone":"13812345678"');
    const letter = deadLetter(
      { subject: 'bw.part.1.profile', seq: 42, data },
      'not_json',
      'body is not JSON',
      keyring,
      'BW_EVENTS_1',
    );
    expect(letter.subject).toBe('bw.dlq.not_json');
    // Sequences are per partition stream: the id names the stream (BW_EVENTS in the single layout).
    expect(letter.msgID).toBe('dlq-BW_EVENTS_1-42');
    expect(letter.headers.get('Bw-Stream')).toBe('BW_EVENTS_1');
    expect(letter.body).not.toContain('138');
    expect(letter.headers.get('Bw-Sealed')).toBe('k1');
    expect(letter.headers.get('Bw-Error-Code')).toBe('BW_ERR_EVENT_SCHEMA');
    expect(openSealedBytes(keyring, letter.body, deadLetterAad(42, 'BW_EVENTS_1')).toString('utf8')).toBe(
      '{"phone":"13812345678"',
    );
    // Bound to its stream and sequence: another partition's letter 42, or letter 43, does not open.
    expect(() => openSealedBytes(keyring, letter.body, deadLetterAad(43, 'BW_EVENTS_1'))).toThrow(
      /fails authentication/,
    );
    expect(() => openSealedBytes(keyring, letter.body, deadLetterAad(42, 'BW_EVENTS_2'))).toThrow(
      /fails authentication/,
    );
    // Letters sealed before the stream was bound (no Bw-Stream header) still open by sequence.
    const old = seal(keyring, data, deadLetterAad(7));
    expect(openSealedBytes(keyring, old, deadLetterAad(7, null)).toString('utf8')).toContain('phone');
    // What `dlq read` uses: the stream binding, else the sequence alone; never another sequence.
    expect(openDeadLetterBody(keyring, letter.body, 42, 'BW_EVENTS_1').toString('utf8')).toContain('phone');
    expect(openDeadLetterBody(keyring, old, 7, 'BW_EVENTS_1').toString('utf8')).toContain('phone');
    expect(openDeadLetterBody(keyring, old, 7, null).toString('utf8')).toContain('phone');
    expect(() => openDeadLetterBody(keyring, old, 8, 'BW_EVENTS_1')).toThrow(/fails authentication/);
  });

  it('keep the first 512 KiB of a huge body, under the server payload limit once sealed', () => {
    const data = new Uint8Array(900 * 1024).fill(0x41);
    const letter = deadLetter({ subject: 's', seq: 1, data }, 'oversized', 'too big', keyring, 'BW_EVENTS');
    expect(letter.headers.get('Bw-Truncated')).toBe(String(data.length));
    expect(letter.body.length).toBeLessThan(1024 * 1024);
    expect(openSealedBytes(keyring, letter.body, deadLetterAad(1, 'BW_EVENTS')).length).toBe(
      MAX_DEAD_LETTER_BODY,
    );
  });
});
