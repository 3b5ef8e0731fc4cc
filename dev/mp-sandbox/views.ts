/**
 * The JSON MercadoPago answers with, built from the sandbox's records. Field
 * names, nesting and date format follow MercadoPago's responses; fields the
 * sandbox does not model are present with MercadoPago's empty values.
 */
import { preferenceBody, preferenceTotal } from './preferences.ts';
import type { MerchantOrderRecord, PaymentRecord, PreferenceRecord, RefundRecord } from './types.ts';
import { mpDate, mpDateOrNull, round2 } from './util.ts';

export interface ViewContext {
  collectorId: number;
  /** Base URL buyers' browsers use to reach the sandbox (init_point). */
  publicUrl: string;
}

export function checkoutUrls(ctx: ViewContext, preferenceId: string): { init_point: string; sandbox_init_point: string } {
  const q = `pref_id=${encodeURIComponent(preferenceId)}`;
  return {
    init_point: `${ctx.publicUrl}/checkout/v1/redirect?${q}`,
    sandbox_init_point: `${ctx.publicUrl}/sandbox/checkout/v1/redirect?${q}`,
  };
}

export function preferenceView(ctx: ViewContext, p: PreferenceRecord) {
  return {
    ...preferenceBody(p),
    id: p.id,
    ...checkoutUrls(ctx, p.id),
    collector_id: ctx.collectorId,
    client_id: String(ctx.collectorId).slice(0, 16),
    date_created: mpDate(p.createdAt),
    date_of_expiration: null,
    operation_type: 'regular_payment',
    marketplace: 'NONE',
    marketplace_fee: 0,
    site_id: p.siteId,
    additional_info: '',
    processing_modes: null,
    internal_metadata: null,
    shipments: { default_shipping_method: null, receiver_address: { zip_code: '', street_name: '', street_number: null } },
  };
}

export function refundView(ctx: ViewContext, r: RefundRecord) {
  return {
    id: r.id,
    payment_id: r.paymentId,
    amount: r.amount,
    metadata: r.metadata,
    source: { id: String(ctx.collectorId), name: 'mp-sandbox', type: 'collector' },
    date_created: mpDate(r.createdAt),
    unique_sequence_number: null,
    refund_mode: 'standard',
    adjustment_amount: 0,
    status: 'approved',
    reason: null,
    labels: [],
    amount_refunded_to_payer: r.amount,
    partition_details: [],
  };
}

const isCard = (p: PaymentRecord): boolean => p.paymentTypeId === 'credit_card' || p.paymentTypeId === 'debit_card' || p.paymentTypeId === 'prepaid_card';

export const refundedAmount = (p: PaymentRecord): number => round2(p.refunds.reduce((s, r) => s + r.amount, 0));

export function paymentView(ctx: ViewContext, p: PaymentRecord) {
  return {
    id: p.id,
    date_created: mpDate(p.createdAt),
    date_approved: mpDateOrNull(p.approvedAt),
    date_last_updated: mpDate(p.updatedAt),
    date_of_expiration: p.status === 'pending' ? mpDate(p.createdAt + 3 * 24 * 3600 * 1000) : null,
    money_release_date: mpDateOrNull(p.approvedAt),
    money_release_status: p.approvedAt === null ? null : 'released',
    operation_type: 'regular_payment',
    issuer_id: isCard(p) ? '3' : null,
    payment_method_id: p.paymentMethodId,
    payment_type_id: p.paymentTypeId,
    payment_method: { id: p.paymentMethodId, type: p.paymentTypeId, issuer_id: isCard(p) ? '3' : null },
    status: p.status,
    status_detail: p.statusDetail,
    currency_id: p.currencyId,
    description: p.description,
    live_mode: false,
    sponsor_id: null,
    authorization_code: p.status === 'approved' ? '301299' : null,
    money_release_schema: null,
    taxes_amount: 0,
    counter_currency: null,
    shipping_amount: 0,
    pos_id: null,
    store_id: null,
    integrator_id: null,
    platform_id: null,
    corporation_id: null,
    collector_id: ctx.collectorId,
    payer: {
      id: String(1_100_000_000 + (p.id % 100_000)),
      email: p.payerEmail,
      identification: { type: null, number: null },
      type: null,
      first_name: null,
      last_name: null,
      phone: { area_code: null, number: null, extension: null },
      entity_type: null,
    },
    marketplace_owner: null,
    metadata: p.metadata,
    additional_info: { items: [] },
    order: { id: String(p.merchantOrderId), type: 'mercadopago' },
    external_reference: p.externalReference === '' ? null : p.externalReference,
    transaction_amount: p.amount,
    transaction_amount_refunded: refundedAmount(p),
    coupon_amount: 0,
    differential_pricing_id: null,
    deduction_schema: null,
    installments: p.installments,
    transaction_details: {
      payment_method_reference_id: null,
      net_received_amount: p.status === 'approved' ? p.amount : 0,
      total_paid_amount: p.amount,
      overpaid_amount: 0,
      external_resource_url: null,
      installment_amount: isCard(p) ? round2(p.amount / p.installments) : 0,
      financial_institution: null,
      payable_deferral_period: null,
      acquirer_reference: null,
    },
    fee_details: [],
    charges_details: [],
    captured: true,
    binary_mode: false,
    call_for_authorize_id: null,
    statement_descriptor: p.statementDescriptor,
    card: isCard(p)
      ? {
        id: null,
        first_six_digits: '503175',
        last_four_digits: '0604',
        expiration_month: 11,
        expiration_year: 2030,
        date_created: mpDate(p.createdAt),
        date_last_updated: mpDate(p.createdAt),
        cardholder: { name: p.cardholderName, identification: { number: null, type: null } },
      }
      : {},
    notification_url: p.notificationUrl,
    refunds: p.refunds.map((r) => refundView(ctx, r)),
    processing_mode: 'aggregator',
    merchant_account_id: null,
    merchant_number: null,
    acquirer_reconciliation: [],
    point_of_interaction: { type: 'CHECKOUT', business_info: { unit: 'online_payments', sub_unit: 'checkout_pro' } },
  };
}

