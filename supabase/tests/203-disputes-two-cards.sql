-- Disputes and fraud on an order paid with two cards (14_disputes.sql meets
-- checkout.order_payments): a fraud alert on the part that did not complete
-- the order still stops it and owes every part back its own amount (less
-- what the store already refunded of it); an alert on the first part before
-- the second arrives makes the order born do_not_ship; a chargeback on the
-- non-completing part is linked to the order; an order without parts (made
-- before order_payments) still owes its total. The audit stays empty.
begin;
\ir helpers/tests.psql
select plan(25);

select tests.create_shopper('dtc-ana') as ana, tests.create_shopper('dtc-bob') as bob,
       tests.create_shopper('dtc-cid') as cid, tests.create_shopper('dtc-dee') as dee,
       tests.create_shopper('dtc-eve') as eve,
       tests.create_variant('DTC-A', 10, 1000) as va \gset
insert into auth.users (id, email, is_anonymous, email_confirmed_at, raw_app_meta_data)
values ('00000000-0000-4000-8000-00000000c203', 'dtc-boss@example.com', false, now(), '{"store_role": "staff"}');
select tests.fill_cart('dtc-ana', array[:'va']::uuid[], array[1]),
       tests.fill_cart('dtc-bob', array[:'va']::uuid[], array[1]),
       tests.fill_cart('dtc-cid', array[:'va']::uuid[], array[1]),
       tests.fill_cart('dtc-dee', array[:'va']::uuid[], array[1]),
       tests.fill_cart('dtc-eve', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as ta from tests.begin_checkout('dtc-ana') s \gset
select s ->> 'token' as tb from tests.begin_checkout('dtc-bob') s \gset
select s ->> 'token' as tc from tests.begin_checkout('dtc-cid') s \gset
select s ->> 'token' as td from tests.begin_checkout('dtc-dee') s \gset
select s ->> 'token' as te from tests.begin_checkout('dtc-eve') s \gset

-- ---------------------------------------------------------------------------
-- ana: 600 + 400; the alert is on 600, the part that did not complete the order.
select checkout.apply_payment(tests.payment(:'ta', 'approved', 600, 23001)) \gset
select checkout.apply_payment(tests.payment(:'ta', 'approved', 400, 23002)) \gset
select is((select payment_id from public.orders where session_id = :'ana'), 23002::bigint, 'ana: the order''s payment is the second part');
select checkout.apply_fraud_alert(tests.payment(:'ta', 'approved', 600, 23001), 'cancel without delivering') as f \gset
select is(:'f'::jsonb ->> 'outcome', 'order_stopped', 'ana: an alert on the first part stops the order');
select is((select do_not_ship from public.orders where session_id = :'ana'), true, 'ana: the order is do_not_ship');
select is(:'f'::jsonb -> 'refund' ->> 'payment_id', '23001', 'ana: the answer''s refund is the alerted part''s (the webhook makes it at once)');
select results_eq(
  $$ select payment_id, amount, reason from checkout.payment_refunds where payment_id in (23001, 23002) order by 1 $$,
  $$ values (23001::bigint, 600.00, 'fraud_alert'), (23002::bigint, 400.00, 'fraud_alert') $$,
  'ana: each part is owed back its own amount');
select is((select order_id from checkout.fraud_alerts where payment_id = 23001), (select id from public.orders where session_id = :'ana'),
  'ana: the alert is linked to the order');
select is((select count(*)::integer from email.outbox where kind = 'fraud_alert' and recipient = 'dtc-boss@example.com'), 1, 'ana: staff emailed once');
select checkout.apply_fraud_alert(tests.payment(:'ta', 'approved', 400, 23002), 'the other part too') \gset
select is((select count(*)::integer from checkout.payment_refunds where payment_id in (23001, 23002)), 2, 'ana: an alert on the other part owes nothing more');
select is((select f ->> 'order_number' from jsonb_array_elements(admin.disputes(
  '{"sub": "00000000-0000-4000-8000-00000000c203", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}')
  -> 'fraud_alerts') f where f ->> 'payment_id' = '23001'), (select order_number from public.orders where session_id = :'ana'),
  'ana: the dashboard shows the first part''s alert with its order');
select is(checkout.audit(), '[]'::jsonb, 'ana: the audit is empty');

-- ---------------------------------------------------------------------------
-- bob: the alert arrives on the first part while it waits for the second.
select is(checkout.apply_payment(tests.payment(:'tb', 'approved', 700, 23101)) ->> 'outcome', 'partly_paid', 'bob: 700 of 1000');
select is(checkout.apply_fraud_alert(tests.payment(:'tb', 'approved', 700, 23101), null) ->> 'outcome', 'alert_recorded',
  'bob: an alert on the waiting part is recorded');
select checkout.apply_payment(tests.payment(:'tb', 'approved', 300, 23102)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'bob: the second part still settles the session');
select is((:'r'::jsonb -> 'order' ->> 'do_not_ship')::boolean, true, 'bob: the order is born do_not_ship');
select results_eq(
  $$ select payment_id, amount, reason from checkout.payment_refunds where payment_id in (23101, 23102) order by 1 $$,
  $$ values (23101::bigint, 700.00, 'fraud_alert'), (23102::bigint, 300.00, 'fraud_alert') $$,
  'bob: both parts are owed back their own amounts');
select isnt((select acted_at from checkout.fraud_alerts where payment_id = 23101), null, 'bob: the alert is acted on');
select is(checkout.audit(), '[]'::jsonb, 'bob: the audit is empty');

-- ---------------------------------------------------------------------------
-- cid: the store refunded 150 of the first part before the alert (on the
-- completing part): the first part is owed only the rest.
select checkout.apply_payment(tests.payment(:'tc', 'approved', 500, 23201)) \gset
select checkout.apply_payment(tests.payment(:'tc', 'approved', 500, 23202)) \gset
insert into checkout.order_refunds (order_id, payment_id, amount, currency, status, mp_refund_id)
select id, 23201, 150, 'ARS', 'refunded', 'rf-dtc' from public.orders where session_id = :'cid';
select checkout.apply_fraud_alert(tests.payment(:'tc', 'approved', 500, 23202), null) \gset
select results_eq(
  $$ select payment_id, amount from checkout.payment_refunds where payment_id in (23201, 23202) order by 1 $$,
  $$ values (23201::bigint, 350.00), (23202::bigint, 500.00) $$,
  'cid: each part is owed what the store has not already refunded of it');
select is(checkout.audit(), '[]'::jsonb, 'cid: the audit is empty');

-- ---------------------------------------------------------------------------
-- dee: a chargeback and a claim on the part that did not complete the order.
select checkout.apply_payment(tests.payment(:'td', 'approved', 800, 23301)) \gset
select checkout.apply_payment(tests.payment(:'td', 'approved', 200, 23302)) \gset
select checkout.record_dispute('chargeback', '{"id": "23901", "payment_id": 23301, "amount": 800, "currency": "ARS", "coverage_applied": null, "status": "opened"}') \gset
select is((select order_id from checkout.disputes where mp_id = '23901'), (select id from public.orders where session_id = :'dee'),
  'dee: a chargeback on the first part is linked to the order');
select checkout.record_dispute('claim', '{"id": 23902, "resource": "payment", "resource_id": 23301, "status": "opened", "stage": "claim"}') \gset
select is((select order_id from checkout.disputes where mp_id = '23902'), (select id from public.orders where session_id = :'dee'),
  'dee: a claim on the first part is linked to the order');
select is(checkout.audit(), '[]'::jsonb, 'dee: the audit is empty');

-- ---------------------------------------------------------------------------
-- eve: an order from before order_payments (no parts recorded): its one
-- payment is owed the order's total.
select checkout.apply_payment(tests.payment(:'te', 'approved', 1000, 23401)) \gset
select tests.clear_authentication() \gset
delete from checkout.order_payments where payment_id = 23401;
select tests.authenticate_as_service_role() \gset
select checkout.apply_fraud_alert(tests.payment(:'te', 'approved', 1000, 23401), null) \gset
select results_eq(
  $$ select payment_id, amount, reason from checkout.payment_refunds where payment_id = 23401 $$,
  $$ values (23401::bigint, 1000.00, 'fraud_alert') $$,
  'eve: an order without parts owes its payment the total');
select is((select do_not_ship from public.orders where session_id = :'eve'), true, 'eve: the order is do_not_ship');

-- ---------------------------------------------------------------------------
-- fay: an alert nobody acted on, on the part that did not complete the order:
-- the audit reports it (fraud_alert_not_acted finds the order by any part).
select tests.clear_authentication() \gset
select tests.create_shopper('dtc-fay') as fay \gset
select tests.fill_cart('dtc-fay', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as tf from tests.begin_checkout('dtc-fay') s \gset
select checkout.apply_payment(tests.payment(:'tf', 'approved', 550, 23501)) \gset
select checkout.apply_payment(tests.payment(:'tf', 'approved', 450, 23502)) \gset
select tests.clear_authentication() \gset
insert into checkout.fraud_alerts (payment_id, description) values (23501, 'never acted on');
select tests.authenticate_as_service_role() \gset
select is((select count(*)::integer from jsonb_array_elements(checkout.audit()) v
            where v ->> 'invariant' = 'fraud_alert_not_acted'
              and v ->> 'subject' = (select order_number from public.orders where session_id = :'fay')),
          1, 'fay: an alert left unacted on the part that did not complete the order is reported by the audit');

select * from finish();
rollback;
