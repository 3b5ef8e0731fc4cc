-- Disputes and fraud (issue 23, 14_disputes.sql): the notification inbox
-- (stored once, claimed with a lease, finished once), fraud alerts before and
-- after the order, a stale approval after a refund or a chargeback,
-- chargebacks and claims moving forward only, the audit's new invariants, the
-- dashboard's routines, and who may read any of it.
begin;
\ir helpers/tests.psql
select plan(63);

-- ---------------------------------------------------------------------------
-- Nobody but the service reads or calls any of it.
select ok((select bool_and(relrowsecurity) from pg_class where oid in
  ('checkout.mp_notifications'::regclass, 'checkout.fraud_alerts'::regclass, 'checkout.disputes'::regclass)), 'RLS is enabled on the three tables');
select is_empty($$ select t from unnest(array['checkout.mp_notifications', 'checkout.fraud_alerts', 'checkout.disputes']) t
                   cross join unnest(array['anon', 'authenticated']) r
                   where has_table_privilege(r, t, 'select') or has_table_privilege(r, t, 'insert') or has_table_privilege(r, t, 'update') $$,
  'anon and authenticated have no privilege on the tables');
select is_empty($$ select p.oid::regprocedure::text from pg_proc p
                    where p.proname in ('store_mp_notification', 'claim_mp_notifications', 'finish_mp_notification', 'note_mp_notification_failure',
                                        'apply_fraud_alert', 'record_dispute', 'disputes', 'chargeback_for_evidence', 'stop_delivery', 'dispute_json')
                      and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute')) $$,
  'anon and authenticated execute none of the routines');
select tests.create_shopper('dp-ana') as ana, tests.create_variant('DP-A', 20, 1000) as va \gset
select tests.authenticate_as('dp-ana') \gset
select throws_ok($$ select count(*) from checkout.disputes $$, '42501', null, 'authenticated: reading the disputes is denied');
select throws_ok($$ select checkout.store_mp_notification('stop_delivery_op_wh', '1', '1', '{}') $$, '42501', null,
  'authenticated: storing a notification is denied');
select tests.authenticate_as_anon() \gset
select throws_ok($$ select count(*) from checkout.fraud_alerts $$, '42501', null, 'anon: reading the fraud alerts is denied');
select tests.clear_authentication() \gset

-- Staff (who get the fraud emails) and their claims.
insert into auth.users (id, email, is_anonymous, email_confirmed_at) values
  ('00000000-0000-4000-8000-00000000d001', 'owner@example.com', false, now());
select admin.set_staff('owner@example.com', true) \gset
create temporary table actors (name text primary key, claims jsonb);
insert into actors values
  ('staff', '{"sub": "00000000-0000-4000-8000-00000000d001", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}');
grant select on actors to service_role;

-- ---------------------------------------------------------------------------
-- The inbox
select tests.authenticate_as_service_role() \gset
select checkout.store_mp_notification('stop_delivery_op_wh', '555', 'n-1', '{"type": "stop_delivery_op_wh"}') as n1 \gset
select is((:'n1'::jsonb ->> 'stored')::boolean, true, 'inbox: a new notification is stored');
select is(checkout.store_mp_notification('stop_delivery_op_wh', '555', 'n-1', '{"type": "stop_delivery_op_wh"}') -> 'id', :'n1'::jsonb -> 'id',
  'inbox: a replay finds the same row');
select is((select count(*)::integer from checkout.mp_notifications where resource_id = '555'), 1, 'inbox: stored once');
select throws_ok($$ select checkout.store_mp_notification('payment', '555', 'n-1', '{}') $$, 'CKI01', null, 'inbox: an unknown topic is refused');
select throws_ok($$ select checkout.store_mp_notification('topic_chargebacks_wh', 'a b', 'n-1', '{}') $$, 'CKI01', null, 'inbox: a malformed id is refused');
select is(jsonb_array_length(checkout.claim_mp_notifications(10)), 1, 'inbox: a pass claims the stored notification');
select is(jsonb_array_length(checkout.claim_mp_notifications(10)), 0, 'inbox: another pass does not take it while the lease holds');
update checkout.mp_notifications set claimed_until = now() - interval '1 second' where resource_id = '555';
select is(checkout.claim_mp_notifications(10) -> 0 ->> 'attempts', '2', 'inbox: a pass that died leaves it to the next once the lease ends');
select checkout.note_mp_notification_failure((:'n1'::jsonb ->> 'id')::bigint, 'MercadoPago unavailable') \gset
select is(jsonb_array_length(checkout.claim_mp_notifications(10)), 0, 'inbox: a failure is retried later, not at once');
select is(jsonb_array_length(checkout.claim_mp_notifications(10, interval '1 minute', (:'n1'::jsonb ->> 'id')::bigint)), 1,
  'inbox: the webhook claims its own notification by id');
