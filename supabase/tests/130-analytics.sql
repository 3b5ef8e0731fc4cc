-- Analytics: the funnel, abandoned products and checkout outcomes over a
-- constructed history, against numbers computed by hand; the purge keeps the
-- funnel; bad ranges are refused; service_role only.
begin;
\ir helpers/tests.psql
select plan(26);

update private.settings set analytics_time_zone = 'UTC';
-- Anything other files or the seed left behind does not count here.
delete from analytics.cart_facts;
delete from analytics.daily_funnel;
delete from analytics.abandoned_products;
-- (npm test runs pgTAP on a fresh database; a reused one may hold committed orders)
truncate public.order_sessions, public.orders cascade;

select tests.create_variant('AN-A', 100, 1000) as va, tests.create_variant('AN-B', 100, 500) as vb \gset
select count(tests.create_shopper(n)) from unnest(array['an-1', 'an-2', 'an-3', 'an-4', 'an-5', 'an-6']) n;

-- Today, by hand:
--   an-1  cart, no items                           (purged: not abandoned, no value)
--   an-2  A x2 = 2000, no checkout                 (purged: abandoned, 2000)
--   an-3  B x1 = 500, checkout, paid               (outcome paid)
--   an-4  A x1 + B x2 = 2000, checkout, expired    (outcome expired, 2000 left)
--   an-5  B x3 = 1500, checkout, rejected, expired (outcome rejected_payment, 1500 left)
--   an-6  A x1 = 1000, reminded, checkout, paid    (outcome paid, recovered 1000)
do $$
begin
  perform tests.authenticate_as('an-1'); insert into public.carts (session_id) values (tests.shopper('an-1'));
  perform tests.authenticate_as('an-2'); perform public.add_to_cart(tests.variant('AN-A'), 2);
  perform tests.authenticate_as('an-3'); perform public.add_to_cart(tests.variant('AN-B'), 1);
  perform tests.authenticate_as('an-4'); perform public.add_to_cart(tests.variant('AN-A'), 1); perform public.add_to_cart(tests.variant('AN-B'), 2);
  perform tests.authenticate_as('an-5'); perform public.add_to_cart(tests.variant('AN-B'), 3);
  perform tests.authenticate_as('an-6'); perform public.add_to_cart(tests.variant('AN-A'), 1);
  perform tests.clear_authentication();
end
$$;
-- The email sender stamps a cart it reminded (an hour ago).
update analytics.cart_facts set reminded_at = now() - interval '1 hour' where session_id = tests.shopper('an-6');

select tests.authenticate_as_service_role() \gset
select s ->> 'token' as t3 from tests.begin_checkout('an-3') s \gset
select s ->> 'id' as s4 from tests.begin_checkout('an-4') s \gset
select s ->> 'id' as s5, s ->> 'token' as t5 from tests.begin_checkout('an-5') s \gset
select s ->> 'token' as t6 from tests.begin_checkout('an-6') s \gset
select checkout.apply_payment(tests.payment(:'t3', 'approved', 500, 9120001)) \gset
select checkout.apply_payment(tests.payment(:'t5', 'rejected', 1500, 9120002)) \gset
select checkout.apply_payment(tests.payment(:'t6', 'approved', 1000, 9120003)) \gset
select tests.clear_authentication() \gset
select tests.expire_order_session(:'s4') \gset
select tests.expire_order_session(:'s5') \gset
select tests.authenticate_as_service_role() \gset
select checkout.expire_sessions() \gset

