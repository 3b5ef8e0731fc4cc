-- checkout.apply_payment for every status, record_refund, malformed input,
-- payment_events once per (payment id, status), and the append-only event log.
begin;
\ir helpers/tests.psql
select plan(92);

select tests.create_shopper('pay-ana') as ana, tests.create_shopper('pay-bob') as bob,
       tests.create_shopper('pay-carol') as carol, tests.create_shopper('pay-dan') as dan,
       tests.create_shopper('pay-erin') as erin, tests.create_shopper('pay-frank') as frank,
       tests.create_variant('PAY-A', 10, 1000) as va, tests.create_variant('PAY-B', 5, 500) as vb,
       tests.create_variant('PAY-C', 2, 1000) as vc \gset

select tests.fill_cart('pay-ana', array[:'va', :'vb']::uuid[], array[2, 1]),
       tests.fill_cart('pay-bob', array[:'va']::uuid[], array[1]),
       tests.fill_cart('pay-carol', array[:'va']::uuid[], array[1]),
       tests.fill_cart('pay-dan', array[:'vb']::uuid[], array[1]),
       tests.fill_cart('pay-erin', array[:'vc']::uuid[], array[2]) \gset

select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa, s ->> 'token' as ta from tests.begin_checkout('pay-ana') s \gset
select s ->> 'id' as sb, s ->> 'token' as tb from tests.begin_checkout('pay-bob') s \gset
select s ->> 'id' as sc, s ->> 'token' as tc from tests.begin_checkout('pay-carol') s \gset
select s ->> 'id' as sd, s ->> 'token' as td from tests.begin_checkout('pay-dan') s \gset
select s ->> 'id' as se, s ->> 'token' as te from tests.begin_checkout('pay-erin') s \gset

-- After checking out, ana adds one more unit: it must stay in her cart.
select tests.fill_cart('pay-ana', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset

-- ---------------------------------------------------------------------------
-- approved, right amount and currency: the one order
select checkout.apply_payment(tests.payment(:'ta', 'approved', 2500, 9001)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'approved: the order is created');
select is(:'r'::jsonb ->> 'session_status', 'paid', 'approved: the session is paid');
select :'r'::jsonb -> 'order' ->> 'id' as oa, :'r'::jsonb -> 'order' ->> 'order_number' as oa_number \gset
select matches(:'oa_number'::text, '^ORD-[0-9]{6,}$', 'approved: a human-friendly order number');
select results_eq(
  format($$ select order_session_id, session_id, payment_id, status::text, subtotal, discount, total, currency, paid_late, payment_type, payment_method
              from public.orders where id = %L $$, :'oa'),
  format($$ values (%L::uuid, %L::uuid, 9001::bigint, 'paid', 2500.00, 0.00, 2500.00, 'ARS', false, 'credit_card', 'visa') $$, :'sa', :'ana'),
  'approved: the order copies the session and the payment'
);
select results_eq(
  format($$ select line_no::integer, variant_id, sku, unit_price, quantity, line_total from public.order_lines where order_id = %L order by line_no $$, :'oa'),
  format($$ values (1, %L::uuid, 'PAY-A', 1000.00, 2, 2000.00), (2, %L::uuid, 'PAY-B', 500.00, 1, 500.00) $$, :'va', :'vb'),
  'approved: the order lines are the snapshot'
);
select results_eq(
  format($$ select id, stock_on_hand from public.variants where id in (%L, %L) order by price desc $$, :'va', :'vb'),
  format($$ values (%L::uuid, 8), (%L::uuid, 4) $$, :'va', :'vb'),
  'approved: the stock on hand drops by the units bought'
);
select is_empty(format($$ select 1 from checkout.stock_reservations where order_session_id = %L $$, :'sa'), 'approved: the reservation is gone');
select results_eq(
  format($$ select status::text, payment_id, paid_at, closed_at from public.order_sessions where id = %L $$, :'sa'),
  $$ values ('paid', 9001::bigint, now(), now()) $$,
  'approved: the session is paid with its payment'
);
select results_eq(
  format($$ select variant_id, quantity from public.cart_items where session_id = %L $$, :'ana'),
  format($$ values (%L::uuid, 1) $$, :'va'),
  'approved: the bought units leave the cart; the unit added since stays'
);
select is(tests.event_kinds(:'sa'), array['created', 'payment_seen', 'committed'], 'approved: the log shows payment_seen then committed');
select is(private.available_stock(:'va'), 10 - 2 - 1 - 1, 'approved: availability = stock on hand minus the other reservations');

-- The same payment again (webhook and browser return both converge).
select checkout.apply_payment(tests.payment(:'ta', 'approved', 2500, 9001)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'already_paid', 'approved again: already_paid');
select is(:'r'::jsonb -> 'order' ->> 'id', :'oa', 'approved again: the same order');
select is((select count(*)::integer from public.orders where order_session_id = :'sa'), 1, 'approved again: still one order');
select is((select stock_on_hand from public.variants where id = :'va'), 8, 'approved again: the stock is not decremented twice');
select is((select count(*)::integer from checkout.payment_events where payment_id = 9001), 1, 'approved again: payment_events once per (payment, status)');
select is(tests.event_kinds(:'sa'), array['created', 'payment_seen', 'committed'], 'approved again: nothing more logged');

-- A second approved payment for a paid session: owed back.
select checkout.apply_payment(tests.payment(:'ta', 'approved', 2500, 9002)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'a second payment: refund owed');
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'duplicate_payment', 'a second payment: reason duplicate_payment');
select results_eq(
  $$ select order_session_id::text, amount, currency, reason, status from checkout.payment_refunds where payment_id = 9002 $$,
  format($$ values (%L, 2500.00, 'ARS', 'duplicate_payment', 'owed') $$, :'sa'),
  'a second payment: a payment_refunds row'
);
select is((select count(*)::integer from public.orders where order_session_id = :'sa'), 1, 'a second payment: still one order');

