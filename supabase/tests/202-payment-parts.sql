-- Payments per order session (two cards): approved parts add up to the
-- session's total, whatever order they arrive in; an over-payment or another
-- currency is refused; a session that cannot be fulfilled owes every part
-- back; a part whose partner never comes is owed back when the hold ends
-- (checkout.refund_unpaired_parts); installments never make a mismatch; the
-- audit's money invariants over parts.
begin;
\ir helpers/tests.psql
select plan(49);

select tests.create_shopper('parts-ana') as ana, tests.create_shopper('parts-bob') as bob,
       tests.create_shopper('parts-cid') as cid, tests.create_shopper('parts-dee') as dee,
       tests.create_shopper('parts-eve') as eve, tests.create_shopper('parts-fay') as fay,
       tests.create_variant('PARTS-A', 10, 1000) as va, tests.create_variant('PARTS-B', 1, 500) as vb \gset

insert into auth.users (id, email, is_anonymous, email_confirmed_at, raw_app_meta_data)
values ('00000000-0000-4000-8000-00000000b001', 'parts-boss@example.com', false, now(), '{"store_role": "staff"}');
select tests.fill_cart('parts-ana', array[:'va']::uuid[], array[1]),
       tests.fill_cart('parts-bob', array[:'va']::uuid[], array[1]),
       tests.fill_cart('parts-cid', array[:'va']::uuid[], array[1]),
       tests.fill_cart('parts-dee', array[:'vb']::uuid[], array[1]),
       tests.fill_cart('parts-eve', array[:'va']::uuid[], array[1]),
       tests.fill_cart('parts-fay', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa, s ->> 'token' as ta from tests.begin_checkout('parts-ana') s \gset
select s ->> 'id' as sb, s ->> 'token' as tb from tests.begin_checkout('parts-bob') s \gset
select s ->> 'id' as sc, s ->> 'token' as tc from tests.begin_checkout('parts-cid') s \gset
select s ->> 'id' as sd, s ->> 'token' as td from tests.begin_checkout('parts-dee') s \gset
select s ->> 'id' as se, s ->> 'token' as te from tests.begin_checkout('parts-eve') s \gset
select s ->> 'id' as sf, s ->> 'token' as tf from tests.begin_checkout('parts-fay') s \gset

-- ---------------------------------------------------------------------------
-- Two cards: 600 in 6 installments with interest, then 400 in one.
select checkout.apply_payment(tests.payment(:'ta', 'approved', 600, 8001)
  || '{"installments": 6, "total_paid_amount": 780, "fee_amount": 37.74}') as r \gset
select is(:'r'::jsonb ->> 'outcome', 'partly_paid', 'first part: not an order yet');
select is((:'r'::jsonb ->> 'paid')::numeric, 600::numeric, 'first part: 600 counted');
select is((:'r'::jsonb ->> 'remaining')::numeric, 400::numeric, 'first part: 400 remaining');
select is((select status::text from public.order_sessions where id = :'sa'), 'active', 'first part: the session stays active');
select is_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'sa'), 'first part: no order');
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 600, 8001)) ->> 'outcome', 'partly_paid', 'first part again: the same answer');
select is((select count(*)::integer from checkout.order_payments where order_session_id = :'sa'), 1, 'first part again: counted once');
select is_empty($$ select 1 from checkout.payment_refunds where payment_id = 8001 $$, 'first part: nothing owed back');

select checkout.apply_payment(tests.payment(:'ta', 'approved', 400, 8002) || '{"fee_amount": 25.16}') as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'second part: the order');
select results_eq(
  format($$ select payment_id, total, financing_cost from public.orders where order_session_id = %L $$, :'sa'),
  $$ values (8002::bigint, 1000.00, 180.00) $$,
  'second part: the order''s payment is the completing part, its price is the total, the buyer''s interest is apart');
