-- begin_checkout's steps (05_checkout.sql), each called on its own:
-- private.checkout_admission, checkout_snapshot, checkout_coupon,
-- checkout_reserve, and the CKS01 they share (raise_not_enough_stock).
-- begin_checkout as a whole is in 050-checkout, 165-checkout-counter-last and
-- 180-checkout-admission; the waiting itself in tests/db/concurrency.test.ts.
begin;
\ir helpers/tests.psql
select plan(35);

-- Advisory locks this backend holds: the slots (objsubid 2, key 2 >= 0) and
-- places in a line (key 2 = -1).
create function pg_temp.slots() returns integer language sql as $$
  select count(*)::integer from pg_locks
   where pid = pg_backend_pid() and locktype = 'advisory' and objsubid = 2 and granted and objid <> 4294967295
$$;
create function pg_temp.lines_held() returns integer language sql as $$
  select count(*)::integer from pg_locks where pid = pg_backend_pid() and locktype = 'advisory' and objid = 4294967295
$$;

select tests.create_shopper('st-ana') as ana, tests.create_shopper('st-bob') as bob,
       tests.create_shopper('st-cid') as cid, tests.create_shopper('st-dan') as dan,
       tests.create_shopper('st-eve') as eve, tests.create_shopper('st-fay') as fay,
       tests.create_shopper('st-gus') as gus, tests.create_shopper('st-nobody') as nobody,
       tests.create_variant('ST-B', 10, 250) as vb, tests.create_variant('ST-A', 10, 100) as va,
       tests.create_variant('ST-LOW', 5, 100) as vlow, tests.create_variant('ST-MIX', 10, 100) as vmix,
       tests.create_variant('ST-TWO', 2, 100) as vtwo \gset
-- Ten variants with 11 to 20 units.
select array_agg(tests.create_variant('ST-LONG-' || lpad(n::text, 2, '0'), 10 + n, 100) order by n) as longs
  from generate_series(1, 10) n \gset
insert into checkout.coupons (code, kind, value, max_redemptions) values ('STEP10', 'percent', 10, null), ('STEPONE', 'percent', 5, 1);

select tests.fill_cart('st-ana', array[:'vb', :'va']::uuid[], array[1, 2]),
       tests.fill_cart('st-bob', array[:'va']::uuid[], array[1]) \gset
select public.remove_from_cart(:'va') is not null as removed \gset
select tests.fill_cart('st-cid', array[:'vlow']::uuid[], array[4]) \gset
select tests.authenticate_as('st-dan') \gset
select count(public.add_to_cart(v, 1)) as added from unnest(:'longs'::uuid[]) v \gset
select tests.fill_cart('st-eve', array[:'va', :'vmix']::uuid[], array[1, 1]),
       tests.fill_cart('st-fay', array[:'vtwo']::uuid[], array[2]),
       tests.fill_cart('st-gus', array[:'va']::uuid[], array[1]) \gset
select tests.clear_authentication() \gset
-- cid's line now looks short (4 wanted, 3 on hand); eve's cart mixes currencies.
update public.variants set stock_on_hand = 3 where id = :'vlow';
update public.variants set currency = 'USD' where id = :'vmix';

-- ---------------------------------------------------------------------------
-- The steps are begin_checkout's alone: no API role executes them.
select is_empty(
  $$ select p.oid::regprocedure || ' by ' || r from pg_proc p cross join unnest(array['anon', 'authenticated', 'service_role']) r
      where p.oid in ('private.checkout_admission(uuid,integer)'::regprocedure, 'private.checkout_snapshot(uuid,uuid[],text)'::regprocedure,
                      'private.checkout_coupon(text,numeric,text,uuid[])'::regprocedure,
                      'private.checkout_reserve(uuid,jsonb,timestamptz)'::regprocedure,
                      'private.raise_not_enough_stock(jsonb)'::regprocedure,
                      'private.checkout_fair_hold(uuid,jsonb,integer,timestamptz,private.settings)'::regprocedure)
        and has_function_privilege(r, p.oid, 'execute') $$,
  'the steps are executable by no API role (begin_checkout runs them as their owner)');

-- ---------------------------------------------------------------------------
-- 1. Admission.
select pg_temp.slots() as before \gset
select is(private.checkout_admission(:'ana', 8), (select array_agg(v order by v) from unnest(array[:'va', :'vb']::uuid[]) v),
  'admission: the turns of the cart''s variants, in id order');
