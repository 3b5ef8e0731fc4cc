-- Partial refunds from the dashboard (admin.refund_order, checkout.record_order_refund):
-- by amount or by line, spread over an order's payments (two cards), never
-- more than is left; the order moves to partially_refunded, then refunded;
-- only staff; bad input refused with nothing written.
begin;
\ir helpers/tests.psql
select plan(27);

insert into auth.users (id, email, is_anonymous, email_confirmed_at, raw_app_meta_data)
values ('00000000-0000-4000-8000-00000000c001', 'refund-boss@example.com', false, now(), '{"store_role": "staff"}');
select '{"sub": "00000000-0000-4000-8000-00000000c001", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}' as staff \gset
select tests.create_shopper('orf-ana') as ana, tests.create_shopper('orf-bob') as bob,
       tests.create_variant('ORF-A', 10, 1000) as va, tests.create_variant('ORF-B', 10, 500) as vb,
       tests.create_variant('ORF-CLP', 10, 9000, 'CLP') as vc \gset
select tests.fill_cart('orf-ana', array[:'va', :'vb']::uuid[], array[1, 2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa, s ->> 'token' as ta from tests.begin_checkout('orf-ana') s \gset

-- Two cards: 1500 and 500 for a total of 2000.
select checkout.apply_payment(tests.payment(:'ta', 'approved', 1500, 8601)) \gset
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 500, 8602)) ->> 'outcome', 'order_created', 'setup: the order');
select order_number as ord from public.orders where order_session_id = :'sa' \gset

-- Bad requests: nothing written.
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 1}') $$, '{"sub": "00000000-0000-4000-8000-00000000c002", "role": "authenticated"}', :'ord'),
  'CKA01', null, 'a caller who is not staff is refused');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 0}') $$, :'staff', :'ord'), 'CKI01', null, 'amount 0: refused');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 1.001}') $$, :'staff', :'ord'), 'CKI01', null, 'fractions of a cent: refused');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": "5"}') $$, :'staff', :'ord'), 'CKI01', null, 'a string amount: refused');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 5, "lines": []}') $$, :'staff', :'ord'), 'CKI01', null, 'amount and lines together: refused');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"lines": [{"line_no": 9, "quantity": 1}]}') $$, :'staff', :'ord'), 'CKI01', null, 'a line the order lacks: refused');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"lines": [{"line_no": 1, "quantity": 2}]}') $$, :'staff', :'ord'), 'CKI01', null, 'more units than the line has: refused');
select throws_ok(format($$ select admin.refund_order(%L, 'ORD-999999999', '{"amount": 5}') $$, :'staff'), 'CKO01', null, 'an unknown order: 404');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 2000.01}') $$, :'staff', :'ord'), 'CKO02', null, 'more than was paid: refused');
select is_empty($$ select 1 from checkout.order_refunds $$, 'nothing written by a refused request');

-- By amount: 1700 spread over the two payments, the larger first.
select admin.refund_order(:'staff', :'ord', '{"amount": 1700}') as r \gset
select is((select jsonb_agg(jsonb_build_array(x ->> 'payment_id', (x ->> 'amount')::numeric)) from jsonb_array_elements(:'r'::jsonb -> 'refunds') x),
  '[["8601", 1500], ["8602", 200]]'::jsonb, '1700: 1500 from the first card, 200 from the second');
select checkout.record_order_refund((:'r'::jsonb -> 'refunds' -> 0 ->> 'id')::uuid, 'mp-r-1') ->> 'order_status' as st \gset
select is(:'st'::text, 'partially_refunded', 'one part made: the order is partially refunded');
select is(checkout.record_order_refund((:'r'::jsonb -> 'refunds' -> 0 ->> 'id')::uuid, 'mp-r-1') ->> 'status', 'refunded', 'recording it again: the same');
select checkout.record_order_refund((:'r'::jsonb -> 'refunds' -> 1 ->> 'id')::uuid, 'mp-r-2') \gset
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 300.01}') $$, :'staff', :'ord'), 'CKO02', null, '300 left: 300.01 is refused');

