/**
 * The pure half of `npm run reconcile`: what FHIR resource each Stripe object should have (status
 * and amount, from the project's own mapping in src/fhir/), how the stored resources compare, the
 * per-day report, and the operator event that rebuilds an object from its current state.
 */
import type { Money } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { STRIPE_SYSTEM } from '../../src/constants';
import { invoiceStage, mapInvoice } from '../../src/fhir/invoice';
import { currencyExponent, toMoney } from '../../src/fhir/money';
import { mapReconciliation, planPaymentEvent } from '../../src/fhir/payment';
import { idOf, metadataPatientId } from '../../src/stripe/access';
import type { StripeEvent, StripeInvoice } from '../../src/stripe/types';

/** The Stripe objects the suite maps, as reconcile lists them. */
export const OBJECT_KINDS = [
  'invoice',
  'payment_intent',
  'refund',
  'checkout_session',
  'subscription',
  'customer',
] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** A Stripe object as listed: only the fields read here are typed. */
export interface ListedObject {
  readonly id: string;
  readonly object: string;
  readonly created: number;
  readonly livemode?: boolean;
  readonly [field: string]: unknown;
}

export type FhirType = 'Invoice' | 'PaymentReconciliation' | 'PaymentNotice' | 'Account';

/** Where a FHIR resource of an object is found: its type and the identifier system. */
export interface FhirTarget {
  readonly resourceType: FhirType;
  readonly system: string;
}

/** What one FHIR resource of a Stripe object should say. */
export interface Expectation extends FhirTarget {
  readonly kind: ObjectKind;
  readonly objectId: string;
  /** UTC day of the object's creation, `YYYY-MM-DD`. */
  readonly day: string;
  readonly status: string;
  readonly amount?: Money;
}

/** The parts of a stored resource that reconcile compares. */
export interface StoredState {
  readonly id: string;
  readonly status?: string;
  readonly amount?: Money;
}

export type Problem = 'missing' | 'status' | 'amount';

export interface Finding {
  readonly kind: ObjectKind;
  readonly objectId: string;
  readonly day: string;
  readonly resourceType: FhirType;
  readonly problem: Problem;
  readonly expected: string;
  readonly found: string;
  /** The stored resource, when there is one. */
  readonly reference?: string;
}

/** FHIR resources each kind of object maps to (the payment and refund pairs are two resources). */
export const TARGETS: Readonly<Record<ObjectKind, readonly FhirTarget[]>> = {
  invoice: [{ resourceType: 'Invoice', system: STRIPE_SYSTEM.invoice }],
  payment_intent: [
    { resourceType: 'PaymentReconciliation', system: STRIPE_SYSTEM.paymentIntent },
    { resourceType: 'PaymentNotice', system: STRIPE_SYSTEM.paymentIntent },
  ],
  refund: [
    { resourceType: 'PaymentReconciliation', system: STRIPE_SYSTEM.refund },
    { resourceType: 'PaymentNotice', system: STRIPE_SYSTEM.refund },
  ],
  checkout_session: [{ resourceType: 'Invoice', system: STRIPE_SYSTEM.checkoutSession }],
  subscription: [{ resourceType: 'Account', system: STRIPE_SYSTEM.subscription }],
  customer: [{ resourceType: 'Account', system: STRIPE_SYSTEM.customer }],
};

/** Subscription status → Account.status, as the subscription machine sets it. */
export const SUBSCRIPTION_ACCOUNT_STATUS: Readonly<Record<string, string>> = {
  trialing: 'active',
  active: 'active',
  past_due: 'active',
  incomplete: 'on-hold',
  paused: 'on-hold',
  unpaid: 'on-hold',
  canceled: 'inactive',
  incomplete_expired: 'inactive',
};

/** The event type of the operator event that rebuilds an object from its current state. */
export const REBUILD_EVENT_TYPE: Readonly<Record<ObjectKind, string>> = {
  invoice: 'invoice.updated',
  // Stripe has no `payment_intent.updated`; only succeeded intents are listed.
  payment_intent: 'payment_intent.succeeded',
  refund: 'refund.updated',
  checkout_session: 'checkout.session.completed',
  subscription: 'customer.subscription.updated',
  customer: 'customer.updated',
};

export function utcDay(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}

/** Whether reconcile compares this listed object at all (the suite maps only some of each kind). */
export function isMapped(kind: ObjectKind, object: ListedObject): boolean {
  switch (kind) {
    case 'payment_intent':
      return object.status === 'succeeded';
    case 'checkout_session':
      return (
        object.mode === 'payment' &&
        !object.invoice &&
        (object.payment_status === 'paid' || object.payment_status === 'no_payment_required')
      );
    case 'customer':
      return metadataPatientId(object as never) !== undefined;
    case 'invoice':
      return invoiceStage('invoice.updated', object as unknown as StripeInvoice) !== undefined;
    default:
      return true;
  }
}

