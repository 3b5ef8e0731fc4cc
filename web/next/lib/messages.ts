/** What the shopper reads for each error code the library reports, in the store's language (lib/i18n). */
import { StorefrontError, ValidationError } from '@mp-checkout/storefront';
import { storeLocale } from './env';
import { errorText } from './i18n';

/** The error's code when it is one of ours, else `error`. */
export function errorCode(err: unknown): string {
  return err instanceof StorefrontError ? err.code : 'error';
}

export function messageFor(code: string | undefined): string {
  return errorText(storeLocale().locale, code);
}

/**
 * A ValidationError's messages by field path (`payer.email`,
 * `shippingAddress.zipCode`...): the library's own, in the store's language
 * (lib/env.ts gives it the locale).
 */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ValidationError)) return {};
  const out: Record<string, string> = {};
  for (const i of err.issues) out[i.path] ??= i.message;
  return out;
}
