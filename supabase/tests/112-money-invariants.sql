-- Nothing lost, nothing doubled (issue 10): superseded checkouts (both
-- orders of events, and a take-over that cannot be fulfilled), stock lowered
-- below reservations (no exception on commit), a second approval hours
-- later, whole-unit currencies, payments matching no session, the
-- reconciliation and refund-retry claims, and checkout.audit().
begin;
\ir helpers/tests.psql
select plan(64);

select tests.create_shopper('mi-ana') as ana, tests.create_shopper('mi-bob') as bob,
       tests.create_shopper('mi-carol') as carol, tests.create_shopper('mi-dan') as dan,
       tests.create_shopper('mi-erin') as erin, tests.create_variant('MI-A', 10, 1000) as va,
       tests.create_variant('MI-B', 2, 500) as vb, tests.create_variant('MI-C', 5, 700) as vc,
       tests.create_variant('MI-D', 3, 300) as vd \gset

select tests.authenticate_as_service_role() \gset
select is(checkout.audit(), '[]'::jsonb, 'audit: nothing to report on a fresh store');
select tests.clear_authentication() \gset

-- ---------------------------------------------------------------------------
-- Superseded, order 1: the newer session is paid first, then the old tab.
select tests.fill_cart('mi-ana', array[:'va']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as a1, s ->> 'token' as ta1 from tests.begin_checkout('mi-ana') s \gset
select checkout.attach_preference(:'a1', 'pref-a1') \gset
select s ->> 'id' as a2, s ->> 'token' as ta2 from tests.begin_checkout('mi-ana') s \gset
select is((select status::text from public.order_sessions where id = :'a1'), 'cancelled', 'superseded: a new checkout cancels the old session');
select is((select checkout_group from public.order_sessions where id = :'a2'), (select checkout_group from public.order_sessions where id = :'a1'),
  'superseded: the new session joins the old one''s checkout group');
select is(checkout.apply_payment(tests.payment(:'ta2', 'approved', 2000, 10001)) ->> 'outcome', 'order_created', 'superseded (new first): the new session becomes the order');
select checkout.apply_payment(tests.payment(:'ta1', 'approved', 2000, 10002)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'superseded (new first): the old tab''s payment is owed back');
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'superseded', 'superseded (new first): reason superseded');
select is((select count(*)::integer from public.orders where session_id = :'ana'), 1, 'superseded (new first): one order');
select is((select stock_on_hand from public.variants where id = :'va'), 8, 'superseded (new first): the stock dropped once');

-- Superseded, order 2: the old tab is paid first and takes over; then the newer one.
select tests.fill_cart('mi-bob', array[:'vc']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as b1, s ->> 'token' as tb1 from tests.begin_checkout('mi-bob') s \gset
select s ->> 'id' as b2, s ->> 'token' as tb2 from tests.begin_checkout('mi-bob') s \gset
select checkout.apply_payment(tests.payment(:'tb1', 'approved', 700, 10101)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'superseded (old first): the old tab''s payment takes over');
select is((:'r'::jsonb -> 'order' ->> 'paid_late')::boolean, true, 'superseded (old first): as a late payment');
select is((select status::text from public.order_sessions where id = :'b2'), 'cancelled', 'superseded (old first): the newer session is cancelled');
select is_empty(format($$ select 1 from checkout.stock_reservations where order_session_id = %L $$, :'b2'), 'superseded (old first): its stock is released');
select ok('taken_over' = any (tests.event_kinds(:'b1')), 'superseded (old first): the log says taken_over');
-- BUG (before issue 10): the newer session stayed active and its payment made a second order.
select checkout.apply_payment(tests.payment(:'tb2', 'approved', 700, 10102)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'superseded (old first): the newer session''s payment is owed back');
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'superseded', 'superseded (old first): reason superseded');
select is((select count(*)::integer from public.orders where session_id = :'bob'), 1, 'superseded (old first): one order');
select is((select stock_on_hand from public.variants where id = :'vc'), 4, 'superseded (old first): the stock dropped once');
select is((select reserved from public.variants where id = :'vc'), 0, 'superseded (old first): nothing left reserved');

