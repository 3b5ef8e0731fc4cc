-- Coupons in begin_checkout: percent and fixed, minimum subtotal, validity
-- window, inactive/unknown, currency, redemptions (paid + active unexpired
-- holders), case-insensitive codes, nothing left to pay; nothing written on
-- any refusal.
begin;
\ir helpers/tests.psql
select plan(24);

select tests.create_shopper('cp-ana') as ana, tests.create_shopper('cp-bob') as bob,
       tests.create_shopper('cp-carol') as carol, tests.create_variant('CP-A', 50, 1000) as va \gset

insert into checkout.coupons (code, kind, value, currency, min_subtotal, starts_at, ends_at, max_redemptions, active) values
  ('PCT15',    'percent', 15,   null,  0,    null,                      null,                      null, true),
  ('FIX500',   'fixed',   500,  'ARS', 0,    null,                      null,                      null, true),
  ('FIXUSD',   'fixed',   5,    'USD', 0,    null,                      null,                      null, true),
  ('MIN5000',  'percent', 10,   null,  5000, null,                      null,                      null, true),
  ('FUTURE',   'percent', 10,   null,  0,    now() + interval '1 day',  null,                      null, true),
  ('ENDED',    'percent', 10,   null,  0,    now() - interval '2 days', now() - interval '1 day',  null, true),
  ('ENDSNOW',  'percent', 10,   null,  0,    null,                      now(),                     null, true),
  ('WINDOW',   'percent', 10,   null,  0,    now() - interval '1 day',  now() + interval '1 day',  null, true),
  ('OFF',      'percent', 10,   null,  0,    null,                      null,                      null, false),
  ('ONCE',     'percent', 10,   null,  0,    null,                      null,                      1,    true),
  ('ALL3000',  'fixed',   3000, 'ARS', 0,    null,                      null,                      null, true);

select tests.fill_cart('cp-ana', array[:'va']::uuid[], array[3]),
       tests.fill_cart('cp-bob', array[:'va']::uuid[], array[3]),
       tests.fill_cart('cp-carol', array[:'va']::uuid[], array[3]) \gset
select tests.authenticate_as_service_role() \gset

-- ---------------------------------------------------------------------------
-- Discounts
select tests.begin_checkout('cp-ana', 'PCT15') as s \gset
select results_eq(
  format($$ select (%1$L::jsonb ->> 'subtotal')::numeric, (%1$L::jsonb ->> 'discount')::numeric, (%1$L::jsonb ->> 'total')::numeric, %1$L::jsonb ->> 'coupon_code' $$, :'s'),
  $$ values (3000.00, 450.00, 2550.00, 'PCT15') $$,
  'percent: 15% off 3000 is 450'
);
select tests.begin_checkout('cp-ana', 'FIX500') as s \gset
select results_eq(
  format($$ select (%1$L::jsonb ->> 'discount')::numeric, (%1$L::jsonb ->> 'total')::numeric, %1$L::jsonb ->> 'coupon_code' $$, :'s'),
  $$ values (500.00, 2500.00, 'FIX500') $$,
  'fixed: 500 off'
);
select tests.begin_checkout('cp-ana', '  fix500 ') as s \gset
select is(:'s'::jsonb ->> 'coupon_code', 'FIX500', 'codes match case-insensitively, trimmed, and are stored upper-case');
select tests.begin_checkout('cp-ana', 'WINDOW') as s \gset
select is((:'s'::jsonb ->> 'discount')::numeric, 300.00, 'a coupon inside its window applies');
select tests.begin_checkout('cp-ana', '') as s \gset
select results_eq(
  format($$ select (%1$L::jsonb ->> 'discount')::numeric, %1$L::jsonb ->> 'coupon_code' $$, :'s'),
  $$ values (0.00, null::text) $$,
  'an empty code means no coupon'
);
select :'s'::jsonb ->> 'id' as ana_s \gset

