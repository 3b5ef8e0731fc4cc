-- begin_checkout counts with one conditional update, taken last
-- (private.checkout_reserve, 05_checkout.sql): the counter stays equal
-- to the reservation rows; a unit held by a reservation that expired but was
-- not yet released is still sold (the update refuses, the full rule under
-- the lock accepts); "sold out" is answered before any lock with the same
-- detail; and the counter trigger leaves out only the rows of the session
-- named in checkout.reserving_session.
begin;
\ir helpers/tests.psql
select plan(12);

select tests.create_shopper('cl-ana') as ana, tests.create_shopper('cl-bob') as bob,
       tests.create_shopper('cl-cid') as cid, tests.create_variant('CL-ONE', 1, 100) as vone,
       tests.create_variant('CL-MANY', 10, 100) as vmany \gset
select tests.fill_cart('cl-ana', array[:'vone', :'vmany']::uuid[], array[1, 4]),
       tests.fill_cart('cl-bob', array[:'vone', :'vmany']::uuid[], array[1, 2]),
       tests.fill_cart('cl-cid', array[:'vone']::uuid[], array[1]) \gset
select tests.clear_authentication() \gset
select tests.authenticate_as_service_role() \gset

-- 1. Counted by the update: two lines, one row each, counter = rows.
select (tests.begin_checkout('cl-ana') ->> 'id') as sa \gset
select results_eq(
  format($$ select v.sku, v.reserved from public.variants v where v.id in (%L, %L) order by v.sku $$, :'vone', :'vmany'),
  $$ values ('CL-MANY'::text, 4), ('CL-ONE'::text, 1) $$,
  'a checkout counts each line''s units on its variant');
select is((select count(*)::integer from checkout.stock_reservations where order_session_id = :'sa'), 2, 'and writes one reservation row per line');

-- 2. Sold out, answered from the read before any lock: the same CKS01 and detail as under the lock.
select throws_ok($$ select tests.begin_checkout('cl-bob') $$, 'CKS01', 'not enough stock: CL-ONE (requested 1, available 0)',
  'a cart the stock cannot serve is refused');
select is(
  (select reserved from public.variants where id = :'vmany'), 4,
  'and nothing of it is counted (its other line neither)');

-- 3. The unit of a reservation that expired but is not yet released: the
--    conditional update refuses (on hand 1, counted 1), the full rule under
--    the lock finds it free, and the checkout succeeds.
select tests.expire_order_session(:'sa') \gset
select lives_ok($$ select tests.begin_checkout('cl-bob') $$, 'a unit held by an expired, unreleased reservation is sold');
select is((select reserved from public.variants where id = :'vone'), 2, 'the counter counts both rows until the expired one is released');
select is(private.available_stock(:'vone'), 0, 'and nothing is left');
select throws_ok($$ select tests.begin_checkout('cl-cid') $$, 'CKS01', null, 'the next shopper is told it is sold out');
select is(checkout.expire_sessions(), 1, 'the expiry releases the expired session');
select is((select reserved from public.variants where id = :'vone'), 1, 'and the counter follows the rows again');

-- 4. The counter trigger stands aside only for the named session's rows.
reset role;
select set_config('checkout.reserving_session', gen_random_uuid()::text, true) \gset
insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
select id, :'vmany', 1, now() + interval '5 minutes' from public.order_sessions where id = :'sa';
select is((select reserved from public.variants where id = :'vmany'), 3, 'rows of another session than the one named are counted');
select set_config('checkout.reserving_session', :'sa', true) \gset
insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
values (:'sa', :'vone', 1, now() + interval '5 minutes');
select is((select reserved from public.variants where id = :'vone'), 1, 'rows of the named session are left to the caller');

select * from finish();
rollback;
