import type { Communication, Money, Resource } from '@medplum/fhirtypes';

/** One row of the demo's table. */
export interface ResourceRow {
  readonly type: string;
  readonly id: string;
  readonly identifier: string;
  readonly status: string;
  readonly amount: string;
  readonly links: string;
}

/** Resource types the table lists one per row, in this order; the archive is summed up instead. */
export const TABLE_TYPES = [
  'Patient',
  'Organization',
  'Account',
  'Invoice',
  'PaymentReconciliation',
  'PaymentNotice',
] as const;

/** Ids are UUIDs; the table shows their first 8 characters, enough to follow the links. */
export function shortId(id: string | undefined): string {
  return (id ?? '').slice(0, 8);
}

export function resourceRow(resource: Resource): ResourceRow {
  const r = resource as Resource & {
    identifier?: { value?: string }[];
    status?: string;
    totalGross?: Money;
    paymentAmount?: Money;
    amount?: Money;
  };
  return {
    type: resource.resourceType,
    id: shortId(resource.id),
    identifier: (r.identifier ?? []).map((i) => i.value ?? '').join(', '),
    status: r.status ?? '—',
    amount: money(r.totalGross ?? r.paymentAmount ?? r.amount),
    links: linksOf(resource).join(' '),
  };
}

/** `name→Type/shortid` for every reference in the resource; `name→Type?identifier` for a logical one. */
export function linksOf(resource: Resource): string[] {
  return outgoingLinks(resource).map((link) => {
    if (link.kind === 'reference') {
      const [type, id] = link.target.split('/');
      return `${link.key}→${type}/${shortId(id)}`;
    }
    return `${link.key}→${link.target}`;
  });
}

/** One link out of a resource: a reference (`Type/id`), a Stripe id, or a logical `Type?identifier`. */
interface OutgoingLink {
  readonly key: string;
  readonly kind: 'reference' | 'stripe' | 'logical';
  readonly target: string;
}

function outgoingLinks(resource: Resource): OutgoingLink[] {
  const links: OutgoingLink[] = [];
  const walk = (value: unknown, key: string): void => {
    if (Array.isArray(value)) {
      value.forEach((v) => walk(v, key));
      return;
    }
    if (typeof value !== 'object' || value === null) {
      return;
    }
    const object = value as Record<string, unknown>;
    if (typeof object.reference === 'string') {
      links.push({ key, kind: 'reference', target: object.reference });
      return;
    }
    // A Stripe identifier standing for a resource (e.g. a refund's `predecessor`, the payment intent).
    if (
      typeof object.system === 'string' &&
      object.system.startsWith('https://stripe.com/') &&
      typeof object.value === 'string' &&
      key !== 'identifier' &&
      key !== 'paymentIdentifier'
    ) {
      links.push({ key, kind: 'stripe', target: object.value });
      return;
    }
    const identifier = object.identifier as { value?: string } | undefined;
    if (typeof object.type === 'string' && identifier?.value && key !== 'identifier') {
      links.push({ key, kind: 'logical', target: `${object.type}?${identifier.value}` });
      return;
    }
    for (const [k, v] of Object.entries(object)) {
      if (k !== 'meta' && k !== 'extension') {
        walk(v, k);
      }
    }
  };
  for (const [k, v] of Object.entries(resource)) {
    if (k !== 'meta' && k !== 'extension' && k !== 'id') {
      walk(v, k);
    }
  }
  return links;
}

/**
 * The resources linked to `patient` (`Patient/<id>`): those that point at it (an Account's or an
 * Invoice's `subject`), then, until nothing changes, those that point at a linked one (a subscription
 * Account `partOf` the billing Account, a payment's `request` Invoice, a notice's `payment`, a
 * refund's `predecessor` payment by its Stripe id).
 */
export function linkedToPatient(resources: readonly Resource[], patient: string): Resource[] {
  const linked = new Set<string>([patient]);
  const linkedStripeIds = new Set<string>();
  const found: Resource[] = [];
  let changed = true;
  while (changed) {
    changed = false;
    for (const resource of resources) {
      const reference = `${resource.resourceType}/${resource.id}`;
      if (linked.has(reference)) {
        continue;
      }
      const points = outgoingLinks(resource).some((link) =>
        link.kind === 'stripe' ? linkedStripeIds.has(link.target) : linked.has(link.target)
      );
      if (points) {
        linked.add(reference);
        found.push(resource);
        for (const identifier of (resource as { identifier?: { value?: string }[] }).identifier ?? []) {
          if (identifier.value) {
            linkedStripeIds.add(identifier.value);
          }
        }
        changed = true;
      }
    }
  }
  return found;
}

/** E.g. `Linked to Patient/0c5d1e7a: 3 Accounts, 5 Invoices, …; not linked: 1 Organization`. */
export function patientLinkSummary(resources: readonly Resource[], patient: string): string {
  const linked = new Set(linkedToPatient(resources, patient));
  // Counted in the order of `resources` (the table's), whatever order the links were found in.
  const count = (list: readonly Resource[]) => {
    const byType = new Map<string, number>();
    for (const r of list) {
      byType.set(r.resourceType, (byType.get(r.resourceType) ?? 0) + 1);
    }
    return [...byType].map(([type, n]) => `${n} ${type}${n === 1 ? '' : 's'}`).join(', ');
  };
  const others = resources.filter((r) => !linked.has(r) && r.resourceType !== 'Patient');
  const [type, id] = patient.split('/');
  return (
    `Linked to ${type}/${shortId(id)} (pointing at it, or at what points at it): ` +
    `${count(resources.filter((r) => linked.has(r))) || 'nothing'}` +
    (others.length ? `; not linked: ${count(others)}` : '')
  );
}

function money(value: Money | undefined): string {
  if (value?.value === undefined) {
    return '';
  }
  return `${value.value.toFixed(2)} ${value.currency ?? ''}`.trim();
}

/** The archive in one line: how many events, by status and by note. */
export function archiveSummary(archive: readonly Communication[]): string {
  const byStatus = new Map<string, number>();
  let ignored = 0;
  for (const c of archive) {
    byStatus.set(c.status, (byStatus.get(c.status) ?? 0) + 1);
    if (c.note?.some((n) => n.text?.startsWith('Ignored'))) {
      ignored++;
    }
  }
  const statuses = [...byStatus].map(([status, count]) => `${count} ${status}`).join(', ');
  return `Communication × ${archive.length} (the event archive: ${statuses}; ${ignored} of them ignored)`;
}

/** A plain text table, columns padded to their widest cell. */
export function formatTable(rows: readonly ResourceRow[]): string {
  const header: ResourceRow = {
    type: 'type',
    id: 'id',
    identifier: 'identifier',
    status: 'status',
    amount: 'amount',
    links: 'links',
  };
  const columns = ['type', 'id', 'identifier', 'status', 'amount', 'links'] as const;
  const all = [header, ...rows];
  const widths = columns.map((c) => Math.max(...all.map((r) => r[c].length)));
  const line = (row: ResourceRow) =>
    columns
      .map((c, i) => (c === 'amount' ? row[c].padStart(widths[i] ?? 0) : row[c].padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
