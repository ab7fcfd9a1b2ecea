/**
 * The parts of Stripe's objects that the bots read, typed loosely enough to accept both payload
 * shapes: before API 2025-03-31 ("acacia" and older) and after ("basil" and newer). The `stripe`
 * package's own types describe only the newest shape, and its runtime must stay out of the bundles.
 */

/** An expandable field: an id, or the expanded object. */
export type Expandable<T extends { id: string }> = string | T;

export interface StripeEvent<T = StripeObject> {
  readonly id: string;
  readonly object: 'event';
  readonly type: string;
  /** Unix seconds. */
  readonly created: number;
  readonly livemode: boolean;
  readonly api_version?: string | null;
  readonly data: { readonly object: T; readonly previous_attributes?: Record<string, unknown> };
}

export interface StripeObject {
  readonly id?: string;
  readonly object: string;
  readonly livemode?: boolean;
  readonly metadata?: Record<string, string> | null;
}

export interface StripeInvoice extends StripeObject {
  readonly object: 'invoice';
  readonly status: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void' | null;
  readonly currency: string;
  readonly customer: Expandable<{ id: string }> | null;
  readonly created: number;
  readonly total: number;
  readonly subtotal: number;
  readonly total_excluding_tax?: number | null;
  readonly description?: string | null;
  readonly number?: string | null;
  readonly status_transitions?: {
    readonly finalized_at?: number | null;
    readonly paid_at?: number | null;
    readonly voided_at?: number | null;
    readonly marked_uncollectible_at?: number | null;
  } | null;
  readonly lines?: { readonly data: readonly StripeInvoiceLine[]; readonly has_more?: boolean };
  /** Before 2025-03-31. */
  readonly subscription?: Expandable<{ id: string }> | null;
  /** Since 2025-03-31. */
  readonly parent?: {
    readonly subscription_details?: { readonly subscription?: Expandable<{ id: string }> | null } | null;
  } | null;
}

export interface StripeInvoiceLine {
  readonly id: string;
  readonly amount: number;
  readonly currency: string;
  readonly description?: string | null;
  readonly quantity?: number | null;
  readonly discount_amounts?: readonly { readonly amount: number }[] | null;
  /** Before 2025-03-31. */
  readonly price?: Expandable<{ id: string }> | null;
  readonly tax_amounts?: readonly { readonly amount: number }[] | null;
  /** Since 2025-03-31. */
  readonly pricing?: { readonly price_details?: { readonly price?: Expandable<{ id: string }> | null } | null } | null;
  readonly taxes?: readonly { readonly amount: number }[] | null;
}
