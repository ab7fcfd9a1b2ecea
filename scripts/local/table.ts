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
  const links: string[] = [];
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
      const [type, id] = object.reference.split('/');
      links.push(`${key}→${type}/${shortId(id)}`);
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
      links.push(`${key}→${object.value}`);
      return;
    }
    const identifier = object.identifier as { value?: string } | undefined;
    if (typeof object.type === 'string' && identifier?.value && key !== 'identifier') {
      links.push(`${key}→${object.type}?${identifier.value}`);
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
