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

/** One phase of a subscription schedule (the parts the bots read). */
export interface StripeSubscriptionSchedulePhase {
  /** Unix seconds. */
  readonly start_date: number;
  /** Unix seconds; Stripe always sends it today, but an open-ended phase is read as one without an end. */
  readonly end_date?: number | null;
  readonly description?: string | null;
}

export interface StripeSubscriptionSchedule extends StripeObject {
  readonly object: 'subscription_schedule';
  readonly id: string;
  readonly status: 'not_started' | 'active' | 'completed' | 'released' | 'canceled';
  readonly customer: Expandable<{ id: string }> | null;
  readonly created: number;
  readonly canceled_at?: number | null;
  readonly completed_at?: number | null;
  readonly released_at?: number | null;
  /** The subscription the schedule manages, from the moment it starts; null after release. */
  readonly subscription?: Expandable<{ id: string }> | null;
  /** The subscription the schedule let go of when it was released. */
  readonly released_subscription?: string | null;
  readonly end_behavior?: string | null;
  readonly current_phase?: { readonly start_date: number; readonly end_date: number } | null;
  readonly phases?: readonly StripeSubscriptionSchedulePhase[];
  readonly default_settings?: { readonly description?: string | null } | null;
}

/** A PaymentIntent (`pi_…`). `invoice` exists before API 2025-03-31 only. */
export interface StripePaymentIntent extends StripeObject {
  readonly id: string;
  readonly object: 'payment_intent';
  readonly status:
    | 'requires_payment_method'
    | 'requires_confirmation'
    | 'requires_action'
    | 'processing'
    | 'requires_capture'
    | 'canceled'
    | 'succeeded';
  readonly amount: number;
  readonly amount_received: number;
  readonly currency: string;
  readonly created: number;
  readonly canceled_at?: number | null;
  readonly cancellation_reason?: string | null;
  readonly customer?: Expandable<{ id: string }> | null;
  readonly description?: string | null;
  /** An id in webhooks; the Charge when expanded. */
  readonly latest_charge?: Expandable<{ id: string; created?: number }> | null;
  /** Before 2025-03-31. */
  readonly invoice?: Expandable<{ id: string }> | null;
}

/** A Refund (`re_…`). `payment_intent` is null for refunds of charges made without one. */
export interface StripeRefund extends StripeObject {
  readonly id: string;
  readonly object: 'refund';
  readonly status: 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled' | null;
  readonly amount: number;
  readonly currency: string;
  readonly created: number;
  readonly charge?: Expandable<{ id: string }> | null;
  readonly payment_intent?: Expandable<{ id: string }> | null;
  readonly reason?: string | null;
  readonly failure_reason?: string | null;
}

/** A Charge (`ch_…`); `refunds` is included on API versions before 2022-11-15 only (or when expanded). */
export interface StripeCharge extends StripeObject {
  readonly id: string;
  readonly object: 'charge';
  readonly amount: number;
  readonly amount_refunded: number;
  readonly currency: string;
  readonly created: number;
  readonly payment_intent?: Expandable<{ id: string }> | null;
  readonly refunds?: { readonly data: readonly StripeRefund[]; readonly has_more?: boolean } | null;
  /** Before 2025-03-31. */
  readonly invoice?: Expandable<{ id: string }> | null;
}

/** An InvoicePayment (API 2025-03-31 and later): links an invoice to a payment. */
export interface StripeInvoicePayment extends StripeObject {
  readonly id: string;
  readonly object: 'invoice_payment';
  readonly status: string;
  readonly invoice: Expandable<{ id: string }> | null;
  readonly amount_paid: number | null;
  readonly amount_requested: number;
  readonly currency: string;
  readonly created: number;
  readonly payment: {
    readonly type: string;
    readonly payment_intent?: Expandable<{ id: string }> | null;
    readonly charge?: Expandable<{ id: string }> | null;
  };
  readonly status_transitions?: { readonly paid_at?: number | null; readonly canceled_at?: number | null } | null;
}

/** A Customer (`cus_…`); `deleted: true` on the object of `customer.deleted` in some API versions. */
export interface StripeCustomer extends StripeObject {
  readonly id: string;
  readonly object: 'customer';
  readonly created?: number;
  readonly deleted?: boolean;
}

/** A Checkout Session (`cs_…`), the object of `checkout.session.*` events (also behind Payment Links). */
export interface StripeCheckoutSession extends StripeObject {
  readonly id: string;
  readonly object: 'checkout.session';
  readonly mode: 'payment' | 'setup' | 'subscription' | string;
  readonly status?: 'open' | 'complete' | 'expired' | null;
  readonly payment_status?: 'paid' | 'unpaid' | 'no_payment_required' | null;
  readonly amount_total?: number | null;
  readonly amount_subtotal?: number | null;
  readonly currency?: string | null;
  readonly created: number;
  /** The buyer-editable reference of a Payment Link URL (`?client_reference_id=…`). */
  readonly client_reference_id?: string | null;
  readonly customer?: Expandable<{ id: string }> | null;
  readonly payment_intent?: Expandable<{ id: string }> | null;
  readonly subscription?: Expandable<{ id: string }> | null;
  readonly invoice?: Expandable<{ id: string }> | null;
  readonly payment_link?: Expandable<{ id: string }> | null;
  readonly total_details?: { readonly amount_tax?: number | null; readonly amount_discount?: number | null } | null;
}

/** One item of a subscription: a price (of a product) and a quantity. */
export interface StripeSubscriptionItem {
  readonly id: string;
  readonly object?: 'subscription_item';
  readonly price?: { readonly id: string; readonly product?: Expandable<{ id: string }> | null } | null;
  readonly quantity?: number | null;
  /** Since 2025-03-31 (on the subscription before). */
  readonly current_period_start?: number | null;
  readonly current_period_end?: number | null;
}

/** A Subscription (`sub_…`). The current period is on the subscription before API 2025-03-31, on its items after. */
export interface StripeSubscription extends StripeObject {
  readonly object: 'subscription';
  readonly id: string;
  readonly status: string;
  readonly customer: Expandable<{ id: string }> | null;
  readonly created: number;
  readonly start_date?: number | null;
  readonly ended_at?: number | null;
  readonly canceled_at?: number | null;
  readonly cancel_at?: number | null;
  readonly trial_start?: number | null;
  readonly trial_end?: number | null;
  readonly description?: string | null;
  /** The schedule that manages the subscription, when one does. */
  readonly schedule?: Expandable<{ id: string }> | null;
  readonly items?: { readonly data: readonly StripeSubscriptionItem[]; readonly has_more?: boolean } | null;
  /** Before 2025-03-31. */
  readonly current_period_start?: number | null;
  readonly current_period_end?: number | null;
}
