-- An on-time payment takes its stock last (issue 25): the order is written
-- first and the variants locked only for the decrement
-- (private.commit_held_order); a line that is short there undoes all of it
-- (CKS90, caught by settle_approved) and the locked path answers as before.
begin;
\ir helpers/tests.psql
select plan(14);

select tests.create_shopper('sl-ana') as ana, tests.create_shopper('sl-bob') as bob,
       tests.create_variant('SL-A', 5, 1000) as va, tests.create_variant('SL-B', 4, 500) as vb \gset

-- The common case: the order, its lines, the stock, the reservation, the cart.
select tests.fill_cart('sl-ana', array[:'va', :'vb']::uuid[], array[2, 1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as a1, s ->> 'token' as ta1 from tests.begin_checkout('sl-ana') s \gset
select checkout.apply_payment(tests.payment(:'ta1', 'approved', 2500, 21001)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'held: the payment makes the order');
select is(:'r'::jsonb ->> 'session_status', 'paid', 'held: the answer says the session is paid');
select results_eq(
  format($$ select variant_id, quantity from public.order_lines where order_id = %L order by line_no $$, :'r'::jsonb -> 'order' ->> 'id'),
  format($$ values (%L::uuid, 2), (%L::uuid, 1) $$, :'va', :'vb'),
  'held: the order has the session''s lines');
select results_eq(
  format($$ select stock_on_hand, reserved from public.variants where id in (%L, %L) order by sku $$, :'va', :'vb'),
  $$ values (3, 0), (3, 0) $$,
  'held: the stock dropped once, nothing left reserved');
select is_empty(format($$ select 1 from checkout.stock_reservations where order_session_id = %L $$, :'a1'), 'held: the reservation is released');
select is_empty(format($$ select 1 from public.cart_items where session_id = %L $$, :'ana'), 'held: the bought units left the cart');
select results_eq(
  format($$ select status::text, payment_id from public.order_sessions where id = %L $$, :'a1'),
  $$ values ('paid', 21001::bigint) $$,
  'held: the session is paid by the payment');
select is((select count(*)::integer from checkout.order_session_events where order_session_id = :'a1' and kind = 'committed'), 1,
  'held: committed is logged once');

-- A line short when its stock is taken: CKS90, and nothing of the order stays.
select tests.fill_cart('sl-bob', array[:'va']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as b1, s ->> 'token' as tb1 from tests.begin_checkout('sl-bob') s \gset
select tests.clear_authentication() \gset
update public.variants set stock_on_hand = 1 where id = :'va';
select throws_ok(
  format($$ select private.commit_held_order(s, tests.payment(%L, 'approved', 2000, 21002)) from public.order_sessions s where s.id = %L $$, :'tb1', :'b1'),
  'CKS90', null, 'short: commit_held_order refuses a line not on hand');
select is_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'b1'), 'short: no order is left');
select tests.authenticate_as_service_role() \gset
select checkout.apply_payment(tests.payment(:'tb1', 'approved', 2000, 21002)) as r \gset
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'stock_lowered', 'short: the payment is owed back as stock_lowered, by the locked path');
select results_eq(
  format($$ select status::text from public.order_sessions where id = %L $$, :'b1'),
  $$ values ('refund_owed') $$,
  'short: the session is refund_owed, not paid');
select is_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'b1'), 'short: still no order');
select results_eq(
  format($$ select stock_on_hand, reserved from public.variants where id = %L $$, :'va'),
  $$ values (1, 0) $$,
  'short: the stock is untouched and the reservation released');

select * from finish();
rollback;
