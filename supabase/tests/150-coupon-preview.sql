-- public.preview_coupon: the cart's coupon preview gives exactly what
-- begin_checkout then applies (one rule, private.apply_coupon_rule), with the
-- same errors; it reads only the caller's cart, writes nothing, and is for
-- authenticated only.
begin;
\ir helpers/tests.psql
select plan(17);

select tests.create_shopper('pv-ana') as ana, tests.create_shopper('pv-bob') as bob,
       tests.create_shopper('pv-empty') as empty, tests.create_variant('PV-A', 50, 1000) as va,
       tests.create_variant('PV-CLP', 50, 9999, 'CLP') as vclp \gset

insert into checkout.coupons (code, kind, value, currency, min_subtotal, starts_at, ends_at, max_redemptions, active) values
  ('PV15',    'percent', 15,   null,  0,     null,                     null, null, true),
  ('PVFIX',   'fixed',   500,  'ARS', 0,     null,                     null, null, true),
  ('PVMIN',   'percent', 10,   null,  50000, null,                     null, null, true),
  ('PVSOON',  'percent', 10,   null,  0,     now() + interval '1 day', null, null, true),
  ('PVOFF',   'percent', 10,   null,  0,     null,                     null, null, false),
  ('PVONCE',  'percent', 10,   null,  0,     null,                     null, 1,    true),
  ('PVALL',   'fixed',   3000, 'ARS', 0,     null,                     null, null, true),
  ('PVCLP',   'percent', 12.5, null,  0,     null,                     null, null, true);

select tests.fill_cart('pv-ana', array[:'va']::uuid[], array[3]),
       tests.fill_cart('pv-bob', array[:'vclp']::uuid[], array[1]) \gset

-- The preview, then the checkout with the same code: same figures.
select tests.authenticate_as('pv-ana') \gset
select public.preview_coupon('  pv15 ') as p \gset
select results_eq(
  format($$ select %1$L::jsonb ->> 'coupon', (%1$L::jsonb ->> 'subtotal')::numeric, (%1$L::jsonb ->> 'discount')::numeric, (%1$L::jsonb ->> 'total')::numeric $$, :'p'),
  $$ values ('PV15', 3000.00, 450.00, 2550.00) $$,
  'percent: the preview shows 15% off 3000'
);
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('pv-ana', 'PV15') as s \gset
select results_eq(
  format($$ select (%1$L::jsonb ->> 'discount')::numeric, (%1$L::jsonb ->> 'total')::numeric $$, :'s'),
  format($$ values ((%1$L::jsonb ->> 'discount')::numeric, (%1$L::jsonb ->> 'total')::numeric) $$, :'p'),
  'begin_checkout applies exactly what the preview showed'
);

select tests.authenticate_as('pv-ana') \gset
select is((public.preview_coupon('PVFIX') ->> 'total')::numeric, 2500.00, 'fixed: 500 off');
select tests.authenticate_as('pv-bob') \gset
select public.preview_coupon('PVCLP') as p \gset
select results_eq(
  format($$ select (%1$L::jsonb ->> 'discount')::numeric, (%1$L::jsonb ->> 'total')::numeric $$, :'p'),
  $$ values (1250.00, 8749.00) $$,
  'CLP: the discount in whole units, as checkout rounds it'
);
-- A store in Chile (a cart in CLP is refused by a store in Argentina, CKM03).
select tests.clear_authentication() \gset
update private.settings set site_id = 'MLC';
select tests.authenticate_as_service_role() \gset
select is((tests.begin_checkout('pv-bob', 'PVCLP') ->> 'discount')::numeric, 1250.00, 'CLP: begin_checkout gives the same whole-unit discount');
select tests.clear_authentication() \gset
update private.settings set site_id = 'MLA';

-- The same errors as checkout, from the same rule.
select tests.authenticate_as('pv-ana') \gset
select throws_ok($$ select public.preview_coupon('NOPE') $$, 'CKP01', 'unknown coupon NOPE', 'unknown code: CKP01');
select throws_ok($$ select public.preview_coupon('PVOFF') $$, 'CKP01', 'unknown coupon PVOFF', 'inactive: CKP01');
select throws_ok($$ select public.preview_coupon('PVSOON') $$, 'CKP02', 'coupon PVSOON is not valid now', 'not started: CKP02');
select throws_ok($$ select public.preview_coupon('PVMIN') $$, 'CKP02', 'coupon PVMIN needs a subtotal of at least 50000.00 ARS', 'under the minimum: CKP02');
select throws_ok($$ select public.preview_coupon('PVALL') $$, 'CKP02', 'coupon PVALL would leave nothing to pay', 'nothing to pay: CKP02');
select tests.authenticate_as('pv-bob') \gset
select throws_ok($$ select public.preview_coupon('PVFIX') $$, 'CKP02', 'coupon PVFIX is in ARS but the cart is in CLP', 'other currency: CKP02');

-- Used up by another shopper's active session; the caller's own active
-- session does not count (a new checkout would cancel it).
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('pv-ana', 'PVONCE') \gset
select tests.authenticate_as('pv-ana') \gset
select is((public.preview_coupon('PVONCE') ->> 'discount')::numeric, 300.00, 'the caller''s own active session does not use the coupon up');
select tests.authenticate_as('pv-bob') \gset
select throws_ok($$ select public.preview_coupon('PVONCE') $$, 'CKP03', 'coupon PVONCE has been used up', 'held by another shopper: CKP03');

select tests.authenticate_as('pv-empty') \gset
select throws_ok($$ select public.preview_coupon('PV15') $$, 'CKC01', 'the cart is empty', 'empty cart: CKC01');
select throws_ok($$ select public.preview_coupon('  ') $$, 'CKI01', 'coupon code is required', 'no code: CKI01');

select tests.authenticate_as_anon() \gset
select throws_ok($$ select public.preview_coupon('PV15') $$, '42501', 'permission denied for function preview_coupon', 'anon: permission denied');

-- Read-only: it takes no lock on the coupon and writes nothing.
select tests.clear_authentication() \gset
select is(
  (select count(*) from public.order_sessions where coupon_code = 'PVONCE')::integer, 1,
  'previews created no order session'
);

select * from finish();
rollback;