select analytics.funnel(current_date, current_date) as f \gset
select is(
  (:'f'::jsonb -> 'total') - 'abandonment_rate' - 'outcomes',
  jsonb_build_object(
    'carts_created', 6, 'carts_with_items', 5, 'checkouts_begun', 4, 'carts_paid', 2,
    'orders', 2, 'revenue', jsonb_build_object('ARS', 1500),
    'abandoned_carts', 0, 'abandoned_cart_value', '{}'::jsonb,
    'expired_sessions', 2, 'expired_session_value', jsonb_build_object('ARS', 3500),
    'recovered_orders', 1, 'recovered_revenue', jsonb_build_object('ARS', 1000)),
  'funnel today: the hand-computed counts and money'
);
select is(
  :'f'::jsonb -> 'total' -> 'abandonment_rate',
  '{"cart": 0.1667, "checkout": 0.2, "payment": 0.5, "overall": 0.6}'::jsonb,
  'funnel today: abandonment rate per step (1/6, 1/5, 2/4) and overall (3/5)'
);
select is(
  :'f'::jsonb -> 'total' -> 'outcomes',
  '{"paid": 2, "expired": 1, "rejected_payment": 1}'::jsonb,
  'funnel today: why checkouts ended, from the event log'
);
select is(jsonb_array_length(:'f'::jsonb -> 'days'), 1, 'funnel today: one day');
select is((:'f'::jsonb -> 'days' -> 0 ->> 'carts_created')::integer, 6, 'funnel today: the day row carries the same counts');

-- The purge deletes an-1's and an-2's carts: the funnel keeps them, and an-2's
-- lines become abandoned value.
select tests.clear_authentication() \gset
select tests.set_cart_expiry('an-1', now() - interval '1 minute') \gset
select tests.set_cart_expiry('an-2', now() - interval '1 minute') \gset
select tests.authenticate_as_service_role() \gset
select is(checkout.purge_carts(), 2, 'purge: the two idle carts are deleted');
select analytics.funnel(current_date, current_date) as g \gset
select is(
  (:'g'::jsonb -> 'total') - 'abandonment_rate' - 'outcomes',
  (:'f'::jsonb -> 'total') - 'abandonment_rate' - 'outcomes'
    || jsonb_build_object('abandoned_carts', 1, 'abandoned_cart_value', jsonb_build_object('ARS', 2000)),
  'after the purge: the same funnel, plus one abandoned cart worth 2000 (the empty cart is not abandoned)'
);
select is(
  (select count(*)::integer from public.carts where session_id in (tests.shopper('an-1'), tests.shopper('an-2'))), 0,
  'after the purge: the carts are gone'
);

-- A cart deleted another way (its anonymous user removed: on delete cascade)
-- is recorded too. (Rolled back in a subtransaction: the counts below stay.)
savepoint other_way;
select tests.clear_authentication() \gset
select tests.shopper('an-2') as an2 \gset
delete from auth.users where id = :'an2';
select is(
  (select jsonb_build_array(purged_at = now(), abandoned_units, abandoned_value) from analytics.cart_facts where session_id = :'an2'),
  '[true, 2, 2000]'::jsonb,
  'a cart deleted with its user (an-2, A x2): the fact row records what it held'
);
rollback to savepoint other_way;
select tests.authenticate_as_service_role() \gset

select analytics.abandoned_products_report(current_date, current_date) as p \gset
select is(
  (select jsonb_agg(jsonb_build_object('sku', e ->> 'sku', 'units', e -> 'units', 'in_carts', e -> 'in_carts',
                                       'in_checkouts', e -> 'in_checkouts', 'value', e -> 'value'))
     from jsonb_array_elements(:'p'::jsonb -> 'products') e),
  '[{"sku": "AN-A", "units": 3, "in_carts": 2, "in_checkouts": 1, "value": 3000},
    {"sku": "AN-B", "units": 5, "in_carts": 0, "in_checkouts": 5, "value": 2500}]'::jsonb,
  'abandoned products: A (2 in a purged cart, 1 in an expired checkout) before B (2 + 3 in expired checkouts), by value'
);
select is(
  jsonb_array_length(analytics.abandoned_products_report(current_date, current_date, 1) -> 'products'), 1,
  'abandoned products: the limit applies'
);

-- Earlier days, written straight into the facts (as the triggers would have
-- then), then rolled up: two days ago 4 carts, 3 with items, 2 checkouts,
-- 1 paid; yesterday 2 carts, 1 with items, 1 purged with 300 left.
insert into analytics.cart_facts (session_id, created_at, first_item_at, checkout_at, paid_at)
select gen_random_uuid(), current_date - 2 + interval '10 hours',
       case when i <= 3 then current_date - 2 + interval '11 hours' end,
       case when i <= 2 then current_date - 2 + interval '12 hours' end,
       case when i <= 1 then current_date - 2 + interval '13 hours' end
  from generate_series(1, 4) i;