select results_eq(
  format($$ select p.payment_id, p.amount, p.installments, p.financing_cost, p.fees from checkout.order_payments p
             join public.orders o on o.id = p.order_id where o.order_session_id = %L order by 1 $$, :'sa'),
  $$ values (8001::bigint, 600.00, 6, 180.00, 37.74), (8002::bigint, 400.00, 1, 0.00, 25.16) $$,
  'both parts belong to the order, with installments, financing cost and fees');
select is((select stock_on_hand from public.variants where id = :'va'), 9, 'one order: the stock is decremented once');
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 600, 8001)) ->> 'outcome', 'already_paid', 'the first part after the order: already_paid');
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 400, 8002)) ->> 'outcome', 'already_paid', 'the second part after the order: already_paid');

-- The dashboard's order: net income = total - MercadoPago's fees; the
-- buyer's financing cost shown apart.
select admin.order_detail(
  '{"sub": "00000000-0000-4000-8000-00000000b001", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}',
  (select order_number from public.orders where order_session_id = :'sa')) -> 'money' as money \gset
select is(:'money'::jsonb - 'parts', '{"total": 1000.00, "currency": "ARS", "financing_cost": 180.00, "fees": 62.90, "net": 937.10}'::jsonb,
  'dashboard: the order''s total, financing cost, fees and net income');
select is(jsonb_array_length(:'money'::jsonb -> 'parts'), 2, 'dashboard: both payments of the order, each with its installments');
select is(admin.orders(
  '{"sub": "00000000-0000-4000-8000-00000000b001", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}',
  '8001') -> 'orders' -> 0 ->> 'order_number', (select order_number from public.orders where order_session_id = :'sa'),
  'dashboard: the order is found by the id of either payment (here the first part)');

-- A stale approval of one part after it was refunded changes nothing.
select is(checkout.apply_payment(tests.payment(:'ta', 'refunded', 400, 8002)) -> 'order' ->> 'status', 'paid',
  'one part refunded: the order stays paid while the other part is not');
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 400, 8002)) -> 'order' ->> 'status', 'paid',
  'a stale approval after the refund: nothing changes');
select is(checkout.apply_payment(tests.payment(:'ta', 'refunded', 600, 8001)) -> 'order' ->> 'status', 'refunded',
  'every part refunded: the order is refunded');
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 600, 8001)) -> 'order' ->> 'status', 'refunded',
  'a stale approval after the order was refunded: it stays refunded');

-- ---------------------------------------------------------------------------
-- Over-payment and another currency: refused, the counted part untouched.
select is(checkout.apply_payment(tests.payment(:'tb', 'approved', 700, 8101)) ->> 'outcome', 'partly_paid', 'bob: 700 of 1000');
select checkout.apply_payment(tests.payment(:'tb', 'approved', 400, 8102)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'amount_mismatch', 'bob: 400 more would pay 1100: amount_mismatch');
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'amount_mismatch', 'bob: the over-payment is owed back');
select is(checkout.apply_payment(tests.payment(:'tb', 'approved', 300, 8103, 'USD')) ->> 'outcome', 'amount_mismatch', 'bob: a part in another currency: amount_mismatch');
select is(checkout.apply_payment(tests.payment(:'tb', 'approved', 300, 8104)) ->> 'outcome', 'order_created', 'bob: the right rest: the order');
select is((select count(*)::integer from checkout.order_payments p join public.orders o on o.id = p.order_id where o.order_session_id = :'sb'), 2,
  'bob: the order has the two right parts');

-- A payment of the whole total replaces a part waiting (the buyer paid again
-- with one card after the second card failed).
select is(checkout.apply_payment(tests.payment(:'tc', 'approved', 300, 8201)) ->> 'outcome', 'partly_paid', 'cid: 300 of 1000');
select is(checkout.apply_payment(tests.payment(:'tc', 'approved', 1000, 8202)) ->> 'outcome', 'order_created', 'cid: then the whole 1000 in one: the order');
select results_eq(
  $$ select reason, amount from checkout.payment_refunds where payment_id = 8201 $$,
  $$ values ('unpaired_part', 300.00) $$,
  'cid: the part it replaced is owed back');