-- The order follows its payment.
select checkout.apply_payment(tests.payment(:'ta', 'in_mediation', 2500, 9001)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_updated', 'in_mediation: the order is updated');
select is((select status::text from public.orders where id = :'oa'), 'in_mediation', 'in_mediation: the order is in mediation');
select checkout.apply_payment(tests.payment(:'ta', 'refunded', 2500, 9001)) as r \gset
select is((select status::text from public.orders where id = :'oa'), 'refunded', 'refunded: the order is refunded');
select is((select status::text from public.order_sessions where id = :'sa'), 'paid', 'refunded: the session stays paid');

-- record_refund: the duplicate payment was refunded in MercadoPago.
select checkout.record_refund(9002, 'mp-refund-1') as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_recorded', 'record_refund: recorded');
select results_eq(
  $$ select status, mp_refund_id, refunded_at from checkout.payment_refunds where payment_id = 9002 $$,
  $$ values ('refunded', 'mp-refund-1', now()) $$,
  'record_refund: the refund row is refunded with its MercadoPago id'
);
select is(checkout.record_refund(9002, 'mp-refund-2') -> 'refund' ->> 'mp_refund_id', 'mp-refund-1', 'record_refund: idempotent');
select throws_ok($$ select checkout.record_refund(424242, null) $$, 'CKO01', 'no refund is owed for payment 424242', 'record_refund: unknown payment refused');
select is(
  tests.event_kinds(:'sa'),
  array['created', 'payment_seen', 'committed', 'payment_seen', 'refund_owed',
        'payment_seen', 'order_status_changed', 'payment_seen', 'order_status_changed', 'refunded'],
  'the log tells the whole story in order'
);

-- BUG: an order's status can move backwards: a stale in_mediation (a
-- notification fetched before the refund and applied after it) turns a
-- refunded order back into in_mediation. Statuses should only move forward.
select checkout.apply_payment(tests.payment(:'ta', 'in_mediation', 2500, 9001)) \gset
select is((select status::text from public.orders where id = :'oa'), 'refunded', 'a stale in_mediation does not undo a refund');