function asEvent<T>(type: string, object: ListedObject): StripeEvent<T> {
  return {
    id: 'evt_reconcile',
    object: 'event',
    type,
    created: object.created,
    livemode: object.livemode ?? false,
    data: { object: object as unknown as T },
  };
}

const PLACEHOLDER_PAYEE = { reference: 'Organization/payee' };

/**
 * What the FHIR side of a listed object should say, by the same mapping the bots use. Empty when
 * the object is not one the suite maps (see `isMapped`).
 */
export function expectationsOf(kind: ObjectKind, object: ListedObject): Expectation[] {
  if (!isMapped(kind, object)) {
    return [];
  }
  const base = { kind, objectId: object.id, day: utcDay(object.created) };
  const [first, second] = TARGETS[kind] as [FhirTarget, FhirTarget | undefined];
  switch (kind) {
    case 'invoice': {
      const invoice = object as unknown as StripeInvoice;
      const stage = invoiceStage('invoice.updated', invoice);
      const mapped = mapInvoice(asEvent<StripeInvoice>('invoice.updated', object), stage ?? 'draft', {});
      return [{ ...base, ...first, status: mapped.status, ...(mapped.totalGross && { amount: mapped.totalGross }) }];
    }
    case 'payment_intent':
    case 'refund': {
      const decision = planPaymentEvent(asEvent(REBUILD_EVENT_TYPE[kind], object));
      const plan = 'plans' in decision ? decision.plans[0] : undefined;
      if (plan?.action !== 'upsert') {
        return [];
      }
      const reconciliation = mapReconciliation(plan.facts, undefined, PLACEHOLDER_PAYEE);
      const expected = { status: reconciliation.status, amount: reconciliation.paymentAmount };
      return [first, second as FhirTarget].map((target) => ({ ...base, ...target, ...expected }));
    }
    case 'checkout_session':
      return [
        {
          ...base,
          ...first,
          status: 'balanced',
          amount: toMoney(Number(object.amount_total ?? 0), String(object.currency ?? 'usd')),
        },
      ];
    case 'subscription':
      return [{ ...base, ...first, status: SUBSCRIPTION_ACCOUNT_STATUS[String(object.status)] ?? 'unknown' }];
    case 'customer':
      return [{ ...base, ...first, status: 'active' }];
  }
}

/** Key of a stored resource: type, identifier system and value. */
export function storedKey(resourceType: string, system: string, value: string): string {
  return `${resourceType}|${system}|${value}`;
}

function moneyText(money: Money | undefined): string {
  return money ? `${money.value} ${money.currency}` : 'none';
}

/**
 * Equal amounts, exactly: the same currency, and the stored value is a whole number of the
 * currency's minor units (Stripe's exponent, src/fhir/money.ts) equal to the expected one.
 */
export function sameAmount(expected: Money, found: Money | undefined): boolean {
  if (typeof found?.value !== 'number' || typeof expected.value !== 'number') {
    return false;
  }
  const currency = (expected.currency ?? '').toUpperCase();
  if ((found.currency ?? '').toUpperCase() !== currency) {
    return false;
  }
  const scale = 10 ** currencyExponent(currency);
  const minor = Math.round(found.value * scale);
  return toMoney(minor, currency).value === found.value && minor === Math.round(expected.value * scale);
}

/** Compares what should be with what is stored: one finding per missing or differing resource. */
export function compare(expectations: readonly Expectation[], stored: ReadonlyMap<string, StoredState>): Finding[] {
  const findings: Finding[] = [];
  for (const e of expectations) {
    const found = stored.get(storedKey(e.resourceType, e.system, e.objectId));
    const base = { kind: e.kind, objectId: e.objectId, day: e.day, resourceType: e.resourceType };
    if (!found) {
      findings.push({
        ...base,
        problem: 'missing',
        expected: `${e.status}${e.amount ? `, ${moneyText(e.amount)}` : ''}`,
        found: 'none',
      });
      continue;
    }
    const reference = `${e.resourceType}/${found.id}`;
    if (found.status !== e.status) {
      findings.push({ ...base, problem: 'status', expected: e.status, found: found.status ?? 'none', reference });
    }
    if (e.amount && !sameAmount(e.amount, found.amount)) {
      findings.push({
        ...base,
        problem: 'amount',
        expected: moneyText(e.amount),
        found: moneyText(found.amount),
        reference,
      });
    }
  }
  return findings;
}

export interface DayRow {
  readonly day: string;
  readonly kind: ObjectKind;
  /** Objects Stripe lists that the suite maps. */
  readonly objects: number;
  readonly missing: number;
  readonly status: number;
  readonly amount: number;
}

