/**
 * The engine's security state in the main thread: the PII keyring (reloaded when its file changes,
 * then handed to the workers, which re-seal), masks, API keys, the audit log and its stream copy,
 * the customer budget (BW_EXPORT_LIMIT) and the enumeration detector, and security alerts on
 * `bw.alerts.security`.
 */
import { watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { SECURITY_ALERTS_SUBJECT } from '../contract/subjects.js';
import { type ApiKeys, loadApiKeys } from './api-keys.js';
import { AuditStreamCopy } from './audit-copy.js';
import { type AuditEntry, AuditLog, type AuditRecord } from './audit-log.js';
import { CustomerBudget } from './customer-budget.js';
import { EnumerationDetector } from './enumeration-detector.js';
import { Masker, parseMasks } from './masking.js';
import { keyringOrigin, loadKeyring, type PiiKeyring, type PiiKeyringData } from './pii-keyring.js';
import { PiiSealer } from './pii-sealer.js';

/** The settings security reads (a subset of the engine's configuration). */
export interface SecuritySettings {
  dataDir: string;
  piiCipher: 'aes-256-gcm' | 'sm4';
  piiKey?: string | undefined;
  piiKeyFile?: string | undefined;
  piiMasks?: string | undefined;
  apiKeys?: string | undefined;
  apiKeysFile?: string | undefined;
  metricsPublic: boolean;
  exportLimit: number;
  auditFile?: string | undefined;
  auditFlushMs: number;
  auditMaxMb: number;
}

const AUDIT_SUBJECT_PREFIX = 'bw.audit';

/** Largest audit stream message: well under nats-server's default 1 MB payload limit. */
const AUDIT_MESSAGE_BYTES = 256 * 1024;

/** A turn's NDJSON records cut at line ends into messages of at most AUDIT_MESSAGE_BYTES. */
export function auditPieces(lines: string): string[] {
  if (lines.length <= AUDIT_MESSAGE_BYTES / 4) return [lines];
  const pieces: string[] = [];
  let start = 0;
  while (start < lines.length) {
    let end = start;
    let bytes = 0;
    while (end < lines.length) {
      const nl = lines.indexOf('\n', end);
      const next = nl < 0 ? lines.length : nl + 1;
      const size = Buffer.byteLength(lines.slice(end, next));
      if (bytes > 0 && bytes + size > AUDIT_MESSAGE_BYTES) break;
      bytes += size;
      end = next;
    }
    pieces.push(lines.slice(start, end));
    start = end;
  }
  return pieces;
}

/** Counters the engine keeps for the audit stream copy (its metrics). */
export interface AuditCopyMetrics {
  onFailure(): void;
  onDrop(messages: number): void;
}

/** Messages of audit records waiting for the BW_AUDIT stream at most (each at most 256 KB). */
const AUDIT_COPY_QUEUE = 1024;
/** Longest wait at shutdown for the stream to acknowledge the last records. */
const AUDIT_COPY_CLOSE_MS = 3_000;

export interface SecurityAlert {
  kind: 'export_limit' | 'auth_failures' | 'enumeration';
  actor: string;
  role: string | null;
  route: string;
  ip: string;
  detail: string;
  /** Hash of the audit record of the refused request. */
  audit_hash: string;
  at: string;
}

export class EngineSecurity {
  readonly masker: Masker;
  readonly apiKeys: ApiKeys;
  readonly audit: AuditLog;
  /** Distinct customers per key and hour, every customer-data route (BW_EXPORT_LIMIT). */
  readonly customerBudget: CustomerBudget;
  readonly enumeration = new EnumerationDetector();
  /** The audit records' copy in the BW_AUDIT stream, acknowledged (audit-copy.ts). */
  readonly auditCopy: AuditStreamCopy;
  readonly metricsPublic: boolean;
  #sealer: PiiSealer;
  readonly #js: JetStreamClient;
  readonly #log: Logger;
  readonly #closers: (() => void)[] = [];

  private constructor(
    config: SecuritySettings,
    parts: {
      keyring: PiiKeyring;
      apiKeys: ApiKeys;
      audit: AuditLog;
      auditCopy: AuditStreamCopy;
      js: JetStreamClient;
      log: Logger;
    },
  ) {
    this.masker = new Masker(parseMasks(config.piiMasks));
    this.apiKeys = parts.apiKeys;
    this.audit = parts.audit;
    this.customerBudget = new CustomerBudget(config.exportLimit);
    this.auditCopy = parts.auditCopy;
    this.metricsPublic = config.metricsPublic;
    this.#sealer = new PiiSealer(parts.keyring);
    this.#js = parts.js;
    this.#log = parts.log;
  }

  /** Loads keys and opens the audit log; BW_ERR_PII_KEY / BW_ERR_API_KEYS stop the start. */
  static async start(
    config: SecuritySettings,
    nc: NatsConnection,
    js: JetStreamClient,
    log: Logger,
    metrics?: AuditCopyMetrics,
  ): Promise<EngineSecurity> {
    const source = {
      cipher: config.piiCipher,
      key: config.piiKey,
      keyFile: config.piiKeyFile,
      dataDir: config.dataDir,
    };
    const { keyring, generated } = await loadKeyring(source);
    if (generated) {
      log.warn(
        { component: 'security', file: keyringOrigin(source) },
        'PII key generated in the data directory: set BW_PII_KEY or BW_PII_KEY_FILE to a key kept elsewhere',
      );
    }
    const apiKeys = await loadApiKeys(config.apiKeys, config.apiKeysFile);
    const instance = os.hostname().replace(/[^A-Za-z0-9_-]/g, '_') || 'engine';
    // Every record also goes to the BW_AUDIT stream: each write's records as one NDJSON message,
    // published with acknowledgement, retried, failures counted and logged (audit-copy.ts).
    const auditCopy = new AuditStreamCopy(
      js,
      {
        subject: `${AUDIT_SUBJECT_PREFIX}.${instance}`,
        instance,
        maxPending: AUDIT_COPY_QUEUE,
        ...(metrics ? { onFailure: metrics.onFailure, onDrop: metrics.onDrop } : {}),
      },
      log,
    );
    const audit = AuditLog.open(config.auditFile!, {
      flushMs: config.auditFlushMs,
      maxBytes: config.auditMaxMb * 1024 * 1024,
      onFlush: (lines: string) => {
        if (nc.isClosed()) return;
        for (const piece of auditPieces(lines)) auditCopy.push(piece);
      },
    });
    if (audit.tornTail) {
      log.error(
        { component: 'security', file: config.auditFile },
        'the audit log ends in a torn line (crash or full disk); the chain continues from the last whole record',
      );
    }
    const security = new EngineSecurity(config, { keyring, apiKeys, audit, auditCopy, js, log });
    log.info(
      {
        component: 'security',
        cipher: keyring.cipher,
        key_id: keyring.current.id,
        keys: keyring.keys.length,
        api_keys: apiKeys.size,
        audit: config.auditFile,
      },
      'security configured',
    );
    return security;
  }

  get sealer(): PiiSealer {
    return this.#sealer;
  }

  get keyringData(): PiiKeyringData {
    return this.#sealer.keyring.toData();
  }

  /**
   * Watches BW_PII_KEY_FILE: a valid new keyring replaces the current one and `onChange` hands it
   * to the workers (which re-seal); an invalid edit is logged and ignored.
   */
  watchKeyFile(config: SecuritySettings, onChange: (data: PiiKeyringData) => Promise<number>): void {
    const file = config.piiKeyFile;
    if (!file || config.piiKey) return;
    let debounce: NodeJS.Timeout | undefined;
    const watcher = watch(path.dirname(file), (_event, name) => {
      if (name !== path.basename(file)) return;
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        loadKeyring({ cipher: config.piiCipher, keyFile: file, dataDir: config.dataDir })
          .then(async ({ keyring }) => {
            // Same ids and secrets, in the same order: nothing changed (an editor touched the file).
            if (keyring.fingerprint === this.#sealer.keyring.fingerprint) return;
            this.#sealer = new PiiSealer(keyring);
            const resealed = await onChange(keyring.toData());
            this.#log.info(
              { component: 'security', key_id: keyring.current.id, resealed },
              'PII keyring reloaded',
            );
          })
          .catch((err: unknown) =>
            this.#log.error(
              { component: 'security', err },
              'PII key file rejected; keeping the previous keyring',
            ),
          );
      }, 300);
    });
    watcher.on('error', (err) => this.#log.warn({ component: 'security', err }, 'PII key file watch failed'));
    this.#closers.push(() => {
      clearTimeout(debounce);
      watcher.close();
    });
  }

  /** Appends an audit record; `now`: written before this returns (not after BW_AUDIT_FLUSH_MS). */
  record(entry: AuditEntry, now = false): AuditRecord {
    const record = this.audit.append(entry);
    if (now) this.audit.flush();
    return record;
  }

  /** Publishes a security alert (deduplicated by the audit record's hash). */
  alert(alert: SecurityAlert): void {
    this.#log.warn(
      { component: 'security', kind: alert.kind, actor: alert.actor, route: alert.route },
      'security alert',
    );
    this.#js
      .publish(SECURITY_ALERTS_SUBJECT, JSON.stringify(alert), { msgID: `security-${alert.audit_hash}` })
      .catch((err: unknown) =>
        this.#log.error({ component: 'security', err }, 'cannot publish a security alert'),
      );
  }

  /** Closes the audit log, then waits a little for the stream to acknowledge its last records. */
  async close(): Promise<void> {
    for (const close of this.#closers) close();
    this.audit.close();
    await this.auditCopy.close(AUDIT_COPY_CLOSE_MS);
  }
}