-- ---------------------------------------------------------------------------
-- rejected, pending, in_process, cancelled: recorded; the session stays active
select checkout.apply_payment(tests.payment(:'tb', 'rejected', 1000, 9101)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'recorded', 'rejected: recorded');
select is(:'r'::jsonb ->> 'session_status', 'active', 'rejected: the session stays active');
select is((select count(*)::integer from checkout.stock_reservations where order_session_id = :'sb'), 1, 'rejected: the reservation stays');
select results_eq(
  $$ select order_session_id::text, status, status_detail, transaction_amount, currency, payment_type, payment_method, payload ->> 'id'
       from checkout.payment_events where payment_id = 9101 $$,
  format($$ values (%L, 'rejected', 'cc_rejected_other_reason', 1000.00, 'ARS', 'credit_card', 'visa', '9101') $$, :'sb'),
  'rejected: the payment event is stored with the payload'
);
select checkout.apply_payment(tests.payment(:'tb', 'rejected', 1000, 9101)) \gset
select is((select count(*)::integer from checkout.payment_events where payment_id = 9101), 1, 'rejected twice: one payment event');
select is(checkout.apply_payment(tests.payment(:'tb', 'pending', 1000, 9102)) ->> 'outcome', 'recorded', 'pending: recorded');
select is(checkout.apply_payment(tests.payment(:'tb', 'in_process', 1000, 9102)) ->> 'outcome', 'recorded', 'in_process: recorded');
select is(checkout.apply_payment(tests.payment(:'tb', 'authorized', 1000, 9102)) ->> 'outcome', 'recorded', 'authorized: recorded');
select is(checkout.apply_payment(tests.payment(:'tb', 'cancelled', 1000, 9102)) ->> 'outcome', 'recorded', 'cancelled: recorded');
select is((select count(*)::integer from checkout.payment_events where payment_id = 9102), 4, 'one payment event per status of the payment');
select results_eq(
  format($$ select status::text from public.order_sessions where id = %L $$, :'sb'),
  $$ values ('active') $$,
  'after rejected/pending/cancelled the session is still active'
);
select is_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'sb'), 'no order for them');
-- The buyer retries with another card on the same preference.
select is(checkout.apply_payment(tests.payment(:'tb', 'approved', 1000, 9103)) ->> 'outcome', 'order_created', 'a later approved payment creates the order');
select checkout.apply_payment(tests.payment(:'tb', 'charged_back', 1000, 9103)) as r \gset
select is(:'r'::jsonb -> 'order' ->> 'status', 'charged_back', 'charged_back: the order is charged back');
select is(
  tests.event_kinds(:'sb'),
  array['created', 'payment_seen', 'payment_seen', 'payment_seen', 'payment_seen', 'payment_seen',
        'payment_seen', 'committed', 'payment_seen', 'order_status_changed'],
  'bob''s log: every status seen once, then the order and its chargeback'
);

-- ---------------------------------------------------------------------------
-- Amount or currency mismatch: no order, a refund owed
select checkout.apply_payment(tests.payment(:'tc', 'approved', 1000.01, 9201)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'amount_mismatch', 'wrong amount: amount_mismatch');
select is_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'sc'), 'wrong amount: no order');
select results_eq(
  $$ select amount, currency, reason, status from checkout.payment_refunds where payment_id = 9201 $$,
  $$ values (1000.01, 'ARS', 'amount_mismatch', 'owed') $$,
  'wrong amount: the payment is owed back'
);
select checkout.apply_payment(tests.payment(:'tc', 'approved', 1000, 9202, 'USD')) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'amount_mismatch', 'wrong currency: amount_mismatch');
select results_eq(
  $$ select amount, currency, reason from checkout.payment_refunds where payment_id = 9202 $$,
  $$ values (1000.00, 'USD', 'amount_mismatch') $$,
  'wrong currency: the payment is owed back in its currency'
);
select is((select status::text from public.order_sessions where id = :'sc'), 'active', 'mismatch: the session stays active');
select is((select stock_on_hand from public.variants where id = :'va'), 7, 'mismatch: no stock moved (only bob''s unit left)');
select is(
  tests.event_kinds(:'sc'),
  array['created', 'payment_seen', 'amount_mismatch', 'refund_owed', 'payment_seen', 'amount_mismatch', 'refund_owed'],
  'mismatch: the log shows amount_mismatch and refund_owed'
);
-- MercadoPago reports the refund of the owed payment.
select checkout.apply_payment(tests.payment(:'tc', 'refunded', 1000.01, 9201)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_recorded', 'refunded for an owed refund: recorded');
select is((select status from checkout.payment_refunds where payment_id = 9201), 'refunded', 'refunded for an owed refund: the refund row is refunded');
-- Recorded without MercadoPago's id (as when the call that made the refund
-- failed after MercadoPago made it): the payment's next news brings the id.
select is((select mp_refund_id from checkout.payment_refunds where payment_id = 9201), null, 'refunded without the id: none recorded yet');
select checkout.apply_payment(tests.payment(:'tc', 'refunded', 1000.01, 9201) || '{"refund_id": "mp-refund-9201"}') as r \gset
select is(:'r'::jsonb -> 'refund' ->> 'mp_refund_id', 'mp-refund-9201', 'a refunded payment with its refund id fills it in');
select checkout.apply_payment(tests.payment(:'tc', 'refunded', 1000.01, 9201) || '{"refund_id": "another"}') as r \gset
select is((select mp_refund_id from checkout.payment_refunds where payment_id = 9201), 'mp-refund-9201', 'a recorded refund id is never replaced');