select is((select payment_id from public.orders where order_session_id = :'sc'), 8202::bigint, 'cid: the order is the whole payment''s');

-- ---------------------------------------------------------------------------
-- Stock lowered while the parts come in: every part is owed back.
select is(checkout.apply_payment(tests.payment(:'td', 'approved', 200, 8301)) ->> 'outcome', 'partly_paid', 'dee: 200 of 500');
update public.variants set stock_on_hand = 0 where id = :'vb';
select checkout.apply_payment(tests.payment(:'td', 'approved', 300, 8302)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'dee: the stock is gone: refund owed');
select is(:'r'::jsonb -> 'parts_refunded' -> 0 ->> 'payment_id', '8301', 'dee: the answer names the other part owed back');
select results_eq(
  $$ select payment_id, reason from checkout.payment_refunds where payment_id in (8301, 8302) order by 1 $$,
  $$ values (8301::bigint, 'stock_lowered'), (8302::bigint, 'stock_lowered') $$,
  'dee: both parts are owed back');
select is(checkout.apply_payment(tests.payment(:'td', 'approved', 300, 8303)) -> 'refund' ->> 'reason', 'duplicate_payment',
  'dee: a later part for the closed session is owed back too');

-- ---------------------------------------------------------------------------
-- A part whose partner never comes: owed back when the hold has ended.
select is(checkout.apply_payment(tests.payment(:'te', 'approved', 250, 8401)) ->> 'outcome', 'partly_paid', 'eve: 250 of 1000');
select is(checkout.apply_payment(tests.payment(:'te', 'rejected', 750, 8402)) ->> 'outcome', 'recorded', 'eve: the second card is rejected');
select is(checkout.refund_unpaired_parts(), '[]'::jsonb, 'eve: nothing is owed back while the hold lasts');
select tests.expire_order_session(:'se', interval '10 minutes') \gset
select is(checkout.refund_unpaired_parts(interval '30 minutes'), '[]'::jsonb, 'eve: nor during the grace');
select is(jsonb_array_length(checkout.refund_unpaired_parts(interval '5 minutes')), 1, 'eve: after the grace, the session is claimed');
select results_eq(
  $$ select reason, amount, status from checkout.payment_refunds where payment_id = 8401 $$,
  $$ values ('unpaired_part', 250.00, 'owed') $$,
  'eve: the approved part is owed back');
select is((select status::text from public.order_sessions where id = :'se'), 'refund_owed', 'eve: the session is closed as refund_owed');
select is(checkout.refund_unpaired_parts(interval '5 minutes'), '[]'::jsonb, 'eve: claimed once');
select is(checkout.apply_payment(tests.payment(:'te', 'approved', 750, 8403)) -> 'refund' ->> 'reason', 'duplicate_payment',
  'eve: the partner arriving after that is owed back too');

-- A part paid late for a checkout superseded by an order (fay checked out
-- again, which cancelled the first checkout): owed back at once.
select s ->> 'token' as tf2 from tests.begin_checkout('parts-fay') s \gset
select is(checkout.apply_payment(tests.payment(:'tf2', 'approved', 1000, 8501)) ->> 'outcome', 'order_created', 'fay: her newer checkout is paid');
select is(checkout.apply_payment(tests.payment(:'tf', 'approved', 400, 8502)) -> 'refund' ->> 'reason', 'superseded',
  'fay: a part for the older checkout is owed back at once (superseded)');

-- ---------------------------------------------------------------------------
-- The audit: empty here; a part moved to the wrong order, or an order whose
-- parts do not add up, is caught.
select is(checkout.audit(), '[]'::jsonb, 'audit: every invariant holds');
update checkout.order_payments set amount = 399 where payment_id = 8104;
select is((select jsonb_agg(v ->> 'invariant') from jsonb_array_elements(checkout.audit()) v), '["order_parts_mismatch"]'::jsonb,
  'audit: parts that do not add up to the order''s total');

select * from finish();
rollback;