/** `order_status` of a merchant order, from its payments (MercadoPago's aggregation). */
function orderStatus(total: number, payments: PaymentRecord[]): string {
  const paid = round2(payments.filter((p) => p.status === 'approved').reduce((s, p) => s + p.amount, 0));
  const refunded = round2(payments.reduce((s, p) => s + refundedAmount(p), 0));
  const reverted = payments.filter((p) => p.status === 'refunded' || p.status === 'charged_back');
  if (paid === 0 && reverted.length > 0) return 'reverted';
  if (paid > 0 && refunded > 0) return 'partially_reverted';
  if (paid >= total) return 'paid';
  if (paid > 0) return 'partially_paid';
  if (payments.some((p) => p.status === 'in_process' || p.status === 'pending')) return 'payment_in_process';
  return 'payment_required';
}

export function merchantOrderView(
  ctx: ViewContext,
  mo: MerchantOrderRecord,
  pref: PreferenceRecord,
  payments: PaymentRecord[],
) {
  const total = preferenceTotal(pref);
  const paid = round2(payments.filter((p) => p.status === 'approved').reduce((s, p) => s + p.amount, 0));
  const refunded = round2(payments.reduce((s, p) => s + refundedAmount(p), 0));
  return {
    id: mo.id,
    status: paid >= total ? 'closed' : 'opened',
    external_reference: pref.externalReference,
    preference_id: pref.id,
    payments: payments.map((p) => ({
      id: p.id,
      transaction_amount: p.amount,
      total_paid_amount: p.amount,
      shipping_cost: 0,
      currency_id: p.currencyId,
      status: p.status,
      status_detail: p.statusDetail,
      operation_type: 'regular_payment',
      date_approved: mpDateOrNull(p.approvedAt),
      date_created: mpDate(p.createdAt),
      last_modified: mpDate(p.updatedAt),
      amount_refunded: refundedAmount(p),
    })),
    shipments: [],
    payouts: [],
    collector: { id: ctx.collectorId, email: '', nickname: 'TESTSANDBOX' },
    marketplace: 'NONE',
    notification_url: pref.notificationUrl,
    date_created: mpDate(mo.createdAt),
    last_updated: mpDate(mo.updatedAt),
    sponsor_id: null,
    shipping_cost: 0,
    total_amount: total,
    site_id: pref.siteId,
    paid_amount: paid,
    refunded_amount: refunded,
    payer: null,
    items: pref.items.map((i) => ({ ...i })),
    cancelled: false,
    additional_info: '',
    application_id: null,
    is_test: true,
    order_status: orderStatus(total, payments),
    client_id: String(ctx.collectorId),
  };
}

export type PreferenceView = ReturnType<typeof preferenceView>;
export type PaymentView = ReturnType<typeof paymentView>;
export type RefundView = ReturnType<typeof refundView>;
export type MerchantOrderView = ReturnType<typeof merchantOrderView>;