-- ---------------------------------------------------------------------------
-- Refusals: SQLSTATE, message, and nothing written (ana's active session stays).
select throws_ok($$ select tests.begin_checkout('cp-ana', 'NOPE') $$, 'CKP01', 'unknown coupon NOPE', 'an unknown code is refused');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'off') $$, 'CKP01', 'unknown coupon OFF', 'an inactive coupon is refused like an unknown one');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'FUTURE') $$, 'CKP02', 'coupon FUTURE is not valid now', 'a coupon not started yet is refused');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'ENDED') $$, 'CKP02', 'coupon ENDED is not valid now', 'an ended coupon is refused');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'ENDSNOW') $$, 'CKP02', 'coupon ENDSNOW is not valid now', 'a coupon ending right now is refused');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'MIN5000') $$, 'CKP02', 'coupon MIN5000 needs a subtotal of at least 5000.00 ARS', 'below the minimum subtotal is refused');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'FIXUSD') $$, 'CKP02', 'coupon FIXUSD is in USD but the cart is in ARS', 'a fixed coupon in another currency is refused');
select throws_ok($$ select tests.begin_checkout('cp-ana', 'ALL3000') $$, 'CKP02', 'coupon ALL3000 would leave nothing to pay', 'a discount leaving nothing to pay is refused');
select results_eq(
  format($$ select id, status::text from public.order_sessions where session_id = %L and status = 'active' $$, :'ana'),
  format($$ values (%L::uuid, 'active') $$, :'ana_s'),
  'after the refused coupons ana''s last session is still the active one'
);
select is(
  (select count(*)::integer from public.order_sessions where session_id = :'ana'),
  5, 'the refused checkouts created no session'
);

-- The minimum applies to the subtotal: with 5 units (5000) MIN5000 applies.
select tests.fill_cart('cp-carol', array[:'va']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('cp-carol', 'min5000') as s \gset
select is((:'s'::jsonb ->> 'discount')::numeric, 500.00, 'a subtotal equal to the minimum qualifies');

-- ---------------------------------------------------------------------------
-- Redemptions: counted over paid sessions and active unexpired ones.
select tests.begin_checkout('cp-ana', 'ONCE') as a1 \gset
select :'a1'::jsonb ->> 'id' as a1_id, :'a1'::jsonb ->> 'token' as a1_tok \gset
select throws_ok($$ select tests.begin_checkout('cp-bob', 'ONCE') $$, 'CKP03', 'coupon ONCE has been used up', 'an active holder uses the only redemption');
select is_empty(format($$ select 1 from public.order_sessions where session_id = %L $$, :'bob'), 'used up: no session for bob');
select lives_ok($$ select tests.begin_checkout('cp-ana', 'ONCE') $$, 'the holder may check out again with it (her previous session is cancelled first)');
select tests.clear_authentication() \gset
select id as a2_id from public.order_sessions where session_id = :'ana' and status = 'active' \gset
select tests.expire_order_session(:'a2_id') \gset
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('cp-bob', 'once') as b1 \gset
select is(:'b1'::jsonb ->> 'coupon_code', 'ONCE', 'an expired holder frees its redemption (before any cron)');
select :'b1'::jsonb ->> 'id' as b1_id, :'b1'::jsonb ->> 'token' as b1_tok, :'b1'::jsonb ->> 'total' as b1_total \gset
select throws_ok($$ select tests.begin_checkout('cp-carol', 'ONCE') $$, 'CKP03', 'coupon ONCE has been used up', 'bob now holds it');

-- A paid holder keeps it for good, even after its reservation time.
select checkout.apply_payment(tests.payment(:'b1_tok', 'approved', :'b1_total'::numeric, 8101)) ->> 'outcome' as paid \gset
select is(:'paid'::text, 'order_created', 'bob pays');
select tests.expire_order_session(:'b1_id') \gset
select throws_ok($$ select tests.begin_checkout('cp-carol', 'ONCE') $$, 'CKP03', 'coupon ONCE has been used up', 'a paid session holds the redemption for good');
select tests.clear_authentication() \gset
update checkout.coupons set max_redemptions = 2 where code = 'ONCE';
select tests.authenticate_as_service_role() \gset
select is(tests.begin_checkout('cp-carol', 'ONCE') ->> 'coupon_code', 'ONCE', 'with a second redemption allowed carol gets it');

select * from finish();
rollback;
