/**
 * Who is calling and what they may do. Every route declares a permission (`config.permission`,
 * default `read`); `/healthz`, `/readyz` (and `/metrics` with BW_METRICS_PUBLIC) are public. With
 * API keys, a request needs `Authorization: Bearer <key>` (401 BW_ERR_UNAUTHORIZED) whose role has
 * the permission (403 BW_ERR_FORBIDDEN). Without keys the engine listens on loopback only and every
 * caller is `local` with the admin role. Refusals are audited; repeated 401s from one address
 * raise a security alert. Requests per key and minute are limited (BW_RATE_LIMIT).
 */
import rateLimit from '@fastify/rate-limit';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import { allows, type Permission, type Principal } from '../security/api-keys.js';
import type { AuditEntry } from '../security/audit-log.js';
import type { EngineSecurity, SecurityAlert } from '../security/engine-security.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the caller's role needs for this route (default `read`). */
    permission?: Permission;
    /** No API key needed. */
    public?: boolean;
    /** The route reads customer data: every request is written to the audit log. */
    audit?: boolean;
    /** A stream that ends when the client closes it (server-sent events): a close is not a failure. */
    stream?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** What an audited route's answer carried, set by its handler. */
    auditInfo: AuditInfo | null;
  }
}

/** What a route's handler tells the audit hook about its answer. */
type AuditInfo = Pick<AuditEntry, 'customers' | 'fields' | 'pii'> &
  Partial<Pick<AuditEntry, 'customer_id' | 'detail' | 'outcome'>> & {
    /** Raise a security alert carrying the audit record's hash. */
    alert?: { kind: SecurityAlert['kind']; detail: string };
  };

const LOCAL: Principal = { name: 'local', role: 'admin' };
/** Host headers served without API keys: loopback names and addresses, any port. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?$/i;
/** 401s from one address within a minute before a security alert. */
const AUTH_FAILURE_ALERT = 20;

function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unknown';
}

export function auditEntry(request: FastifyRequest, status: number): AuditEntry {
  const info = request.auditInfo;
  return {
    actor: request.principal?.name ?? 'anonymous',
    role: request.principal?.role ?? 'none',
    method: request.method,
    route: routeOf(request),
    status,
    outcome:
      status === 401 || status === 403
        ? 'denied'
        : status === 429
          ? 'refused'
          : status >= 400
            ? 'failed'
            : 'ok',
    customers: info?.customers ?? 0,
    ...(info?.customer_id !== undefined ? { customer_id: info.customer_id } : {}),
    fields: info?.fields ?? [],
    pii: info?.pii ?? 'none',
    ip: request.ip,
    request_id: request.id,
    ...(info?.detail !== undefined ? { detail: info.detail } : {}),
    ...(info?.outcome !== undefined ? { outcome: info.outcome } : {}),
  };
}

/** Throws BW_ERR_FORBIDDEN unless the caller's role has `permission`. */
export function demand(request: FastifyRequest, permission: Permission): Principal {
  const principal = request.principal;
  if (!principal) throw new BellwetherError('BW_ERR_UNAUTHORIZED');
  if (!allows(principal.role, permission)) {
    throw new BellwetherError('BW_ERR_FORBIDDEN', `role ${principal.role} lacks ${permission}`);
  }
  return principal;
}