select is(pg_temp.slots(), :before + 2, 'admission: one slot held per variant, until the transaction ends');
select is(pg_temp.lines_held(), 0, 'admission: no place in a line is kept once the slots are held');
select pg_temp.slots() as before \gset
select is(private.checkout_admission(:'bob', 8), '{}'::uuid[], 'admission: an empty cart waits for nothing');
select is(private.checkout_admission(:'nobody', 8), '{}'::uuid[], 'admission: no cart, nothing to wait for');
select is(private.checkout_admission(:'cid', 8), '{}'::uuid[], 'admission: a cart that already looks short waits for nothing');
select is(pg_temp.slots(), :before, 'admission: and takes no slot');
select is(private.checkout_admission(:'dan', 8),
  (select array_agg(id order by id) from (select id from public.variants where id = any (:'longs'::uuid[]) order by stock_on_hand limit 8) x),
  'admission: a long cart waits for its 8 variants with the fewest units left, not all 10');

-- ---------------------------------------------------------------------------
-- 2. Snapshot.
update public.variants set price = 120 where id = :'va';
select lines, variant_ids, currency, subtotal, item_count from private.checkout_snapshot(:'ana', '{}') \gset snap_
select is(:'snap_lines'::jsonb, jsonb_build_array(
    jsonb_build_object('variant_id', :'va', 'sku', 'ST-A', 'title', 'Product ST-A - Variant ST-A', 'unit_price', 120.00, 'quantity', 2, 'line_total', 240.00),
    jsonb_build_object('variant_id', :'vb', 'sku', 'ST-B', 'title', 'Product ST-B - Variant ST-B', 'unit_price', 250.00, 'quantity', 1, 'line_total', 250.00)),
  'snapshot: one line per variant, by sku, at the price read now');
select is(:'snap_variant_ids'::uuid[], (select array_agg(v order by v) from unnest(array[:'va', :'vb']::uuid[]) v), 'snapshot: the variants in id order');
select is(:'snap_currency'::text, 'ARS'::text, 'snapshot: the cart''s currency');
select is(:'snap_subtotal'::numeric, 490.00, 'snapshot: the subtotal');
select is(:'snap_item_count'::integer, 3, 'snapshot: the units');
select throws_ok(format($$ select private.checkout_snapshot(%L, '{}') $$, :'bob'), 'CKC01', 'the cart is empty', 'snapshot: an empty cart is CKC01');
select throws_ok(format($$ select private.checkout_snapshot(%L, '{}') $$, :'nobody'), 'CKC01', 'the cart is empty', 'snapshot: no cart is CKC01');
select throws_ok(format($$ select private.checkout_snapshot(%L, '{}') $$, :'eve'), 'CKM01', 'the cart mixes currencies', 'snapshot: mixed currencies are CKM01');
select is(tests.error_of(format($$ select private.checkout_snapshot(%L, '{}') $$, :'cid')),
  jsonb_build_object('sqlstate', 'CKS01', 'message', 'not enough stock: ST-LOW (requested 4, available 3)',
    'detail', jsonb_build_object('short', jsonb_build_array(jsonb_build_object(
      'variant_id', :'vlow', 'sku', 'ST-LOW', 'title', 'Product ST-LOW - Variant ST-LOW', 'requested', 4, 'available', 3,
      'reason', 'insufficient_stock')))::text),
  'snapshot: a line that cannot be had is CKS01 before any lock, with the short lines');
-- fay's own active session holds both units: they are free to the session
-- that replaces it, and to nobody else.
select tests.authenticate_as_service_role() \gset
select (tests.begin_checkout('st-fay') ->> 'id') as fay_session \gset
select tests.clear_authentication() \gset
select is((private.checkout_snapshot(:'fay', array[:'fay_session']::uuid[])).item_count, 2,
  'snapshot: the units of the sessions being replaced count as free');
select throws_ok(format($$ select private.checkout_snapshot(%L, '{}') $$, :'fay'), 'CKS01', null,
  'snapshot: but not those of any other session');

-- ---------------------------------------------------------------------------
-- 3. Coupon.
select is(private.checkout_coupon(null, 490, 'ARS', '{}'), row(null::uuid, null::text, 0.00::numeric), 'coupon: no code, no coupon and no discount');
select is(private.checkout_coupon('  ', 490, 'ARS', '{}'), row(null::uuid, null::text, 0.00::numeric), 'coupon: a blank code is no code');
select is(private.checkout_coupon(' step10 ', 490, 'ARS', '{}'),
  row((select id from checkout.coupons where code = 'STEP10'), 'STEP10'::text, 49.00::numeric),
  'coupon: the code trimmed and in upper case names the coupon; the rule gives the discount');