-- By line: one unit of line 2 (500) is more than the 300 left; the refunds so far stay.
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"lines": [{"line_no": 2, "quantity": 1}]}') $$, :'staff', :'ord'), 'CKO02', null,
  'a line worth more than is left: refused');
select admin.refund_order(:'staff', :'ord', '{"amount": 300}') as r \gset
select is(checkout.record_order_refund((:'r'::jsonb -> 'refunds' -> 0 ->> 'id')::uuid, 'mp-r-3') ->> 'order_status', 'refunded', 'the whole total refunded: the order is refunded');
select is(checkout.apply_payment(tests.payment(:'ta', 'approved', 500, 8602)) -> 'order' ->> 'status', 'refunded', 'a stale approval afterwards changes nothing');

-- By line in a whole-unit currency (a store in Chile), an order of one line.
reset role;
update private.settings set site_id = 'MLC';
select tests.fill_cart('orf-bob', array[:'vc']::uuid[], array[3]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sb, s ->> 'token' as tb from tests.begin_checkout('orf-bob') s \gset
select checkout.apply_payment(tests.payment(:'tb', 'approved', 27000, 8701, 'CLP')) \gset
select order_number as ordb from public.orders where order_session_id = :'sb' \gset
select is((admin.refund_order(:'staff', :'ordb', '{"lines": [{"line_no": 1, "quantity": 1}]}') -> 'refunds' -> 0 ->> 'amount')::numeric, 9000::numeric,
  'by line: one unit of 9000 CLP');
select throws_ok(format($$ select admin.refund_order(%L, %L, '{"amount": 10.5}') $$, :'staff', :'ordb'), 'CKM02', null, 'cents in CLP: refused');

select is(checkout.audit(), '[]'::jsonb, 'audit: every invariant holds');

-- A part MercadoPago could not make stays owed: the reconcile function claims
-- it once its next attempt is due, once per attempt, and the audit reports it
-- after an hour.
reset role;
select tests.create_shopper('orf-cid') as cid \gset
select tests.fill_cart('orf-cid', array[:'vc']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sc, s ->> 'token' as tc from tests.begin_checkout('orf-cid') s \gset
select is(checkout.apply_payment(tests.payment(:'tc', 'approved', 9000, 8611, 'CLP')) ->> 'outcome', 'order_created', 'retry setup: cid''s order');
select order_number as ordc from public.orders where order_session_id = :'sc' \gset
select admin.refund_order(:'staff', :'ordc', '{"amount": 300}') -> 'refunds' -> 0 ->> 'id' as rfb \gset
select checkout.record_order_refund(:'rfb', null, 'MercadoPago is unavailable') \gset
select is(checkout.claim_order_refunds(10), '[]'::jsonb, 'retry: not claimed before its next attempt (the dashboard made the first)');
update checkout.order_refunds set next_attempt_at = now() - interval '1 second' where id = :'rfb';
select is((select jsonb_agg(c - 'order_id') from jsonb_array_elements(checkout.claim_order_refunds(10)) c),
  jsonb_build_array(jsonb_build_object('id', :'rfb', 'payment_id', '8611', 'amount', 300.00, 'currency', 'CLP', 'attempts', 1)),
  'retry: claimed once due, the attempt counted');
select is(checkout.claim_order_refunds(10), '[]'::jsonb, 'retry: not claimed again until the back-off passes');
update checkout.order_refunds set created_at = now() - interval '61 minutes' where id = :'rfb';
select is((select jsonb_agg(v ->> 'invariant') from jsonb_array_elements(checkout.audit()) v where v ->> 'subject' = '8611'),
  '["refund_owed_over_1h"]'::jsonb, 'audit: a dashboard refund owed for over an hour');
select checkout.record_order_refund(:'rfb', 'mp-refund-8611', null) \gset
select is(checkout.audit(), '[]'::jsonb, 'audit: empty once MercadoPago made it');

select * from finish();
rollback;
