/**
 * Checkout Pro preferences: validation with MercadoPago's error codes, and the
 * record kept in the store. `PUT` re-validates the merged body the same way.
 */
import { badRequest } from './errors.ts';
import type { JsonObject, PreferenceItem, PreferenceRecord } from './types.ts';
import { isPaymentType } from './types.ts';
import { OFFERED_TYPES } from './outcomes.ts';
import { CURRENCY_BY_SITE, SITE_BY_CURRENCY, SITES } from './sites.ts';
import { isPlainObject, round2 } from './util.ts';

export { CURRENCY_BY_SITE, SITE_BY_CURRENCY } from './sites.ts';

const EXTERNAL_REFERENCE = /^[A-Za-z0-9_-]{1,64}$/;

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const isIsoDate = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));

function optionalString(body: Record<string, unknown>, key: string, code: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(code, `${key} invalid. Should be a string.`);
  return v;
}

function parseItems(raw: unknown, siteCurrency: string): PreferenceItem[] {
  if (!Array.isArray(raw) || raw.length === 0) throw badRequest('invalid_items', 'items needed');
  const items = raw.map((item: unknown, index): PreferenceItem => {
    if (!isPlainObject(item)) throw badRequest('invalid_items', `items[${index}] invalid. Should be an object.`);
    const title = item['title'];
    if (typeof title !== 'string' || title.trim() === '') throw badRequest('invalid_items', 'title needed');
    const quantity = item['quantity'];
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) {
      throw badRequest('invalid_items', 'quantity invalid. Should be a positive integer.');
    }
    const unitPrice = item['unit_price'];
    if (typeof unitPrice !== 'number' || !Number.isFinite(unitPrice) || unitPrice <= 0) {
      throw badRequest('invalid_items', 'unit_price invalid. Should be a positive number.');
    }
    if (unitPrice > 999_999_999) throw badRequest('invalid_items', 'unit_price invalid. Max value exceeded.');
    const currency = item['currency_id'] ?? siteCurrency;
    // MercadoPago's documented answer both for an unknown currency and for
    // one that is not the collector's site's.
    if (typeof currency !== 'string' || !(currency in SITE_BY_CURRENCY) || currency !== siteCurrency) {
      throw badRequest('invalid_items', 'currency_id invalid.');
    }
    if (SITES[SITE_BY_CURRENCY[currency] ?? '']?.wholeUnits === true && !Number.isInteger(unitPrice)) {
      throw badRequest('invalid_items', `unit_price invalid. ${currency} does not accept decimal values.`);
    }
    if (round2(unitPrice) !== unitPrice) {
      throw badRequest('invalid_items', 'unit_price invalid. At most two decimal places.');
    }
    const str = (key: string): string => (typeof item[key] === 'string' ? (item[key] as string) : '');
    return {
      id: str('id'),
      title,
      description: str('description'),
      picture_url: str('picture_url'),
      category_id: str('category_id'),
      quantity,
      unit_price: unitPrice,
      currency_id: currency,
    };
  });
  return items;
}

/** Items of a merchant order on a site (same rules as a preference's). */
export const parseItemsForSite = (raw: unknown, siteId: string): PreferenceItem[] => parseItems(raw, CURRENCY_BY_SITE[siteId] ?? 'ARS');

const MODELLED_KEYS = new Set([
  'items',
  'payer',
  'back_urls',
  'auto_return',
  'notification_url',
  'external_reference',
  'metadata',
  'expires',
  'expiration_date_from',
  'expiration_date_to',
  'payment_methods',
  'date_of_expiration',
  'statement_descriptor',
  'binary_mode',
]);

/**
 * Validates a preference body the way MercadoPago does and returns the record
 * fields. Every item's currency must be the collector's site's.
 */
