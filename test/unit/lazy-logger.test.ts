import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from '../../api/lazy-logger.js';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info', redact: ['secret'] }, sink), lines };
}

describe('lazy child logger', () => {
  it('makes the child only when a request logs', () => {
    const { logger } = capture();
    let made = 0;
    const parent = Object.create(logger) as FastifyBaseLogger;
    parent.child = (bindings, options) => {
      made++;
      return logger.child(bindings, options);
    };
    const idle = lazyChildLogger(parent, { reqId: 'req-1' }, {});
    expect(idle.level).toBe('info');
    expect(made).toBe(0);
    const loud = lazyChildLogger(parent, { reqId: 'req-2' }, {});
    loud.warn('one');
    loud.error('two');
    expect(made).toBe(1);
  });

  it('logs with the request bindings and the parent redaction, children included', async () => {
    const { logger, lines } = capture();
    const log = lazyChildLogger(logger, { reqId: 'req-3' }, {});
    log.debug('below the level');
    log.warn({ secret: 'tok', code: 'X' }, 'refused');
    log.child({ step: 'x' }).info('nested');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      reqId: 'req-3',
      code: 'X',
      secret: '[Redacted]',
      msg: 'refused',
      level: 40,
    });
    expect(lines[1]).toMatchObject({ reqId: 'req-3', step: 'x', msg: 'nested', level: 30 });
  });
});
