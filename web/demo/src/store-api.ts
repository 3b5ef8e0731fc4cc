/** What App gives its pages: the storefront, the cart and catalog it holds, and its actions. */
import type { Cart, CatalogProduct, Shopper, Storefront } from '../../src/index.ts';
import type { AlertMessage } from './messages.ts';
import type { PendingCheckout } from './pending-checkout.ts';

export interface StoreApi {
  sf: Storefront;
  cart: Cart | null;
  /** Anonymous, or signed in to an account. */
  shopper: Shopper | null;
  catalog: CatalogProduct[] | null;
  titles: Map<string, string>;
  busy: boolean;
  showAlert(alert: AlertMessage | null): void;
  fail(err: unknown): void;
  refresh(): Promise<void>;
  /** Runs a cart operation: the cart it returns replaces ours; errors become an alert. */
  cartOp(op: (sf: Storefront) => Promise<Cart>, success?: string): Promise<boolean>;
  pending: PendingCheckout | null;
  setPending(p: PendingCheckout | null): void;
}