-- A take-over that cannot be fulfilled leaves the newer session alone.
select tests.fill_cart('mi-carol', array[:'vb']::uuid[], array[2]),
       tests.fill_cart('mi-dan', array[:'vb']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as c1, s ->> 'token' as tc1 from tests.begin_checkout('mi-carol') s \gset
select tests.authenticate_as('mi-carol') \gset
select public.set_cart_item_quantity(:'vb', 1) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as c2 from tests.begin_checkout('mi-carol') s \gset
select s ->> 'token' as td from tests.begin_checkout('mi-dan') s \gset
select checkout.apply_payment(tests.payment(:'td', 'approved', 500, 10201)) \gset
select checkout.apply_payment(tests.payment(:'tc1', 'approved', 1000, 10202)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'take-over without stock: the old tab is owed back');
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'out_of_stock', 'take-over without stock: reason out_of_stock');
select is((select status::text from public.order_sessions where id = :'c2'), 'active', 'take-over without stock: the newer session stays active');
select is((select count(*)::integer from checkout.stock_reservations where order_session_id = :'c2'), 1, 'take-over without stock: and keeps its reservation');

-- ---------------------------------------------------------------------------
-- Stock lowered below the reservations: no exception, a refund owed
-- (BUG before issue 10: check (stock_on_hand >= 0) failed, a 500 forever).
select tests.fill_cart('mi-erin', array[:'vd']::uuid[], array[3]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as e1, s ->> 'token' as te1 from tests.begin_checkout('mi-erin') s \gset
select tests.clear_authentication() \gset
update public.variants set stock_on_hand = 1 where id = :'vd';
select tests.authenticate_as_service_role() \gset
select is(
  (select v ->> 'invariant' from jsonb_array_elements(checkout.audit()) v where v ->> 'subject' = 'MI-D'),
  'stock_below_zero', 'audit: fewer units on hand than reserved is reported');
select lives_ok(format($$ select checkout.apply_payment(tests.payment(%L, 'approved', 900, 10301)) $$, :'te1'),
  'stock lowered: applying the payment raises nothing');
select results_eq(
  $$ select status, reason, amount from checkout.payment_refunds where payment_id = 10301 $$,
  $$ values ('owed', 'stock_lowered', 900.00) $$,
  'stock lowered: the payment is owed back, reason stock_lowered');
select results_eq(
  format($$ select status::text, payment_id from public.order_sessions where id = %L $$, :'e1'),
  $$ values ('refund_owed', 10301::bigint) $$,
  'stock lowered: the session is refund_owed');
select results_eq(
  format($$ select stock_on_hand, reserved from public.variants where id = %L $$, :'vd'),
  $$ values (1, 0) $$,
  'stock lowered: the stock is untouched and the reservation released');
select is(
  (select detail -> 'short' -> 0 ->> 'available' from checkout.order_session_events where order_session_id = :'e1' and kind = 'refund_owed'),
  '1', 'stock lowered: the log keeps the short lines');

-- ---------------------------------------------------------------------------
-- A second approval, hours later, changes nothing.
select to_jsonb(v) - 'updated_at' as before_va from public.variants v where id = :'va' \gset
select count(*) as before_events from checkout.order_session_events \gset
select tests.expire_order_session(:'a2', interval '5 hours') \gset
select checkout.expire_sessions() \gset
select checkout.apply_payment(tests.payment(:'ta2', 'approved', 2000, 10001)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'already_paid', 'approved again hours later: already_paid');
select is((select to_jsonb(v) - 'updated_at' from public.variants v where id = :'va'), :'before_va'::jsonb, 'approved again hours later: the stock is unchanged');
select is((select count(*) from checkout.order_session_events), :'before_events'::bigint, 'approved again hours later: nothing logged');
select is((select count(*)::integer from public.orders where session_id = :'ana'), 1, 'approved again hours later: still one order');
select is(checkout.apply_payment(tests.payment(:'te1', 'approved', 900, 10301)) -> 'refund' ->> 'reason', 'stock_lowered',
  'a refunded-owed payment approved again: the same answer');
select is((select count(*)::integer from checkout.payment_refunds where payment_id = 10301), 1, 'a refunded-owed payment approved again: one refund row');

-- ---------------------------------------------------------------------------
-- A payment that matches no order session.
select checkout.apply_payment(tests.payment('os_nobody_knows_this', 'approved', 4321, 10401)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'unknown_session', 'unmatched payment: outcome unknown_session');
select is((checkout.stats() -> 'unmatched_payments' ->> 'count')::integer, 1, 'unmatched payment: counted in the stats');
select is(checkout.stats() -> 'unmatched_payments' -> 'by_currency', '{"ARS": 4321.00}'::jsonb, 'unmatched payment: its amount in the stats');
select results_eq(
  $$ select v ->> 'invariant', v -> 'detail' ->> 'matches_no_session' from jsonb_array_elements(checkout.audit()) v where v ->> 'subject' = '10401' $$,
  $$ values ('approved_payment_unsettled', 'true') $$,
  'unmatched payment: listed by the audit');

-- ---------------------------------------------------------------------------
-- Whole-unit currencies, checked when prices are written.
select tests.clear_authentication() \gset
select throws_ok($$ select tests.create_variant('MI-CLP', 1, 1990.50, 'CLP') $$, 'CKM02', 'CLP amounts are whole units: 1990.50 has cents',
  'CLP: a price with cents is refused');
select throws_ok($$ select tests.create_variant('MI-COP', 1, 10.1, 'COP') $$, 'CKM02', 'COP amounts are whole units: 10.10 has cents',
  'COP: a price with cents is refused');
select lives_ok($$ select tests.create_variant('MI-CLP2', 1, 1990, 'CLP') $$, 'CLP: a whole price is accepted');
select throws_ok(format($$ update public.variants set price = 1990.99 where id = %L $$, tests.variant('MI-CLP2')), 'CKM02', null,
  'CLP: changing the price to cents is refused');
select throws_ok(format($$ update public.variants set currency = 'COP', price = 12.5 where id = %L $$, :'va'), 'CKM02', null,
  'COP: changing the currency of a price with cents is refused');
select is((tests.error_of(format($$ update public.variants set price = 1990.4 where id = %L $$, tests.variant('MI-CLP2'))) ->> 'detail')::jsonb,
  '{"table": "variants", "amount": 1990.4, "currency": "CLP", "suggestion": 1990}'::jsonb, 'CLP: the error detail names the suggestion');
select throws_ok($$ insert into checkout.coupons (code, kind, value, currency) values ('MI-CLP-FIX', 'fixed', 500.5, 'CLP') $$, 'CKM02', null,
  'CLP: a fixed coupon with cents is refused');
select lives_ok($$ insert into checkout.coupons (code, kind, value) values ('MI-PCT', 'percent', 12.5) $$, 'a percent coupon may have decimals');
select lives_ok(format($$ update public.variants set price = 1234.56 where id = %L $$, :'vc'), 'ARS: cents are fine');

-- ---------------------------------------------------------------------------
-- Reconciliation claims.
select tests.create_shopper('mi-fay') as fay \gset
select tests.fill_cart('mi-fay', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as f1 from tests.begin_checkout('mi-fay') s \gset
select checkout.attach_preference(:'f1', 'pref-f1') \gset
select s ->> 'id' as f2 from tests.begin_checkout('mi-fay') s \gset
select checkout.attach_preference(:'c2', 'pref-c2') \gset
select is(checkout.claim_reconciliation(), '[]'::jsonb, 'claim_reconciliation: nothing due before two minutes');
select tests.clear_authentication() \gset
update public.order_sessions set next_check_at = now() - interval '1 second' where session_id in (:'ana', :'bob', :'carol', :'dan', :'erin', :'fay');
select tests.authenticate_as_service_role() \gset
select checkout.claim_reconciliation() as claimed \gset
select is(
  (select array_agg(c ->> 'order_session_id' order by c ->> 'order_session_id') from jsonb_array_elements(:'claimed'::jsonb) c),
  (select array_agg(x order by x) from unnest(array[:'c2', :'f1']) x),
  'claim_reconciliation: active or recently closed sessions with a preference and no approved payment');
select is((select next_check_at from public.order_sessions where id = :'f1'), now() + interval '1 minute', 'claim_reconciliation: the next check in a minute');
select is(checkout.claim_reconciliation(), '[]'::jsonb, 'claim_reconciliation: a claimed session is not claimed again at once');

-- Refund retries.
select checkout.claim_refunds() as claimed \gset
select is(
  (select array_agg((c ->> 'payment_id')::bigint order by (c ->> 'payment_id')::bigint) from jsonb_array_elements(:'claimed'::jsonb) c),
  array[10002, 10102, 10202, 10301]::bigint[], 'claim_refunds: every refund owed');
select is(checkout.claim_refunds(), '[]'::jsonb, 'claim_refunds: not again before the back-off');
select is(checkout.note_refund_failure(10002, 'MercadoPago 500') ->> 'last_error', 'MercadoPago 500', 'note_refund_failure: records the error');
select ok('refund_failed' = any (tests.event_kinds(:'a1')), 'note_refund_failure: logged');
select tests.clear_authentication() \gset
update checkout.payment_refunds set next_attempt_at = now() where payment_id = 10002;
select tests.authenticate_as_service_role() \gset
select is(checkout.claim_refunds() -> 0 ->> 'attempts', '2', 'claim_refunds: the second attempt');
select is((select next_attempt_at from checkout.payment_refunds where payment_id = 10002), now() + interval '2 minutes', 'claim_refunds: the back-off doubles');
select is(checkout.record_refund(10002, 'mp-r-10002') -> 'refund' ->> 'status', 'refunded', 'a retried refund is recorded');
select checkout.record_refund(10202, null) \gset
select is(checkout.record_refund(10202, 'mp-r-10202') -> 'refund' ->> 'mp_refund_id', 'mp-r-10202',
  'record_refund: the refunded notification first, then the function with the refund id: the id is filled in');

-- Preferences to expire at MercadoPago.
select is(checkout.claim_preference_expiry() -> 0 ->> 'preference_id', 'pref-f1', 'claim_preference_expiry: the cancelled session''s preference');
select checkout.mark_preference_expired(:'f1') \gset
select is(checkout.claim_preference_expiry(), '[]'::jsonb, 'mark_preference_expired: not claimed again');

-- ---------------------------------------------------------------------------
-- The audit finds each broken invariant.
select tests.clear_authentication() \gset
update checkout.payment_refunds set created_at = now() - interval '2 hours' where payment_id = 10102;
update public.variants set reserved = reserved + 1 where id = :'va';
delete from checkout.payment_events where payment_id = 10101;
update public.order_sessions set checkout_group = (select checkout_group from public.order_sessions where id = :'a2') where id = :'b1';
select tests.authenticate_as_service_role() \gset
select set_eq(
  $$ select v ->> 'invariant' from jsonb_array_elements(checkout.audit()) v $$,
  array['refund_owed_over_1h', 'reserved_counter_mismatch', 'order_without_approved_payment', 'two_orders_one_checkout',
        'approved_payment_unsettled'],
  'audit: every broken invariant is listed');
select is((checkout.stats() -> 'stuck' ->> 'refunds_owed_over_1h')::integer, 1, 'stats: a refund owed for over an hour shows as stuck');
select tests.clear_authentication() \gset

select tests.authenticate_as('mi-ana') \gset
select throws_ok($$ select checkout.audit() $$, '42501', 'permission denied for schema checkout', 'audit: not for shoppers');
select tests.clear_authentication() \gset

select * from finish();
rollback;
