-- A payment keeps its order's facts and counts its released units itself
-- (issue 25): private.record_order enqueues the confirmation, stamps the
-- cart's paid fact and flags a fraud alert, and the orders triggers skip its
-- order (checkout.recording_order) but still serve any other writer;
-- commit_held_order lowers variants.reserved in the statement that takes the
-- stock, and the counter trigger skips only the session it names
-- (checkout.releasing_session).
begin;
\ir helpers/tests.psql
select plan(14);

select tests.create_shopper('pf-ana') as ana, tests.create_shopper('pf-bob') as bob, tests.create_shopper('pf-cy') as cy,
       tests.create_variant('PF-A', 10, 1000) as va, tests.create_variant('PF-B', 10, 500) as vb \gset

-- The payment's order: its facts once each, none left to the triggers.
select tests.fill_cart('pf-ana', array[:'va', :'vb']::uuid[], array[2, 1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as a1, s ->> 'token' as ta1 from tests.begin_checkout('pf-ana') s \gset
select checkout.apply_payment(tests.payment(:'ta1', 'approved', 2500, 22001)) as r \gset
select tests.clear_authentication() \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'payment: the order is made');
select results_eq(
  format($$ select recipient from email.outbox where kind = 'order_confirmation' and order_id = %L $$, :'r'::jsonb -> 'order' ->> 'id'),
  $$ values ('pf-ana@example.com') $$,
  'payment: one confirmation email, to the payer');
select isnt((select paid_at from analytics.cart_facts where session_id = :'ana'), null, 'payment: the cart''s fact is stamped paid');
select results_eq(
  format($$ select stock_on_hand, reserved from public.variants where id in (%L, %L) order by sku $$, :'va', :'vb'),
  $$ values (8, 0), (9, 0) $$,
  'payment: the stock taken and the reservation''s units released, once');
select is(current_setting('checkout.recording_order', true), '', 'payment: checkout.recording_order is cleared after the order');
select is(current_setting('checkout.releasing_session', true), '', 'payment: checkout.releasing_session is cleared after the stock');

-- A fraud alert before the approval: the order is born stopped, by record_order.
select tests.fill_cart('pf-bob', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as tb1 from tests.begin_checkout('pf-bob') s \gset
select checkout.apply_fraud_alert(tests.payment(:'tb1', 'pending', 1000, 22002), null) \gset
select checkout.apply_payment(tests.payment(:'tb1', 'approved', 1000, 22002)) as r \gset
select tests.clear_authentication() \gset
select is((:'r'::jsonb -> 'order' ->> 'do_not_ship')::boolean, true, 'fraud: the order is born do_not_ship');
select is((select reason from checkout.payment_refunds where payment_id = 22002), 'fraud_alert', 'fraud: its payment is owed back once');

-- Another writer of orders (here by hand, in the same transaction as the
-- payments above): the triggers still keep its facts.
select tests.fill_cart('pf-cy', array[:'vb']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as c1 from tests.begin_checkout('pf-cy') s \gset
select tests.clear_authentication() \gset
insert into checkout.fraud_alerts (payment_id) values (22003);
insert into public.orders (order_session_id, session_id, payment_id, subtotal, discount, total, currency, payer, shipping_address)
select id, session_id, 22003, subtotal, discount, total, currency, payer, shipping_address from public.order_sessions where id = :'c1'
returning id as c_order \gset
select is((select count(*)::integer from email.outbox where kind = 'order_confirmation' and order_id = :'c_order'), 1,
  'by hand: the trigger enqueues the confirmation');
select isnt((select paid_at from analytics.cart_facts where session_id = :'cy'), null, 'by hand: the trigger stamps the cart''s fact');
select is((select do_not_ship from public.orders where id = :'c_order'), true, 'by hand: the trigger flags the fraud alert');
select is((select reason from checkout.payment_refunds where payment_id = 22003), 'fraud_alert', 'by hand: the trigger stops it');

-- The counter trigger leaves out only the session the caller names.
select set_config('checkout.releasing_session', :'c1', true) \gset
delete from checkout.stock_reservations where order_session_id = :'c1';
select set_config('checkout.releasing_session', '', true) \gset
select is((select reserved from public.variants where id = :'vb'), 1, 'named: the caller''s session is left to the caller');
update public.variants set reserved = 0 where id = :'vb';
select tests.fill_cart('pf-ana', array[:'va']::uuid[], array[3]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as a2 from tests.begin_checkout('pf-ana') s \gset
select tests.clear_authentication() \gset
select set_config('checkout.releasing_session', :'c1', true) \gset
delete from checkout.stock_reservations where order_session_id = :'a2';
select set_config('checkout.releasing_session', '', true) \gset
select is((select reserved from public.variants where id = :'va'), 0, 'named: another session''s released units are still counted');

select * from finish();
rollback;