export async function installAuth(
  app: FastifyInstance,
  security: EngineSecurity,
  rateLimitPerMinute: number,
): Promise<void> {
  app.decorateRequest('principal', null);
  app.decorateRequest('auditInfo', null);
  const keyed = security.apiKeys.size > 0;
  const failures = new Map<string, { minute: number; count: number }>();

  /** Counts a failed authentication of the request's address this minute; returns the count. */
  const onFailure = (request: FastifyRequest): number => {
    const minute = Math.floor(Date.now() / 60_000);
    let f = failures.get(request.ip);
    if (!f || f.minute !== minute) {
      if (failures.size > 10_000) failures.clear();
      failures.set(request.ip, (f = { minute, count: 0 }));
    }
    if (++f.count === AUTH_FAILURE_ALERT) {
      const detail = `${AUTH_FAILURE_ALERT} requests with a missing or unknown API key within a minute`;
      request.auditInfo = {
        customers: 0,
        fields: [],
        pii: 'none',
        detail,
        alert: { kind: 'auth_failures', detail },
      };
    }
    return f.count;
  };

  // 1. Audited routes, and every refusal on any route, are recorded when the response closes:
  // finished, or cut off (a client that disconnects mid-export, a stream that fails), which
  // Fastify's onResponse hook does not see.
  // Hooks take a callback (not async): no promise per hook and request on the hot read path.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const audited = request.routeOptions.config.audit === true;
    reply.raw.once('close', () => {
      const status = reply.statusCode;
      const refused = status === 401 || status === 403 || status === 429;
      if (!audited && !refused) return;
      const entry = auditEntry(request, status);
      if (
        !reply.raw.writableFinished &&
        entry.outcome === 'ok' &&
        request.routeOptions.config.stream !== true
      ) {
        entry.outcome = 'failed';
        entry.detail = `connection closed before the answer was complete${entry.detail ? `; ${entry.detail}` : ''}`;
      }
      const record = security.record(entry);
      const alert = request.auditInfo?.alert;
      if (alert) {
        security.alert({
          kind: alert.kind,
          actor: record.actor,
          role: request.principal?.role ?? null,
          route: record.route,
          ip: record.ip,
          detail: alert.detail,
          audit_hash: record.hash,
          at: record.ts,
        });
      }
    });
    done();
  });

  /** The caller a request presents (its key's principal), undefined without a valid key. */
  const presented = (request: FastifyRequest): Principal | undefined => {
    if (!keyed) return LOCAL;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
    return match ? security.apiKeys.lookup(match[1]!) : undefined;
  };

  // 2. Requests per minute per key (per address without a valid key). The plugin hooks each route,
  // so it runs after the authentication hook below, which limits failed authentications itself.
  if (rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: rateLimitPerMinute,
      timeWindow: 60_000,
      hook: 'onRequest',
      keyGenerator: (request) => {
        const principal = presented(request);
        if (principal) request.principal = principal;
        return principal ? `key:${principal.name}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) =>
        new BellwetherError(
          'BW_ERR_RATE_LIMITED',
          `${context.max} requests per minute; retry in ${context.after}`,
        ),
    });
  }

  // Who the caller is, without a 401 (a browser logs every 401 as an error): the console asks this
  // first and shows its key prompt only when keys are required and it has no valid one.
  app.get(
    '/v1/whoami',
    {
      config: { public: true },
      schema: {
        summary:
          'Whether API keys are required, and the name and role of the key sent (null when none or unknown)',
        tags: ['ops'],
        response: {
          200: Type.Object({
            keys_required: Type.Boolean(),
            name: Type.Union([Type.String(), Type.Null()]),
            role: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      if (!keyed) return { keys_required: false, name: LOCAL.name, role: LOCAL.role };
      const principal = request.principal ?? presented(request);
      if (!principal && request.headers.authorization !== undefined) onFailure(request);
      return { keys_required: true, name: principal?.name ?? null, role: principal?.role ?? null };
    },
  );

  // 3. Authentication and the route's permission.
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    try {
      authenticate(request);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });

  function authenticate(request: FastifyRequest): void {
    const config = request.routeOptions.config;
    if (!keyed && !LOOPBACK_HOST.test(request.headers.host ?? '')) {
      // Without keys every local caller is admin: a browser page that rebinds its own name to
      // 127.0.0.1 must not be one of them (DNS rebinding).
      throw new BellwetherError('BW_ERR_FORBIDDEN', 'without API keys only a loopback Host is served');
    }
    if (config.public || (config.permission === 'metrics' && security.metricsPublic)) return;
    const principal = request.principal ?? presented(request);
    if (!principal) {
      // The rate limiter applies per route, after this hook: failures are limited here, per address.
      if (onFailure(request) > rateLimitPerMinute && rateLimitPerMinute > 0) {
        throw new BellwetherError(
          'BW_ERR_RATE_LIMITED',
          `${rateLimitPerMinute} failed authentications per minute`,
        );
      }
      const header = request.headers.authorization;
      throw new BellwetherError(
        'BW_ERR_UNAUTHORIZED',
        typeof header === 'string' && header.startsWith('Bearer ')
          ? 'unknown API key'
          : 'send Authorization: Bearer <key>',
      );
    }
    request.principal = principal;
    demand(request, config.permission ?? 'read');
  }
}
