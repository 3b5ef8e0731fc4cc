/**
 * Storefront client library: typed access to the checkout backend from a
 * browser (supabase-js) or a server (`./ssr.ts`, `@supabase/ssr`).
 */
export { classifyReturn, createStorefront } from './storefront.ts';
export type { Storefront, StorefrontOptions, StorefrontSupabaseClient } from './storefront.ts';
export {
  CheckoutError,
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
export { parseReturnQuery } from './return-query.ts';
export { checkoutInputSchema } from './types.ts';
export type {
  Cart,
  CartLine,
  CatalogProduct,
  CatalogVariant,
  CheckoutInput,
  CheckoutResult,
  MercadoPagoReturnQuery,
  Order,
  OrderLine,
  OrderSession,
  OrderSessionLine,
  OrderSessionStatus,
  OrderStatus,
  PaymentSummary,
  ReturnResult,
  ReturnStatus,
  ShortLine,
} from './types.ts';
export type { Database, Json } from './database.types.ts';
