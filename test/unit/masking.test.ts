import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { logRedaction, Masker, parseMasks, personalKind } from '../../security/masking.js';

describe('masks', () => {
  const masker = new Masker();

  it('applies the defaults of the plans', () => {
    expect(masker.mask('phone', '13812345678')).toBe('138****5678');
    expect(masker.mask('email', 'zhang.san@example.com')).toBe('z********@example.com');
    expect(masker.mask('name', '张三丰')).toBe('张**');
    expect(masker.mask('id_number', '110101199003074514')).toBe('**************4514');
    expect(masker.mask('birthday', '1990-03-07')).toBe('1990******');
    expect(masker.mask('address', '北京市朝阳区建国路88号')).toBe('北京市朝阳区******');
  });

  it('masks what is too short to keep ends of, unknown fields and addresses without @ whole', () => {
    expect(masker.mask('phone', '1234567')).toBe('*******');
    expect(masker.mask('nickname', 'neo')).toBe('***');
    expect(masker.mask('email', 'not-an-email')).toBe('n***********');
    expect(masker.mask('name', '')).toBe('');
  });

  it('masks a field by its kind whatever its spelling (case, separators, common aliases)', () => {
    expect(masker.mask('Phone', '13812345678')).toBe('138****5678');
    expect(masker.mask('MOBILE_PHONE', '13812345678')).toBe('138****5678');
    expect(masker.mask('cell', '13812345678')).toBe('138****5678');
    expect(masker.mask('E-Mail', 'zhang@example.com')).toBe('z****@example.com');
    expect(masker.mask('full_name', '张三丰')).toBe('张**');
    expect(masker.mask('firstName', 'Anna')).toBe('A***');
    expect(masker.mask('idNumber', '110101199003074514')).toBe('**************4514');
    expect(masker.mask('Date of Birth', '1990-03-07')).toBe('1990******');
    expect(personalKind('SSN')).toBe('id_number');
    expect(personalKind('tier')).toBeUndefined();
    expect(personalKind('constructor')).toBeUndefined();
  });

  it('takes per-field overrides, including hiding a phone’s last four digits', () => {
    const custom = new Masker(parseMasks('phone:7:0, nickname:1:1'));
    expect(custom.mask('phone', '13812345678')).toBe('1381234****');
    expect(custom.mask('nickname', 'neo')).toBe('n*o');
    expect(custom.mask('email', 'ab@x.org')).toBe('a*@x.org');
    expect(() => parseMasks('phone=3,4')).toThrow(/BW_PII_MASKS/);
  });
});

describe('log lines', () => {
  it('mask personal fields and hide credentials through the same masks', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = pino({ redact: logRedaction(new Masker()) }, sink);
    log.info({ event: { props: { phone: '13812345678', email: 'li@example.com' } } }, 'x');
    log.info({ pii: { name: '王小明' }, req: { headers: { authorization: 'Bearer bw_secret' } } }, 'y');
    const text = lines.join('');
    expect(text).not.toContain('13812345678');
    expect(text).not.toContain('li@example.com');
    expect(text).not.toContain('王小明');
    expect(text).not.toContain('bw_secret');
    expect(text).toContain('138****5678');
    expect(text).toContain('l*@example.com');
  });
});
