/** Library errors to what the shopper reads, in the store's catalog (i18n-messages.ts). */
import {
  AuthenticationError,
  CheckoutError,
  checkoutErrorTexts,
  HoldLimitError,
  InsufficientStockError,
  type MergeChange,
  type MergeReport,
  NetworkError,
  PaymentProviderError,
  ReservationExpiredError,
  SessionRequiredError,
  type ShortLine,
  StorefrontError,
  ValidationError,
} from '../../src/index.ts';
import { time, units } from './format.ts';
import { storeLocale, t, tIfKnown } from './i18n.ts';

type AlertKind = 'out-of-stock' | 'expired' | 'network' | 'validation' | 'error' | 'info' | 'success';

export interface AlertMessage {
  kind: AlertKind;
  title: string;
  lines?: string[];
  /** A data-testid for the alert's body (tests find specific notices by it). */
  testid?: string;
}

function shortLineText(s: ShortLine, titles: Map<string, string>): string {
  const name = s.title ?? (s.variant_id ? titles.get(s.variant_id) : undefined) ?? s.sku ?? t('aProduct');
  const requested = units(s.requested);
  if (s.available <= 0) return t('shortNone', { name, requested });
  return s.available === 1 ? t('shortOne', { name, requested }) : t('shortSome', { name, n: s.available, requested });
}

const hhmm = time;

/** The fair-stock limits (CKH01-03, CKH05). */
function holdLimitMessage(err: HoldLimitError, titles: Map<string, string>): AlertMessage {
  if (err.code === 'hold_limit_product') {
    const max = err.max === undefined ? t('few') : String(err.max);
    return {
      kind: 'validation',
      title: t('limitProduct', { max }),
      lines: err.lines.map((l) => {
        const name = (l.variant_id ? titles.get(l.variant_id) : undefined) ?? l.sku ?? t('aProductCap');
        return t('limitProductLine', { name, requested: l.requested ?? t('more'), max });
      }),
    };
  }
  if (err.code === 'hold_limit_checkout') {
    return {
      kind: 'validation',
      title: t('limitCheckout', { max: err.max ?? t('few') }),
      lines: [t('limitCheckoutLine', { requested: err.requested ?? t('more') })],
    };
  }
  if (err.code === 'hold_limit_address') {
    const frees = err.retryAfter ? t('stockFreesAt', { time: hhmm(err.retryAfter) }) : '';
    return {
      kind: 'error',
      title: t('limitAddress'),
      lines: [t('limitAddressLine', { held: err.held ?? t('several'), max: err.max ?? t('low'), requested: err.requested ?? t('more'), frees })],
    };
  }
  return {
    kind: 'error',
    title: t('tooManyHolds'),
    lines: [err.retryAfter ? t('tooManyHoldsAt', { time: hhmm(err.retryAfter) }) : t('tooManyHoldsWait')],
  };
}

/** `titles`: variant id → "Producto (variante)", to name lines the server only knows by id. */
export function describeError(err: unknown, titles: Map<string, string> = new Map()): AlertMessage {
  if (err instanceof InsufficientStockError) {
    return {
      kind: 'out-of-stock',
      title: t('noStock'),
      lines: err.short.length > 0 ? err.short.map((s) => shortLineText(s, titles)) : [t('lastUnitsGone')],
    };
  }
  if (err instanceof ReservationExpiredError) {
    return {
      kind: 'expired',
      title: t('holdExpired'),
      lines: [t('holdExpiredLine')],
    };
  }
  if (err instanceof NetworkError) {
    return {
      kind: 'network',
      title: t('network'),
      lines: [t('networkLine')],
    };
  }
  if (err instanceof PaymentProviderError) {
    return {
      kind: 'error',
      title: t('mpDown'),
      lines: [t('mpDownLine')],
    };
  }
  if (err instanceof ValidationError) {
    return { kind: 'validation', title: t('checkData'), lines: err.issues.map((i) => i.message) };
  }
  if (err instanceof SessionRequiredError && err.code === 'over_request_rate_limit') {
    return {
      kind: 'error',
      title: t('tooManySessions'),
      lines: [t('tooManySessionsLine')],
    };
  }
  if (err instanceof SessionRequiredError && err.code === 'captcha_failed') {
    return {
      kind: 'error',
      title: t('captchaFailed'),
      lines: [t('captchaFailedLine')],
    };
  }
  if (err instanceof SessionRequiredError) {
    return { kind: 'error', title: t('sessionEnded'), lines: [t('sessionEndedLine')] };
  }
  if (err instanceof HoldLimitError) return holdLimitMessage(err, titles);
  if (err instanceof AuthenticationError) {
    const known = tIfKnown(`auth_${err.code}`);
    return { kind: 'validation', title: known ?? t('signInFailed'), lines: known ? [] : [err.message], testid: 'auth-error' };
  }
  // A recovery email's restore link (restoreCart).
  if (err instanceof StorefrontError && ['link_expired', 'invalid_link'].includes(err.code)) {
    return { kind: 'error', title: t('cartNotRestored'), lines: [err.code === 'link_expired' ? t('linkExpired') : t('linkInvalid')] };
  }
  if (err instanceof CheckoutError) {
    return { kind: 'error', title: checkoutErrorTexts(storeLocale())[err.code] ?? t('checkoutFailed'), lines: [] };
  }
  if (err instanceof StorefrontError) {
    return { kind: 'error', title: t('somethingWrong'), lines: [err.message] };
  }
  return { kind: 'error', title: t('somethingWrong'), lines: [err instanceof Error ? err.message : String(err)] };
}

/** A coupon the preview refused, for the field under the coupon input. */
export function couponErrorText(err: unknown): string {
  if (err instanceof ValidationError) return err.issues[0]?.message ?? t('couponInvalid');
  if (err instanceof CheckoutError) return tIfKnown(`coupon_${err.code}`) ?? t('couponFailed');
  return describeError(err).title;
}

function mergeChangeText(c: MergeChange): string {
  return t(`merge_${c.reason}`, { title: c.title, quantity: c.quantity, requested: units(c.requested) });
}

/** The notice after signing in: the anonymous cart was merged into the account's. */
export function mergeNotice(report: MergeReport): AlertMessage {
  if (report.changes.length === 0) {
    return {
      kind: 'success',
      title: report.lines_moved > 0 ? t('mergedMoved') : t('signedIn'),
      testid: 'merge-notice',
    };
  }
  return {
    kind: 'info',
    title: t('mergedChanges'),
    lines: report.changes.map(mergeChangeText),
    testid: 'merge-notice',
  };
}
