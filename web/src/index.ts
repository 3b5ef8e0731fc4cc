/**
 * Storefront client library: typed access to the checkout backend from a
 * browser (supabase-js) or a server (`./ssr.ts`, `@supabase/ssr`).
 */
export { classifyReturn, createStorefront } from './storefront.ts';
export type { Storefront, StorefrontOptions, StorefrontSupabaseClient } from './storefront.ts';
export {
  AuthenticationError,
  CheckoutError,
  fromAuthError,
  fromFunctionError,
  fromPostgrestError,
  HoldLimitError,
  InsufficientStockError,
  NetworkError,
  PaymentProviderError,
  ReservationExpiredError,
  SessionRequiredError,
  StorefrontError,
  ValidationError,
} from './errors.ts';
export type { FieldIssue, HeldLine, StorefrontErrorOptions } from './errors.ts';
export { CHECKOUT_ERROR_TEXTS, CHECKOUT_ERROR_TEXTS_ES, checkoutErrorTexts, VALIDATION_MESSAGES, validationMessages } from './messages.ts';
export type { CheckoutErrorTextCode, ValidationMessageKey, ValidationMessages } from './messages.ts';
export { parseReturnQuery } from './return-query.ts';
export { checkoutInputSchema, checkoutInputSchemaFor, credentialsSchema, credentialsSchemaFor } from './types.ts';
// The seven countries and the payer's identification rules, shared with the Edge Functions.
export { catalogFor, COUNTRIES, countryOf, SITE_IDS } from '../../edge/_shared/country.ts';
export type { CatalogLocale, Country, IdentificationType, SiteId } from '../../edge/_shared/country.ts';
export { IDENTIFICATION_TYPES, identificationIssue, identificationNumberIssue, normalizeIdentification } from '../../edge/_shared/identification.ts';
export { formatDateTime, formatMoney, formatTime, translator } from '../../edge/_shared/i18n/format.ts';
export type { Catalogs } from '../../edge/_shared/i18n/format.ts';
export type {
  Cart,
  CartLine,
  CatalogProduct,
  CatalogVariant,
  CheckoutInput,
  CheckoutResult,
  CouponPreview,
  Credentials,
  MercadoPagoReturnQuery,
  MergeChange,
  MergeReport,
  Order,
  OrderLine,
  OrderSession,
  OrderSessionLine,
  OrderSessionStatus,
  OrderStatus,
  PaymentSummary,
  PendingPayment,
  ReturnResult,
  ReturnStatus,
  Shopper,
  ShortLine,
  SignInResult,
} from './types.ts';
export type { Database, Json } from './database.types.ts';