-- ---------------------------------------------------------------------------
-- Approved after expiry, with stock: the order, paid late
select tests.expire_order_session(:'sd') \gset
select checkout.expire_sessions() \gset
select is((select status::text from public.order_sessions where id = :'sd'), 'expired', 'late: the session had expired');
select checkout.apply_payment(tests.payment(:'td', 'approved', 500, 9301)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'late with stock: the order is created');
select is((:'r'::jsonb -> 'order' ->> 'paid_late')::boolean, true, 'late with stock: the order is marked paid_late');
select is((select status::text from public.order_sessions where id = :'sd'), 'paid', 'late with stock: the session is paid');
select is((select stock_on_hand from public.variants where id = :'vb'), 3, 'late with stock: the stock is decremented');

-- Approved after expiry, without stock: refund owed
select tests.expire_order_session(:'se') \gset
select tests.fill_cart('pay-frank', array[:'vc']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('pay-frank') ->> 'id' as sf \gset
select checkout.apply_payment(tests.payment(:'te', 'approved', 2000, 9401)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'late without stock: refund owed');
select is(:'r'::jsonb -> 'short',
  jsonb_build_array(jsonb_build_object('variant_id', :'vc'::uuid, 'sku', 'PAY-C', 'title', 'Product PAY-C - Variant PAY-C',
                                       'requested', 2, 'available', 0, 'reason', 'insufficient_stock')),
  'late without stock: the short lines (the shape begin_checkout''s CKS01 detail has)');
select results_eq(
  format($$ select status::text, payment_id, paid_at from public.order_sessions where id = %L $$, :'se'),
  $$ values ('refund_owed', 9401::bigint, now()) $$,
  'late without stock: the session is refund_owed with its payment'
);
select results_eq(
  $$ select amount, currency, reason, status from checkout.payment_refunds where payment_id = 9401 $$,
  $$ values (2000.00, 'ARS', 'out_of_stock', 'owed') $$,
  'late without stock: a payment_refunds row'
);
select is_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'se'), 'late without stock: no order');
select is((select stock_on_hand from public.variants where id = :'vc'), 2, 'late without stock: the stock is untouched');
select is((select quantity from checkout.stock_reservations where order_session_id = :'sf'), 2, 'late without stock: the other shopper keeps the units');
select is(checkout.apply_payment(tests.payment(:'te', 'approved', 2000, 9401)) ->> 'outcome', 'refund_owed', 'late without stock, again: the same answer');
select is((select count(*)::integer from checkout.payment_refunds where order_session_id = :'se'), 1, 'late without stock, again: one refund row');
select is(checkout.apply_payment(tests.payment(:'te', 'approved', 2000, 9402)) -> 'refund' ->> 'reason', 'duplicate_payment', 'another payment for a refund_owed session: duplicate_payment');
select checkout.apply_payment(tests.payment(:'te', 'refunded', 2000, 9401)) as r \gset
select is(:'r'::jsonb ->> 'session_status', 'refund_owed', 'refunded for the owed refund: the session waits for the other refund owed');
select checkout.apply_payment(tests.payment(:'te', 'refunded', 2000, 9402)) as r \gset
select is(:'r'::jsonb ->> 'session_status', 'refunded', 'refunded for the last refund owed: the session is refunded');
select is(
  tests.event_kinds(:'se'),
  array['created', 'payment_seen', 'refund_owed', 'payment_seen', 'refund_owed', 'payment_seen', 'refunded', 'payment_seen', 'refunded'],
  'late without stock: the log'
);

