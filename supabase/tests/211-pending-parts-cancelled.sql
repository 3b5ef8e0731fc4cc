-- Issue 23: a two-card session whose hold ends with an approved part and
-- its other part still pending (a card in_process) closes owing the
-- approved part back and claims the pending part's cancellation at
-- MercadoPago through the offline payments' claim (once); an approval
-- found instead, or notified after the cancel, is refunded, never an order;
-- a card part first seen pending after the close is cancelled too.
begin;
\ir helpers/tests.psql
select plan(26);

select tests.create_shopper('pp-gus') as gus, tests.create_shopper('pp-hal') as hal, tests.create_shopper('pp-ivy') as ivy,
       tests.create_shopper('pp-jo') as jo, tests.create_variant('PP-A', 10, 1000) as va \gset
select tests.fill_cart('pp-gus', array[:'va']::uuid[], array[1]),
       tests.fill_cart('pp-hal', array[:'va']::uuid[], array[1]),
       tests.fill_cart('pp-ivy', array[:'va']::uuid[], array[1]),
       tests.fill_cart('pp-jo', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sg, s ->> 'token' as tg from tests.begin_checkout('pp-gus') s \gset
select s ->> 'id' as sh, s ->> 'token' as th from tests.begin_checkout('pp-hal') s \gset
select s ->> 'id' as si, s ->> 'token' as ti from tests.begin_checkout('pp-ivy') s \gset
select s ->> 'id' as sj, s ->> 'token' as tj from tests.begin_checkout('pp-jo') s \gset

-- gus: 400 approved, 600 on a second card in review (in_process).
select is(checkout.apply_payment(tests.payment(:'tg', 'approved', 400, 9001)) ->> 'outcome', 'partly_paid', 'gus: the first card, 400 of 1000');
select is(checkout.apply_payment(tests.payment(:'tg', 'in_process', 600, 9002)) ->> 'outcome', 'recorded', 'gus: the second card is in review');
-- hal: the same; jo: the second card pending, then rejected before the hold ends.
select checkout.apply_payment(tests.payment(:'th', 'approved', 400, 9101)), checkout.apply_payment(tests.payment(:'th', 'pending', 600, 9102)) \gset
select checkout.apply_payment(tests.payment(:'tj', 'approved', 400, 9301)), checkout.apply_payment(tests.payment(:'tj', 'pending', 600, 9302)),
       checkout.apply_payment(tests.payment(:'tj', 'rejected', 600, 9302)) \gset
-- ivy: only a pending card, nothing approved.
select checkout.apply_payment(tests.payment(:'ti', 'in_process', 1000, 9201)) \gset

select is(checkout.refund_unpaired_parts(interval '0'), '[]'::jsonb, 'while the holds last nothing is closed');
select is_empty($$ select 1 from checkout.offline_holds where payment_id between 9001 and 9399 $$, 'nor any cancellation claimed');

select tests.expire_order_session(:'sg', interval '10 minutes'), tests.expire_order_session(:'sh', interval '10 minutes'),
       tests.expire_order_session(:'si', interval '10 minutes'), tests.expire_order_session(:'sj', interval '10 minutes') \gset
select is(jsonb_array_length(checkout.refund_unpaired_parts(interval '5 minutes')), 3, 'the hold ended: gus, hal and jo are closed (ivy has nothing approved)');
select results_eq(
  $$ select payment_id, reason from checkout.payment_refunds where payment_id between 9001 and 9399 order by 1 $$,
  $$ values (9001::bigint, 'unpaired_part'), (9101::bigint, 'unpaired_part'), (9301::bigint, 'unpaired_part') $$,
  'the approved parts are owed back');
select results_eq(
  $$ select payment_id, payment_type, status, refusal, next_cancel_at <= now() from checkout.offline_holds where payment_id between 9001 and 9399 order by 1 $$,
  $$ values (9002::bigint, 'credit_card', 'ended', 'session_closed', true), (9102::bigint, 'credit_card', 'ended', 'session_closed', true) $$,
  'the parts still pending are due for cancellation now; a rejected one and a session with nothing approved are not');
select is(checkout.offline_payment(:'sg'), null, 'a card part is not shown to the buyer as an offline payment');
select is(checkout.refund_unpaired_parts(interval '5 minutes'), '[]'::jsonb, 'a second run closes nothing');
select is((select count(*)::integer from checkout.offline_holds where payment_id between 9001 and 9399), 2, 'nor claims anything again');

-- A card part first seen pending after the session closed: cancelled too.
select is(checkout.apply_payment(tests.payment(:'tg', 'in_process', 300, 9004)) ->> 'outcome', 'recorded', 'gus: a third card in review, after the close');
select results_eq(
  $$ select status, refusal, next_cancel_at <= now() from checkout.offline_holds where payment_id = 9004 $$,
  $$ values ('ended', 'session_closed', true) $$,
  'gus: its cancellation is due at once');
select checkout.record_offline_cancel(9004, null) \gset

-- The reconcile function's claim: each pending part once.
select jsonb_path_query_array(checkout.claim_offline_expiry(1000), '$[*] ? (@.payment_id >= 9001 && @.payment_id <= 9399).payment_id') as c1 \gset
select is(:'c1'::jsonb, '[9002, 9102]'::jsonb, 'the claim hands out both cancellations');
select is(jsonb_path_query_array(checkout.claim_offline_expiry(1000), '$[*] ? (@.payment_id >= 9001 && @.payment_id <= 9399).payment_id'), '[]'::jsonb,
  'a second claim right after hands out neither');
select is((select array_agg(cancel_attempts order by payment_id) from checkout.offline_holds where payment_id in (9002, 9102)), array[1, 1], 'one attempt each');

-- gus: MercadoPago cancelled it; recorded once.
select is(checkout.record_offline_cancel(9002, null) ->> 'status', 'cancelled', 'gus: the cancellation is recorded');
select is(checkout.record_offline_cancel(9002, null) ->> 'status', 'cancelled', 'gus: recorded again, nothing changes');
select is((select count(*)::integer from checkout.order_session_events where payment_id = 9002 and kind = 'offline_payment_cancelled'), 1, 'gus: logged once');
select is(checkout.apply_payment(tests.payment(:'tg', 'cancelled', 600, 9002)) ->> 'outcome', 'recorded', 'gus: MercadoPago''s cancelled notification is recorded');
-- An approval notified after the cancel (never at MercadoPago, but a replay): a refund, no order.
select is(checkout.apply_payment(tests.payment(:'tg', 'approved', 600, 9002)) -> 'refund' ->> 'reason', 'duplicate_payment',
  'gus: an approval after the cancel is owed back');

-- hal: approved at MercadoPago just before the cancel (it answered 400): the
-- function applies the approval, which is owed back, then records.
select is(checkout.apply_payment(tests.payment(:'th', 'approved', 600, 9102)) -> 'refund' ->> 'reason', 'duplicate_payment',
  'hal: the part approved before the cancel is owed back');
select is(checkout.record_offline_cancel(9102, null) ->> 'status', 'paid', 'hal: the hold is marked paid, nothing left to cancel');
select is(checkout.apply_payment(tests.payment(:'th', 'approved', 600, 9102)) -> 'refund' ->> 'reason', 'duplicate_payment',
  'hal: the approval notified late changes nothing');

select is_empty(format($$ select 1 from public.orders where order_session_id in (%L, %L, %L) $$, :'sg', :'sh', :'sj'), 'no order for any of them');
select results_eq(
  $$ select payment_id, count(*)::integer from checkout.payment_refunds where payment_id between 9001 and 9399 group by 1 order by 1 $$,
  $$ values (9001::bigint, 1), (9002::bigint, 1), (9101::bigint, 1), (9102::bigint, 1), (9301::bigint, 1) $$,
  'every approved part exactly one refund owed');
select is_empty(
  format($$ select 1 from jsonb_array_elements(checkout.audit()) v
             where v ->> 'subject' in ('9001', '9002', '9101', '9102', '9301', %L, %L, %L) $$, :'sg', :'sh', :'sj'),
  'the audit finds nothing');

select * from finish();
rollback;