export function parsePreference(body: unknown, siteId: string): Omit<PreferenceRecord, 'id' | 'createdAt' | 'merchantOrderId'> {
  if (!isPlainObject(body)) throw badRequest('bad_request', 'body must be a JSON object');
  const siteCurrency = CURRENCY_BY_SITE[siteId] ?? 'ARS';
  const items = parseItems(body['items'], siteCurrency);
  const currencyId = siteCurrency;

  const rawBackUrls = body['back_urls'] ?? {};
  if (!isPlainObject(rawBackUrls)) throw badRequest('invalid_back_urls', 'back_urls invalid. Wrong format.');
  const backUrls: PreferenceRecord['backUrls'] = {};
  for (const key of ['success', 'pending', 'failure'] as const) {
    const url = rawBackUrls[key];
    if (url === undefined || url === null || url === '') continue;
    if (!isHttpUrl(url)) throw badRequest('invalid_back_urls', 'back_urls invalid. Wrong format.');
    backUrls[key] = url;
  }

  const autoReturn = body['auto_return'] ?? '';
  if (autoReturn !== '' && autoReturn !== 'approved' && autoReturn !== 'all') {
    throw badRequest('invalid_auto_return', 'auto_return invalid. Should be approved or all.');
  }
  if (autoReturn !== '' && backUrls.success === undefined) {
    throw badRequest('invalid_auto_return', 'auto_return invalid. back_url.success must be defined');
  }

  const notificationUrl = body['notification_url'] ?? null;
  if (notificationUrl !== null && !isHttpUrl(notificationUrl)) {
    throw badRequest('invalid_notification_url', 'notification_url attribute must be url valid');
  }

  const externalReference = body['external_reference'] ?? '';
  if (typeof externalReference !== 'string') {
    throw badRequest('invalid_external_reference', 'external_reference invalid. Should be a string.');
  }
  if (externalReference !== '' && !EXTERNAL_REFERENCE.test(externalReference)) {
    throw badRequest(
      'invalid_external_reference',
      'external_reference invalid. At most 64 characters: letters, digits, "-" and "_".',
    );
  }

  const metadata = body['metadata'] ?? {};
  if (!isPlainObject(metadata)) throw badRequest('invalid_metadata', 'metadata invalid. Should be an object.');
  const payer = body['payer'] ?? {};
  if (!isPlainObject(payer)) throw badRequest('invalid_payer', 'payer invalid. Should be an object.');

  const expires = body['expires'] ?? false;
  if (typeof expires !== 'boolean') throw badRequest('invalid_expires', 'expires must be boolean');
  const from = body['expiration_date_from'] ?? null;
  const to = body['expiration_date_to'] ?? null;
  if (from !== null && !isIsoDate(from)) {
    throw badRequest('invalid_expiration_date_from', 'expiration_date_from invalid.');
  }
  if (to !== null && !isIsoDate(to)) throw badRequest('invalid_expiration_date_to', 'expiration_date_to invalid.');
  if (from !== null && to !== null && Date.parse(from) > Date.parse(to)) {
    throw badRequest('invalid_expiration_date_to', 'expiration_date_to invalid. Must be after expiration_date_from.');
  }

  const paymentMethods = body['payment_methods'] ?? {};
  if (!isPlainObject(paymentMethods)) throw badRequest('invalid_payment_methods', 'payment_methods invalid.');
  const ids = (key: string): string[] => {
    const list = paymentMethods[key] ?? [];
    if (!Array.isArray(list)) throw badRequest('invalid_payment_methods', `${key} invalid. Should be an array.`);
    return list.flatMap((entry: unknown) => {
      const id = isPlainObject(entry) ? entry['id'] : undefined;
      if (id === '' || id === undefined || id === null) return [];
      if (typeof id !== 'string') throw badRequest('invalid_payment_methods', `${key} invalid.`);
      return [id];
    });
  };
  const excludedPaymentTypes = ids('excluded_payment_types');
  for (const type of excludedPaymentTypes) {
    if (!isPaymentType(type)) {
      throw badRequest('invalid_payment_methods', `excluded_payment_types invalid. Unknown payment type ${type}.`);
    }
  }
  const excludedPaymentMethods = ids('excluded_payment_methods');
  if (excludedPaymentMethods.includes('account_money')) throw badRequest('invalid_payment_methods', 'account_money cannot be excluded.');
  if (OFFERED_TYPES.every((t) => excludedPaymentTypes.includes(t))) {
    throw badRequest('invalid_payment_methods', 'cannot exclude all payments types.');
  }
  const count = (key: string): number | null => {
    const n = paymentMethods[key] ?? null;
    if (n !== null && (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 36)) {
      throw badRequest('invalid_payment_methods', `${key} invalid. Should be a number between 1 and 36.`);
    }
    return n;
  };
  const installments = count('installments');
  const defaultInstallments = count('default_installments');
  const dateOfExpiration = body['date_of_expiration'] ?? null;
  if (dateOfExpiration !== null && !isIsoDate(dateOfExpiration)) throw badRequest('invalid_date', 'invalid date of expiration.');

  const statementDescriptor = optionalString(body, 'statement_descriptor', 'invalid_statement_descriptor') ?? null;
  const binaryMode = body['binary_mode'] ?? false;
  if (typeof binaryMode !== 'boolean') throw badRequest('invalid_binary_mode', 'binary_mode must be boolean.');

  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (!MODELLED_KEYS.has(key)) extra[key] = value as JsonObject[string];
  }

  return {
    siteId,
    currencyId,
    items,
    payer: payer as JsonObject,
    backUrls,
    autoReturn,
    notificationUrl,
    externalReference,
    metadata: metadata as JsonObject,
    expires,
    expirationDateFrom: from,
    expirationDateTo: to,
    excludedPaymentTypes,
    excludedPaymentMethods,
    installments,
    defaultInstallments,
    dateOfExpiration,
    statementDescriptor,
    binaryMode,
    extra,
  };
}

export const preferenceTotal = (p: PreferenceRecord): number => round2(p.items.reduce((sum, item) => sum + item.quantity * item.unit_price, 0));

/**
 * Why a preference cannot be paid right now, or null. MercadoPago only checks
 * the window when `expires` is true.
 */
export function expiryProblem(p: PreferenceRecord, now: number): string | null {
  if (!p.expires) return null;
  if (p.expirationDateFrom !== null && now < Date.parse(p.expirationDateFrom)) return 'not_yet_active';
  if (p.expirationDateTo !== null && now > Date.parse(p.expirationDateTo)) return 'expired';
  return null;
}

/** The body as the API echoes it back (`PUT` merges into this). */
export function preferenceBody(p: PreferenceRecord): JsonObject {
  return {
    ...p.extra,
    items: p.items.map((i) => ({ ...i })),
    payer: p.payer,
    back_urls: { success: p.backUrls.success ?? '', pending: p.backUrls.pending ?? '', failure: p.backUrls.failure ?? '' },
    auto_return: p.autoReturn,
    notification_url: p.notificationUrl,
    external_reference: p.externalReference,
    metadata: p.metadata,
    expires: p.expires,
    expiration_date_from: p.expirationDateFrom,
    expiration_date_to: p.expirationDateTo,
    payment_methods: {
      excluded_payment_types: p.excludedPaymentTypes.map((id) => ({ id })),
      excluded_payment_methods: p.excludedPaymentMethods.map((id) => ({ id })),
      installments: p.installments,
      default_payment_method_id: null,
      default_installments: p.defaultInstallments,
    },
    date_of_expiration: p.dateOfExpiration,
    statement_descriptor: p.statementDescriptor,
    binary_mode: p.binaryMode,
  };
}