insert into analytics.cart_facts (session_id, created_at, first_item_at, purged_at, abandoned_units, abandoned_value, currency)
values (gen_random_uuid(), current_date - 1 + interval '1 hour', current_date - 1 + interval '2 hours', current_date - 1 + interval '3 hours', 1, 300, 'ARS'),
       (gen_random_uuid(), current_date - 1 + interval '5 hours', null, null, null, null, null);

select is(analytics.rollup(2), 2, 'rollup: writes the two finished days');
select is(
  (select jsonb_agg(jsonb_build_array(day - current_date, carts_created, carts_with_items, checkouts_begun, carts_paid, abandoned_carts) order by day)
     from analytics.daily_funnel),
  '[[-2, 4, 3, 2, 1, 0], [-1, 2, 1, 0, 0, 1]]'::jsonb,
  'rollup: one row per finished day with its counts'
);
select is(analytics.rollup(2), 2, 'rollup: running again rewrites the same days');
select is((select count(*)::integer from analytics.daily_funnel), 2, 'rollup: and adds no row');

-- The range reads finished days from the rollup: change a rolled-up row and
-- the range shows it (today still comes live).
update analytics.daily_funnel set carts_created = 40 where day = current_date - 2;
select analytics.funnel(current_date - 2, current_date) as r \gset
select is(
  jsonb_build_array(:'r'::jsonb -> 'total' -> 'carts_created', :'r'::jsonb -> 'total' -> 'carts_with_items',
                    :'r'::jsonb -> 'total' -> 'checkouts_begun', :'r'::jsonb -> 'total' -> 'carts_paid',
                    :'r'::jsonb -> 'total' -> 'abandoned_cart_value'),
  '[48, 9, 6, 3, {"ARS": 2300}]'::jsonb,
  'range of three days: finished days from the rollup (40 + 2) plus today live (6); money adds per currency'
);
update analytics.daily_funnel set carts_created = 4 where day = current_date - 2;
select is(jsonb_array_length(:'r'::jsonb -> 'days'), 3, 'range of three days: three day rows');

select is(
  (analytics.checkout_outcomes(current_date - 2, current_date) -> 'total'),
  '{"paid": 2, "expired": 1, "rejected_payment": 1}'::jsonb,
  'checkout outcomes over the range'
);

-- Bad input: CKI01 (400), nothing written.
select throws_ok($$ select analytics.funnel(current_date, current_date - 1) $$, 'CKI01', null, 'funnel: a reversed range is refused');
select throws_ok($$ select analytics.funnel(current_date - 400, current_date) $$, 'CKI01', null, 'funnel: a range over 367 days is refused');
select throws_ok($$ select analytics.abandoned_products_report(current_date, current_date, 0) $$, 'CKI01', null, 'abandoned products: a limit of 0 is refused');

select tests.clear_authentication() \gset
select tests.authenticate_as('an-3') \gset
select throws_ok($$ select analytics.funnel(current_date, current_date) $$, '42501', null, 'a shopper cannot run the report');
select tests.clear_authentication() \gset
select is(
  (select count(*)::integer from cron.job where jobname = 'analytics-rollup' and command = 'select analytics.rollup(2)'), 1,
  'the rollup is scheduled'
);

select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.pronamespace = 'analytics'::regnamespace
        and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute')) $$,
  'analytics: no function is executable by anon or authenticated'
);
select ok(not has_schema_privilege('anon', 'analytics', 'usage') and not has_schema_privilege('authenticated', 'analytics', 'usage'),
  'analytics: anon and authenticated have no usage on the schema');
select is_empty(
  $$ select c.oid::regclass from pg_class c where c.relnamespace = 'analytics'::regnamespace and c.relkind = 'r' and not c.relrowsecurity $$,
  'analytics: RLS is enabled on every table'
);

select * from finish();
rollback;