-- ---------------------------------------------------------------------------
-- Unknown external_reference: recorded, nothing else
select checkout.apply_payment(tests.payment('os_nobody', 'approved', 100, 9501)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'unknown_session', 'unknown external_reference: unknown_session');
select results_eq(
  $$ select order_session_id, external_reference, status from checkout.payment_events where payment_id = 9501 $$,
  $$ values (null::uuid, 'os_nobody', 'approved') $$,
  'unknown external_reference: the payment event is recorded'
);

-- Malformed payments: CKI01, nothing written
select count(*) as events_before from checkout.payment_events \gset
select throws_ok($$ select checkout.apply_payment('[1, 2]') $$, 'CKI01', 'payment must be a JSON object', 'malformed: an array');
select throws_ok($$ select checkout.apply_payment('"approved"') $$, 'CKI01', 'payment must be a JSON object', 'malformed: a string');
select throws_ok($$ select checkout.apply_payment(null) $$, 'CKI01', 'payment must be a JSON object', 'malformed: null');
select throws_ok(format($$ select checkout.apply_payment(%L::jsonb || '{"id": "abc"}') $$, tests.payment(:'tb', 'approved', 1000, 1)),
  'CKI01', 'payment id must be an integer and transaction_amount a number', 'malformed: a non-numeric id');
select throws_ok(format($$ select checkout.apply_payment(%L::jsonb || '{"transaction_amount": "lots"}') $$, tests.payment(:'tb', 'approved', 1000, 1)),
  'CKI01', 'payment id must be an integer and transaction_amount a number', 'malformed: a non-numeric amount');
select throws_ok(format($$ select checkout.apply_payment(%L::jsonb - 'id') $$, tests.payment(:'tb', 'approved', 1000, 1)),
  'CKI01', 'payment id must be a positive integer', 'malformed: no id');
select throws_ok(format($$ select checkout.apply_payment(%L) $$, tests.payment(:'tb', 'approved', 1000, -5)),
  'CKI01', 'payment id must be a positive integer', 'malformed: a negative id');
select throws_ok(format($$ select checkout.apply_payment(%L) $$, tests.payment(:'tb', 'weird', 1000, 1)),
  'CKI01', 'unknown payment status weird', 'malformed: an unknown status');
select throws_ok(format($$ select checkout.apply_payment(%L::jsonb - 'status') $$, tests.payment(:'tb', 'approved', 1000, 1)),
  'CKI01', 'unknown payment status null', 'malformed: no status');
select throws_ok(format($$ select checkout.apply_payment(%L::jsonb - 'transaction_amount') $$, tests.payment(:'tb', 'approved', 1000, 1)),
  'CKI01', 'an approved payment needs transaction_amount', 'malformed: approved without an amount');
select is((select count(*) from checkout.payment_events), :'events_before'::bigint, 'malformed: no payment event written');

-- ---------------------------------------------------------------------------
-- The event log is append-only
select tests.clear_authentication() \gset
select throws_ok(format($$ update checkout.order_session_events set kind = 'expired' where order_session_id = %L $$, :'sa'),
  'CKI02', 'order_session_events is append-only', 'the event log cannot be rewritten, even by the owner of the table');
select tests.authenticate_as_service_role() \gset
select throws_ok(format($$ update checkout.order_session_events set detail = '{}' where order_session_id = %L $$, :'sa'),
  '42501', 'permission denied for table order_session_events', 'service_role cannot update the event log');
select tests.clear_authentication() \gset

select * from finish();
rollback;