/** Per UTC day and kind: how many objects, and how many resources are missing or differ. */
export function dayRows(expectations: readonly Expectation[], findings: readonly Finding[]): DayRow[] {
  const rows = new Map<
    string,
    { day: string; kind: ObjectKind; objects: Set<string>; missing: number; status: number; amount: number }
  >();
  const row = (day: string, kind: ObjectKind) => {
    const key = `${day}|${kind}`;
    let r = rows.get(key);
    if (!r) {
      r = { day, kind, objects: new Set(), missing: 0, status: 0, amount: 0 };
      rows.set(key, r);
    }
    return r;
  };
  for (const e of expectations) {
    row(e.day, e.kind).objects.add(e.objectId);
  }
  for (const f of findings) {
    row(f.day, f.kind)[f.problem]++;
  }
  return [...rows.values()]
    .map((r) => ({
      day: r.day,
      kind: r.kind,
      objects: r.objects.size,
      missing: r.missing,
      status: r.status,
      amount: r.amount,
    }))
    .sort((a, b) => a.day.localeCompare(b.day) || OBJECT_KINDS.indexOf(a.kind) - OBJECT_KINDS.indexOf(b.kind));
}

export interface Totals {
  readonly objects: number;
  readonly missing: number;
  readonly status: number;
  readonly amount: number;
}

export function totals(rows: readonly DayRow[]): Totals {
  return rows.reduce(
    (t, r) => ({
      objects: t.objects + r.objects,
      missing: t.missing + r.missing,
      status: t.status + r.status,
      amount: t.amount + r.amount,
    }),
    { objects: 0, missing: 0, status: 0, amount: 0 }
  );
}

/** The report as a text table, one line per day and kind, then the totals and the findings. */
export function reportLines(rows: readonly DayRow[], findings: readonly Finding[], limit = 50): string[] {
  const header = ['day', 'object', 'in Stripe', 'missing', 'status differs', 'amount differs'];
  const body = rows.map((r) => [
    r.day,
    r.kind,
    String(r.objects),
    String(r.missing),
    String(r.status),
    String(r.amount),
  ]);
  const t = totals(rows);
  const all = [
    header,
    ...body,
    ['total', '', String(t.objects), String(t.missing), String(t.status), String(t.amount)],
  ];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const lines = all.map(line);
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  for (const f of findings.slice(0, limit)) {
    lines.push(
      `  ${f.problem.padEnd(7)} ${f.kind} ${f.objectId} → ${f.resourceType}${f.reference ? ` (${f.reference})` : ''}: expected ${f.expected}, found ${f.found}`
    );
  }
  if (findings.length > limit) {
    lines.push(`  … and ${findings.length - limit} more`);
  }
  return lines;
}

/** The object's latest own timestamp: a new state of the object gives a new rebuild event id. */
export function objectVersion(object: ListedObject): number {
  const times = [object.created];
  const transitions = (object.status_transitions ?? {}) as Record<string, unknown>;
  for (const value of [...Object.values(transitions), object.canceled_at, object.ended_at, object.updated]) {
    if (typeof value === 'number') {
      times.push(value);
    }
  }
  return Math.max(...times);
}

/**
 * The operator event that rebuilds `object` from its current state: id
 * `evt_reconcile_<object id>_<version>_<content hash>` (the same object state always gives the same
 * id), and `created` = when reconcile read the object, so that the bots' order rule lets this
 * snapshot replace anything older.
 */
export function rebuildEvent(kind: ObjectKind, object: ListedObject, readAt: number): Record<string, unknown> {
  const hash = createHash('sha256').update(JSON.stringify(object)).digest('hex').slice(0, 8);
  return {
    id: `evt_reconcile_${object.id}_${objectVersion(object)}_${hash}`,
    object: 'event',
    type: REBUILD_EVENT_TYPE[kind],
    created: readAt,
    livemode: object.livemode ?? false,
    api_version: null,
    pending_webhooks: 0,
    request: { id: null, idempotency_key: null },
    data: { object },
  };
}

/** The ids of the Stripe objects an event is about: its object, and for charges and invoice payments, their payments. */
export function eventObjectIds(event: { readonly data?: { readonly object?: unknown } }): string[] {
  const object = event.data?.object as Record<string, unknown> | undefined;
  if (!object) {
    return [];
  }
  const ids = [object.id];
  if (object.object === 'charge') {
    ids.push(idOf(object.payment_intent as string | null | undefined));
    const refunds = (object.refunds as { data?: { id?: string }[] } | null | undefined)?.data ?? [];
    ids.push(...refunds.map((r) => r.id));
  }
  if (object.object === 'invoice_payment') {
    const payment = object.payment as { payment_intent?: string | { id: string } | null } | undefined;
    ids.push(idOf(payment?.payment_intent ?? null));
  }
  return ids.filter((id): id is string => typeof id === 'string' && id.length > 0);
}
