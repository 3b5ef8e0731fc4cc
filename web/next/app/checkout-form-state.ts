/** The checkout form's fields and what the action answers (shared by the form and its action). */
export const CHECKOUT_FIELDS = ['email', 'name', 'surname', 'streetName', 'streetNumber', 'zipCode', 'city', 'coupon'] as const;
export type CheckoutField = (typeof CHECKOUT_FIELDS)[number];

export interface CheckoutFormState {
  values: Record<string, string>;
  /** Messages by the library's field path (`payer.email`, `shippingAddress.zipCode`...). */
  fields: Record<string, string>;
  code?: string;
  message?: string;
}

export const EMPTY_CHECKOUT: CheckoutFormState = { values: {}, fields: {} };
