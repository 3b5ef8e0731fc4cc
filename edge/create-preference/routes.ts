/** The create-preference function's route (edge/README.md#create-preference): a signed-in shopper checks out. */
import { z } from 'zod';
import { COUPON_CODE, EMAIL_MAX_LENGTH } from '../_shared/contract.ts';
import { IDENTIFICATION_TYPES, identificationNumberIssue, normalizeIdentification } from '../_shared/identification.ts';
import type { RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

const required = (max: number) => storableString(max).trim().min(1);
const optional = (max: number) => storableString(max).trim().optional();

/** The request body (edge/README.md). */
const CheckoutBody = z.strictObject({
  payer: z.strictObject({
    email: storableString(EMAIL_MAX_LENGTH).pipe(z.email()),
    name: required(100),
    surname: optional(100),
    phone: z.strictObject({ area_code: storableString(6).regex(/^\d{0,6}$/).optional(), number: storableString(20).regex(/^[\d -]{4,20}$/) })
      .optional(),
    // Checked by its type's rule (check digits included); the handler then
    // checks that the type is one of the store's country (identification.ts).
    identification: z.strictObject({
      type: z.enum(IDENTIFICATION_TYPES),
      number: storableString(24).regex(/^[\dA-Za-z. \/-]{3,24}$/, 'digits and letters (dots, hyphens, spaces and slashes are ignored)').transform(
        normalizeIdentification,
      ),
    }).check((ctx) => {
      const message = identificationNumberIssue(ctx.value.type, ctx.value.number);
      if (message !== undefined) ctx.issues.push({ code: 'custom', path: ['number'], message, input: ctx.value.number });
    }).optional(),
  }),
  shipping_address: z.strictObject({
    street_name: required(200),
    street_number: required(20),
    zip_code: storableString(12).trim().regex(/^[A-Za-z0-9 -]{3,12}$/, 'invalid postal code'),
    city: required(100),
    state: optional(100),
    floor: optional(10),
    apartment: optional(10),
    notes: optional(500),
  }),
  coupon: storableString(32).trim().regex(COUPON_CODE, 'invalid coupon code').nullish(),
  // The box "send me reminders of my cart", unticked unless the shopper ticks
  // it: the payer's email is sent a link to confirm (double opt-in).
  marketing_opt_in: z.boolean().optional(),
  /** Where MercadoPago sends the buyer back: one of the project's return pages (CHECKOUT_RETURN_URLS; the handler checks). */
  return_url: storableString(2048).optional(),
});

export const CREATE_PREFERENCE_ROUTES = {
  checkout: {
    methods: ['POST'],
    path: '',
    callers: ['shopper'],
    body: CheckoutBody,
    // The caller's address (client-address.ts): a server's apikey and Sb-Forwarded-For, the gateway's x-forwarded-for.
    headers: ['apikey', 'sb-forwarded-for', 'x-forwarded-for'],
    example: {
      body: {
        payer: {
          email: 'ana@example.com',
          name: 'Ana',
          surname: 'García',
          phone: { area_code: '11', number: '55551234' },
          identification: { type: 'DNI', number: '30123456' },
        },
        shipping_address: {
          street_name: 'Av. Corrientes',
          street_number: '1234',
          zip_code: 'C1043',
          city: 'CABA',
          state: 'Buenos Aires',
          floor: '3',
          apartment: 'B',
          notes: '',
        },
        coupon: 'BIENVENIDA10',
        marketing_opt_in: false,
      },
    },
  },
} as const satisfies RouteTable;
