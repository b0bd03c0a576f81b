/**
 * The main thread's counters of the engine's own defences: the audit copy in BW_AUDIT
 * (security/audit-copy.ts) and the repairs of the engine's streams (nats/stream-watch.ts).
 */
import { Counter, type Registry } from 'prom-client';
import type { AuditCopyMetrics } from '../security/engine-security.js';

export interface SecurityMetrics {
  auditCopy: AuditCopyMetrics;
  streamRepaired(stream: string): void;
}

export function securityMetrics(registry: Registry): SecurityMetrics {
  const failures = new Counter({
    name: 'bellwether_audit_copy_failures_total',
    help: 'Audit stream copy messages not acknowledged by BW_AUDIT (each failed attempt; retried)',
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'bellwether_audit_copy_dropped_total',
    help: 'Audit stream copy messages given up (queue full, or unacknowledged at shutdown)',
    registers: [registry],
  });
  const repairs = new Counter({
    name: 'bellwether_stream_repairs_total',
    help: 'Engine streams found deleted or altered by someone else, and recreated or set back (each attempt)',
    labelNames: ['stream'],
    registers: [registry],
  });
  return {
    auditCopy: { onFailure: () => failures.inc(), onDrop: (messages) => dropped.inc(messages) },
    streamRepaired: (stream) => repairs.inc({ stream }),
  };
}
