/**
 * The customer budget as routes use it: every route that returns customer data charges the
 * customers it returns to the caller's key (BW_EXPORT_LIMIT distinct customers per sliding hour,
 * security/customer-budget.ts) before it sends them, and is refused whole past the limit: 429
 * BW_ERR_EXPORT_LIMIT with `Retry-After`, audited as refused, and (at most once a minute per key)
 * raised on `bw.alerts.security`. Single reads also feed the enumeration detector.
 */
import type { FastifyRequest } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import type { BudgetAnswer } from '../security/customer-budget.js';
import type { EngineSecurity } from '../security/engine-security.js';

/** The key a request's customers are charged to. */
export function budgetKey(request: FastifyRequest): string {
  return request.principal?.name ?? 'anonymous';
}

function refuse(
  request: FastifyRequest,
  security: EngineSecurity,
  asked: number,
  answer: Extract<BudgetAnswer, { ok: false }>,
): never {
  const who = budgetKey(request);
  const detail = `${asked} customers asked, ${answer.used} taken in the last hour, limit ${security.customerBudget.limit}`;
  const before = request.auditInfo;
  // An enumeration alert of this request goes first; refusals alert at most once a minute per key.
  const alert =
    before?.alert ??
    (security.customerBudget.alertDue(who) ? { kind: 'export_limit' as const, detail } : undefined);
  request.auditInfo = {
    customers: 0,
    fields: [],
    pii: 'none',
    outcome: 'refused',
    detail,
    ...(before?.customer_id !== undefined ? { customer_id: before.customer_id } : {}),
    ...(alert ? { alert } : {}),
  };
  throw new BellwetherError('BW_ERR_EXPORT_LIMIT', detail, {
    data: { retry_after_seconds: Math.max(1, Math.ceil(answer.retryAfterMs / 1000)) },
  });
}

/** Refuses a single read before the engine is asked, when the key could not be given the customer. */
export function checkCustomer(request: FastifyRequest, security: EngineSecurity, customer: string): void {
  if (security.customerBudget.allows(budgetKey(request), customer)) return;
  // Refused whether or not the customer exists: past the limit, answers tell nothing.
  const answer = security.customerBudget.take(budgetKey(request), customer);
  if (!answer.ok) refuse(request, security, 1, answer);
}

/** Charges one customer about to be sent, or refuses the read. */
export function chargeCustomer(request: FastifyRequest, security: EngineSecurity, customer: string): void {
  const answer = security.customerBudget.take(budgetKey(request), customer);
  if (!answer.ok) refuse(request, security, 1, answer);
}

/** Charges every customer of a list or export about to be sent, or refuses the whole answer. */
export function chargeCustomers(
  request: FastifyRequest,
  security: EngineSecurity,
  customers: readonly string[],
): void {
  const answer = security.customerBudget.takeAll(budgetKey(request), customers);
  if (!answer.ok) refuse(request, security, customers.length, answer);
}

/** Records what the enumeration detector made of a single read (asked, or found missing). */
export function watchEnumeration(request: FastifyRequest, detail: string | undefined): void {
  if (detail === undefined || !request.auditInfo) return;
  request.auditInfo = { ...request.auditInfo, alert: { kind: 'enumeration', detail } };
}
