/**
 * The JSON MercadoPago answers with, built from the sandbox's records. Field
 * names, nesting and date format follow MercadoPago's responses; fields the
 * sandbox does not model are present with MercadoPago's empty values.
 */
import { ticketPath } from './offline.ts';
import { preferenceBody } from './preferences.ts';
import { mercadopagoFee } from './sites.ts';
import type { PaymentRecord, PreferenceItem, PreferenceRecord, RefundRecord } from './types.ts';
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
    operation_type: 'regular_payment',
    live_mode: false,
    sponsor_id: null,
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

/** Statuses where MercadoPago collected the money and reports its fees. */
const COLLECTED = new Set(['approved', 'in_mediation', 'charged_back', 'refunded']);

/** `additional_info.items` of a payment: the preference's items, quantity and unit_price as strings, as MercadoPago answers them. */
const additionalItems = (items: PreferenceItem[]) =>
  items.map((i) => ({
    id: i.id,
    title: i.title,
    description: i.description,
    picture_url: i.picture_url,
    category_id: i.category_id,
    quantity: String(i.quantity),
    unit_price: String(i.unit_price),
  }));

function feeDetails(p: PaymentRecord, siteId: string) {
  if (!COLLECTED.has(p.status)) return [];
  const fees = [{ type: 'mercadopago_fee', amount: mercadopagoFee(p.amount, siteId), fee_payer: 'collector' }];
  const financing = round2(p.totalPaid - p.amount);
  if (financing > 0) fees.push({ type: 'financing_fee', amount: financing, fee_payer: 'payer' });
  return fees;
}

export function paymentView(ctx: ViewContext, p: PaymentRecord, pref?: PreferenceRecord) {
  const siteId = pref?.siteId ?? 'MLA';
  const fees = feeDetails(p, siteId);
  const mpFee = fees.find((f) => f.type === 'mercadopago_fee')?.amount ?? 0;
  const ticketUrl = `${ctx.publicUrl}${ticketPath(p.id)}`;
  const offline = p.paymentTypeId === 'ticket' || p.paymentTypeId === 'atm' || p.paymentTypeId === 'bank_transfer';
  return {
    id: p.id,
    date_created: mpDate(p.createdAt),
    date_approved: mpDateOrNull(p.approvedAt),
    date_last_updated: mpDate(p.updatedAt),
    date_of_expiration: mpDateOrNull(p.expiresAt),
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
    additional_info: { items: additionalItems(pref?.items ?? []) },
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
      net_received_amount: COLLECTED.has(p.status) ? round2(p.amount - mpFee) : 0,
      total_paid_amount: p.totalPaid,
      overpaid_amount: 0,
      external_resource_url: offline && p.pix === null ? ticketUrl : null,
      installment_amount: isCard(p) ? p.installmentAmount : 0,
      financial_institution: p.paymentMethodId === 'pse' ? '1007' : null,
      payable_deferral_period: null,
      acquirer_reference: null,
    },
    fee_details: fees,
    barcode: p.barcode === null ? null : { content: p.barcode },
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
    point_of_interaction: {
      type: 'CHECKOUT',
      business_info: { unit: 'online_payments', sub_unit: 'checkout_pro' },
      ...(p.pix === null ? {} : {
        transaction_data: {
          qr_code: p.pix.qrCode,
          qr_code_base64: p.pix.qrCodeBase64,
          ticket_url: ticketUrl,
          transaction_id: null,
          bank_transfer_id: null,
          financial_institution: null,
          bank_info: { payer: { id: null, email: null, long_name: null }, collector: { account_holder_name: 'MP SANDBOX' } },
          e2e_id: null,
        },
      }),
    },
  };
}

export type PreferenceView = ReturnType<typeof preferenceView>;
export type PaymentView = ReturnType<typeof paymentView>;
export type RefundView = ReturnType<typeof refundView>;