select throws_ok($$ select private.checkout_coupon('NOPE', 490, 'ARS', '{}') $$, 'CKP01', null, 'coupon: an unknown code is CKP01');
select tests.authenticate_as_service_role() \gset
select (tests.begin_checkout('st-gus', 'STEPONE') ->> 'id') as gus_session \gset
select tests.clear_authentication() \gset
select throws_ok($$ select private.checkout_coupon('STEPONE', 490, 'ARS', '{}') $$, 'CKP03', null,
  'coupon: used up by another active session is CKP03');
select is((private.checkout_coupon('STEPONE', 490, 'ARS', array[:'gus_session']::uuid[])).discount, 24.50,
  'coupon: the sessions being replaced do not count as holders');

-- ---------------------------------------------------------------------------
-- 4. Reservation.
insert into public.order_sessions (session_id, lines, item_count, subtotal, total, currency, payer, shipping_address, expires_at)
values (:'ana', :'snap_lines'::jsonb, 3, 490, 490, 'ARS', '{"email": "ana@example.com"}', '{}', now() + interval '15 minutes')
returning id as sid \gset
select reserved as a_before from public.variants where id = :'va' \gset
select lives_ok(format($$ select private.checkout_reserve(%L, %L, now() + interval '15 minutes') $$, :'sid', :'snap_lines'),
  'reserve: the lines are reserved');
select is((select reserved from public.variants where id = :'va'), :a_before + 2, 'reserve: the counter counts each line once');
select results_eq(
  format($$ select variant_id, quantity, expires_at from checkout.stock_reservations where order_session_id = %L order by variant_id $$, :'sid'),
  format($$ select v, q, now() + interval '15 minutes' from (values (%L::uuid, 2), (%L::uuid, 1)) x(v, q) order by v $$, :'va', :'vb'),
  'reserve: one reservation row per line, until the expiry given');
select is(current_setting('checkout.reserving_session'), ''::text, 'reserve: the counter''s marker is cleared afterwards');
select is((select count(*)::integer from checkout.audit() a where a ->> 'invariant' = 'reserved_counter_mismatch'), 0,
  'reserve: variants.reserved still equals the reservation rows');
select reserved as a_before from public.variants where id = :'va' \gset
update public.variants set active = false where id = :'vb';
select is(tests.error_of(format($$ select private.checkout_reserve(%L, %L, now() + interval '15 minutes') $$, :'sid',
    jsonb_build_array(jsonb_build_object('variant_id', :'vb', 'sku', 'ST-B', 'title', 'B', 'quantity', 1),
                      jsonb_build_object('variant_id', :'va', 'sku', 'ST-A', 'title', 'A', 'quantity', 20)))),
  jsonb_build_object('sqlstate', 'CKS01', 'message', format('not enough stock: ST-A (requested 20, available %s), ST-B (requested 1, available 0)', 10 - :a_before),
    'detail', jsonb_build_object('short', jsonb_build_array(
      jsonb_build_object('variant_id', :'va', 'sku', 'ST-A', 'title', 'A', 'requested', 20, 'available', 10 - :a_before, 'reason', 'insufficient_stock'),
      jsonb_build_object('variant_id', :'vb', 'sku', 'ST-B', 'title', 'B', 'requested', 1, 'available', 0, 'reason', 'not_for_sale')))::text),
  'reserve: under the locks every short line is named, by sku, short or not for sale');
select is((select reserved from public.variants where id = :'va'), :a_before, 'reserve: and nothing is reserved');

-- ---------------------------------------------------------------------------
-- The CKS01 the snapshot and the reservation share.
select is(tests.error_of($$ select private.raise_not_enough_stock('[{"sku": "Y", "requested": 3, "available": 1}, {"sku": "X", "requested": 2, "available": 0}]') $$),
  jsonb_build_object('sqlstate', 'CKS01', 'message', 'not enough stock: X (requested 2, available 0), Y (requested 3, available 1)',
    'detail', jsonb_build_object('short', '[{"sku": "Y", "requested": 3, "available": 1}, {"sku": "X", "requested": 2, "available": 0}]'::jsonb)::text),
  'not enough stock: the message names the lines by sku; the detail carries them as given');

select is_empty(
  $$ select p.oid::regprocedure from pg_proc p
      where p.oid in ('private.checkout_admission(uuid,integer)'::regprocedure, 'private.checkout_snapshot(uuid,uuid[],text)'::regprocedure,
                      'private.checkout_coupon(text,numeric,text,uuid[])'::regprocedure,
                      'private.checkout_reserve(uuid,jsonb,timestamptz)'::regprocedure,
                      'private.raise_not_enough_stock(jsonb)'::regprocedure,
                      'private.checkout_fair_hold(uuid,jsonb,integer,timestamptz,private.settings)'::regprocedure)
        and obj_description(p.oid, 'pg_proc') is null $$,
  'every step says what it is for (comment on)');

select * from finish();
rollback;