select checkout.finish_mp_notification((:'n1'::jsonb ->> 'id')::bigint, '{"outcome": "done"}') \gset
update checkout.mp_notifications set next_attempt_at = now() - interval '1 hour', claimed_until = null where resource_id = '555';
select is(jsonb_array_length(checkout.claim_mp_notifications(10)), 0, 'inbox: a processed notification is never claimed again');
select is((checkout.store_mp_notification('stop_delivery_op_wh', '555', 'n-1', '{}') ->> 'processed')::boolean, true,
  'inbox: a replay of a processed notification says so');
select tests.clear_authentication() \gset
delete from checkout.mp_notifications where resource_id = '555';

-- ---------------------------------------------------------------------------
-- Fraud alert after the order
select tests.fill_cart('dp-ana', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as t1 from tests.begin_checkout('dp-ana') s \gset
select checkout.apply_payment(tests.payment(:'t1', 'approved', 1000, 20001)) ->> 'outcome' as o \gset
select is(:'o'::text, 'order_created', 'fraud after: the order exists');
select checkout.apply_fraud_alert(tests.payment(:'t1', 'approved', 1000, 20001), 'cancel without delivering') as f \gset
select is(:'f'::jsonb ->> 'outcome', 'order_stopped', 'fraud after: the order is stopped');
select is((:'f'::jsonb -> 'order' ->> 'do_not_ship')::boolean, true, 'fraud after: the order says do_not_ship');
select is((select do_not_ship from public.orders where payment_id = 20001), true, 'fraud after: do_not_ship is stored');
select is((select reason || '/' || status from checkout.payment_refunds where payment_id = 20001), 'fraud_alert/owed', 'fraud after: the payment is owed back');
select is((select count(*)::integer from email.outbox where kind = 'fraud_alert' and recipient = 'owner@example.com'), 1,
  'fraud after: the owner gets one email');
select checkout.apply_fraud_alert(tests.payment(:'t1', 'approved', 1000, 20001), 'again') \gset
select is((select count(*)::integer from email.outbox where kind = 'fraud_alert'), 1, 'fraud after: a replay sends no second email');
select is((select count(*)::integer from checkout.payment_refunds where payment_id = 20001), 1, 'fraud after: a replay owes nothing more');
select throws_ok($$ update public.orders set do_not_ship = false where payment_id = 20001 $$, 'CKI02', null,
  'fraud after: do_not_ship never turns back');
select ok(exists (select 1 from checkout.audit() a where a ->> 'invariant' = 'fraud_alert_not_acted') is false,
  'audit: a stopped order with its refund owed is in order');
select checkout.record_refund(20001, 'rf-1') \gset
select is((checkout.apply_payment(tests.payment(:'t1', 'refunded', 1000, 20001)) -> 'order' ->> 'status'), 'refunded', 'fraud after: MercadoPago''s refund moves the order to refunded');

-- A stale approval after the refund changes nothing.
select checkout.apply_payment(tests.payment(:'t1', 'approved', 1000, 20001)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'already_paid', 'stale approved after a refund: answered as before');
select is((select status::text from public.orders where payment_id = 20001), 'refunded', 'stale approved after a refund: the order stays refunded');
select is((select count(*)::integer from public.orders where session_id = :'ana'), 1, 'stale approved after a refund: no new order');

-- ---------------------------------------------------------------------------
-- Fraud alert before the order (the payment still pending)
select tests.fill_cart('dp-ana', array[:'va']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as t2 from tests.begin_checkout('dp-ana') s \gset
select checkout.apply_payment(tests.payment(:'t2', 'pending', 2000, 20002)) \gset
select is(checkout.apply_fraud_alert(tests.payment(:'t2', 'pending', 2000, 20002), null) ->> 'outcome', 'alert_recorded',
  'fraud before: recorded without an order');
select checkout.apply_payment(tests.payment(:'t2', 'approved', 2000, 20002)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'fraud before: the approval still settles the session');
select is((:'r'::jsonb -> 'order' ->> 'do_not_ship')::boolean, true, 'fraud before: the order is born do_not_ship');
select is((select reason from checkout.payment_refunds where payment_id = 20002), 'fraud_alert', 'fraud before: its payment is owed back');
select is((select count(*)::integer from email.outbox where kind = 'fraud_alert' and order_id = (select id from public.orders where payment_id = 20002)), 1,
  'fraud before: the owner is emailed');
select isnt((select acted_at from checkout.fraud_alerts where payment_id = 20002), null, 'fraud before: the alert is acted on');

-- ---------------------------------------------------------------------------
-- Chargebacks: recorded, then forward only
select tests.fill_cart('dp-ana', array[:'va']::uuid[], array[3]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as t3 from tests.begin_checkout('dp-ana') s \gset
select checkout.apply_payment(tests.payment(:'t3', 'approved', 3000, 20003)) \gset
\set cb_open '{"id": "9001", "payments": [20003], "payment_id": 20003, "amount": 3000, "currency": "ARS", "coverage_applied": null, "coverage_eligible": true, "documentation_required": true, "documentation_status": "pending", "date_documentation_deadline": "2026-12-20T10:00:00.000-04:00", "status": "opened"}'
select checkout.record_dispute('chargeback', :'cb_open') as d \gset
select is(:'d'::jsonb ->> 'outcome', 'recorded', 'chargeback: recorded');
select is((select (status, coverage_eligible, documentation_required, documentation_status, amount, order_id is not null)::text
             from checkout.disputes where mp_id = '9001'), '(opened,t,t,pending,3000.00,t)', 'chargeback: status, coverage, documentation, amount, its order');
select is((select deadline from checkout.disputes where mp_id = '9001'), '2026-12-20T14:00:00Z'::timestamptz, 'chargeback: the documentation deadline');
select is(checkout.record_dispute('chargeback', :'cb_open') ->> 'outcome', 'recorded', 'chargeback: the same state again is harmless');
select checkout.record_dispute('chargeback', (:'cb_open'::jsonb || '{"documentation_status": "review_pending"}')) \gset
select checkout.record_dispute('chargeback', (:'cb_open'::jsonb || '{"status": "closed", "coverage_applied": true, "documentation_status": "valid"}')) \gset
select is((select status || '/' || documentation_status || '/' || coverage_applied from checkout.disputes where mp_id = '9001'), 'closed/valid/true',
  'chargeback: resolved');
select is(checkout.record_dispute('chargeback', (:'cb_open'::jsonb || '{"documentation_status": "review_pending"}')) ->> 'outcome', 'stale',
  'chargeback: an earlier copy arriving late is stale');
select is((select status || '/' || documentation_status from checkout.disputes where mp_id = '9001'), 'closed/valid', 'chargeback: never back to an earlier status');
select is((checkout.apply_payment(tests.payment(:'t3', 'charged_back', 3000, 20003)) -> 'order' ->> 'status'), 'charged_back', 'chargeback: the order follows');
select checkout.apply_payment(tests.payment(:'t3', 'approved', 3000, 20003)) \gset
select is((select status::text from public.orders where payment_id = 20003), 'charged_back', 'stale approved after a chargeback: nothing changes');
select throws_ok($$ select checkout.record_dispute('chargeback', '{"id": "9002", "amount": 1}') $$, 'CKI01', null, 'chargeback: one without a payment is refused');
select throws_ok($$ select checkout.record_dispute('chargeback', '{"id": "9003", "payment_id": 20003, "date_documentation_deadline": "soon"}') $$, 'CKI01', null,
  'chargeback: a malformed deadline is refused');
select is((select count(*)::integer from checkout.disputes where mp_id in ('9002', '9003')), 0, 'chargeback: nothing written for a refused one');

-- ---------------------------------------------------------------------------
-- Claims: claim -> dispute -> closed, forward only
select tests.fill_cart('dp-ana', array[:'va']::uuid[], array[4]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'token' as t4 from tests.begin_checkout('dp-ana') s \gset
select checkout.apply_payment(tests.payment(:'t4', 'approved', 4000, 20004)) \gset
\set claim '{"id": 7001, "resource": "payment", "resource_id": 20004, "status": "opened", "stage": "claim", "reason_id": "PNR", "resolution": null}'
select checkout.record_dispute('claim', :'claim') \gset
select is((select status || '/' || stage from checkout.disputes where kind = 'claim' and mp_id = '7001'), 'opened/claim', 'claim: opened');
select checkout.record_dispute('claim', :'claim'::jsonb || '{"stage": "dispute"}') \gset
select is((select stage from checkout.disputes where mp_id = '7001'), 'dispute', 'claim: escalated');
select checkout.record_dispute('claim', :'claim'::jsonb || '{"stage": "dispute", "status": "closed", "resolution": {"benefited": ["respondent"]}}') \gset
select is((select status || '/' || benefited from checkout.disputes where mp_id = '7001'), 'closed/respondent', 'claim: resolved for the store');
select is(checkout.record_dispute('claim', :'claim') ->> 'outcome', 'stale', 'claim: the opening copy replayed is stale');
select is((select status || '/' || stage from checkout.disputes where mp_id = '7001'), 'closed/dispute', 'claim: never back to an earlier stage');

-- ---------------------------------------------------------------------------
-- The dashboard
select tests.clear_authentication() \gset
update checkout.disputes set deadline = null where mp_id = '7001';
select checkout.record_dispute('chargeback', (:'cb_open'::jsonb || '{"id": "9010", "date_documentation_deadline": "2026-12-10T10:00:00.000-04:00"}')) \gset
select tests.authenticate_as_service_role() \gset
select is((select jsonb_agg(d ->> 'mp_id') from jsonb_array_elements(admin.disputes((select claims from actors where name = 'staff')) -> 'disputes') d),
  '["9010", "9001", "7001"]'::jsonb, 'dashboard: disputes by deadline, soonest first, those without one last');
select is((select jsonb_agg(f ->> 'order_status' order by f ->> 'payment_id') from jsonb_array_elements(admin.disputes((select claims from actors where name = 'staff')) -> 'fraud_alerts') f),
  '["refunded", "paid"]'::jsonb, 'dashboard: the fraud alerts with their orders');
select throws_ok($$ select admin.disputes('{"sub": "00000000-0000-4000-8000-00000000d002", "role": "authenticated", "app_metadata": {"store_role": "staff"}}') $$,
  'CKA01', null, 'dashboard: not staff, no disputes');
select is(admin.chargeback_for_evidence((select claims from actors where name = 'staff'), (select id::text from checkout.disputes where mp_id = '9001')) ->> 'mp_id',
  '9001', 'dashboard: the chargeback to send evidence for');
select throws_ok(format($$ select admin.chargeback_for_evidence(%L, %L) $$, (select claims from actors where name = 'staff'),
  (select id::text from checkout.disputes where mp_id = '7001')), 'CKO01', null, 'dashboard: a claim takes no evidence');
select throws_ok(format($$ select admin.chargeback_for_evidence(%L, 'x') $$, (select claims from actors where name = 'staff')), 'CKI01', null,
  'dashboard: a malformed id is refused');

-- ---------------------------------------------------------------------------
-- The audit's new invariants
select is(checkout.audit(), '[]'::jsonb, 'audit: empty after all of the above (refund 20002 still owed, under an hour)');
select tests.clear_authentication() \gset
insert into checkout.disputes (kind, mp_id, payment_id, status, resource) values ('chargeback', '9999', 29999, 'opened', '{}');
insert into checkout.fraud_alerts (payment_id) values (20004);
insert into checkout.mp_notifications (topic, resource_id, notification_id, body, received_at)
values ('topic_claims_integration_wh', '7002', 'n-old', '{}', now() - interval '2 hours');
select tests.authenticate_as_service_role() \gset
select is((select jsonb_agg(a ->> 'invariant' order by a ->> 'invariant') from jsonb_array_elements(checkout.audit()) a),
  '["dispute_without_payment", "fraud_alert_not_acted", "notification_unprocessed_over_1h"]'::jsonb,
  'audit: a dispute on an unknown payment, an alerted order left shippable, a notification left unprocessed');

select * from finish();
rollback;
