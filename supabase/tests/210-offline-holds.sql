-- Offline payments (12_offline_payments.sql): the crediting grace in business
-- hours, a pending ticket or Pix holding the stock until its deadline, the
-- hoarding limits, the hold ending unpaid (expired, stock back, cancellation
-- claimed once), a cancelled payment ending its hold, the audit.
begin;
\ir helpers/tests.psql
select plan(66);

insert into auth.users (id, email, is_anonymous, email_confirmed_at) values
  ('00000000-0000-4000-8000-00000000b001', 'boss-offline@example.com', false, now());
select admin.set_staff('boss-offline@example.com', true) \gset
create temp table staff as select '{"sub": "00000000-0000-4000-8000-00000000b001", "role": "authenticated", "aud": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}'::jsonb as claims;
grant select on staff to service_role;

-- ---------------------------------------------------------------------------
-- The grace: business hours, Monday to Friday 09:00-18:00 in Buenos Aires.
set local role service_role;
select is(private.add_business_hours('2026-12-09 10:00-03', 2), '2026-12-09 12:00-03'::timestamptz, 'a Wednesday morning: two hours later');
select is(private.add_business_hours('2026-12-09 17:00-03', 2), '2026-12-10 10:00-03'::timestamptz, 'late on a Wednesday: the rest the next morning');
select is(private.add_business_hours('2026-12-11 17:30-03', 2), '2026-12-14 10:30-03'::timestamptz, 'late on a Friday: Monday morning');
select is(private.add_business_hours('2026-12-12 10:00-03', 2), '2026-12-14 11:00-03'::timestamptz, 'a Saturday deadline: counted from Monday 09:00');
select is(private.add_business_hours('2026-12-09 06:00-03', 2), '2026-12-09 11:00-03'::timestamptz, 'before opening: counted from 09:00');
select is(private.add_business_hours('2026-12-09 10:00-03', 0), '2026-12-09 10:00-03'::timestamptz, 'no grace: the deadline itself');
reset role;
update private.offline_settings set holidays = '{2026-12-14}';
set local role service_role;
select is(private.add_business_hours('2026-12-12 10:00-03', 2), '2026-12-15 11:00-03'::timestamptz, 'a holiday Monday is skipped too');
reset role;
update private.offline_settings set holidays = '{}';

-- ---------------------------------------------------------------------------
select tests.create_shopper('off-ana') as ana, tests.create_shopper('off-bob') as bob,
       tests.create_shopper('off-carol') as carol, tests.create_shopper('off-dan') as dan,
       tests.create_shopper('off-erin') as erin,
       tests.create_variant('OFF-A', 10, 1000) as va, tests.create_variant('OFF-B', 4, 500) as vb,
       tests.create_variant('OFF-C', 5, 700) as vc \gset
update public.products set card_only = true where id = (select product_id from public.variants where id = :'vc');

select tests.fill_cart('off-ana', array[:'va']::uuid[], array[2]),
       tests.fill_cart('off-bob', array[:'vb']::uuid[], array[2]),
       tests.fill_cart('off-carol', array[:'vb']::uuid[], array[1]),
       tests.fill_cart('off-dan', array[:'vc']::uuid[], array[1]),
       tests.fill_cart('off-erin', array[:'va']::uuid[], array[1]) \gset

select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa, s ->> 'token' as ta, (s ->> 'expires_at')::timestamptz as ea from tests.begin_checkout('off-ana') s \gset
select s ->> 'id' as sb, s ->> 'token' as tb from tests.begin_checkout('off-bob') s \gset
select s ->> 'id' as sc, s ->> 'token' as tc from tests.begin_checkout('off-carol') s \gset
select s ->> 'id' as sd, s ->> 'token' as td from tests.begin_checkout('off-dan') s \gset
select s ->> 'id' as se, s ->> 'token' as te from tests.begin_checkout('off-erin') s \gset

create temp table deadline as select date_trunc('second', now() + interval '3 days') as at;
grant select on deadline to service_role;

-- A pending Rapipago ticket, as MercadoPago answers it.
create function pg_temp.ticket(p_token text, p_id bigint, p_amount numeric, p_status text default 'pending', p_type text default 'ticket')
returns jsonb language sql as $$
  select tests.payment(p_token, p_status, p_amount, p_id) || jsonb_build_object(
    'payment_type_id', p_type, 'payment_method_id', case p_type when 'bank_transfer' then 'pix' else 'rapipago' end,
    'status_detail', 'pending_waiting_payment',
    'date_created', now(), 'date_of_expiration', (select at from deadline),
    'transaction_details', jsonb_build_object('external_resource_url', 'https://mp.example/ticket?id=' || p_id),
    'barcode', jsonb_build_object('content', '12345678901234567890123456789012345678901234'),
    'point_of_interaction', case p_type when 'bank_transfer' then jsonb_build_object('transaction_data',
      jsonb_build_object('qr_code', '00020126pix', 'qr_code_base64', 'iVBORw0KGgo=', 'ticket_url', 'https://mp.example/pix')) end)
$$;

-- ---------------------------------------------------------------------------
-- A pending ticket on a live session: the hold runs to its deadline + grace.
select checkout.apply_payment(pg_temp.ticket(:'ta', 7001, 2000)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'recorded', 'pending ticket: recorded');
select is(:'r'::jsonb -> 'offline_payment' ->> 'status', 'holding', 'pending ticket: it holds the stock');
select is(:'r'::jsonb -> 'offline_payment' ->> 'label', 'esperando pago', 'pending ticket: shown as esperando pago');
select is(:'r'::jsonb -> 'offline_payment' ->> 'external_resource_url', 'https://mp.example/ticket?id=7001', 'pending ticket: its link');
select is(:'r'::jsonb -> 'offline_payment' ->> 'payment_method_id', 'rapipago', 'pending ticket: its method');
select is((:'r'::jsonb -> 'offline_payment' ->> 'deadline')::timestamptz, (select at from deadline), 'pending ticket: the deadline is date_of_expiration');
select is((:'r'::jsonb -> 'offline_payment' ->> 'hold_until')::timestamptz, private.add_business_hours((select at from deadline), 2),
          'pending ticket: held until the deadline plus 2 business hours');
select is((select expires_at from public.order_sessions where id = :'sa'), private.add_business_hours((select at from deadline), 2),
          'the session''s reservation is extended');
select is((select min(expires_at) from checkout.stock_reservations where order_session_id = :'sa'), private.add_business_hours((select at from deadline), 2),
          'and its reservation rows');
select is(tests.event_kinds(:'sa'), array['created', 'payment_seen', 'offline_hold'], 'the extension is in the event log');
select is(checkout.offline_payment(:'sa') ->> 'barcode', '12345678901234567890123456789012345678901234', 'checkout.offline_payment: the barcode');
select is((select count(*)::int from email.outbox where kind = 'payment_instructions' and payment_id = 7001 and recipient = 'off-ana@example.com'), 1,
          'the payer''s instructions email is queued');
select is(email.message_data(o) -> 'payment' ->> 'external_resource_url', 'https://mp.example/ticket?id=7001', 'it carries the ticket')
  from email.outbox o where kind = 'payment_instructions' and payment_id = 7001;

-- The same notification again, then in_process: nothing more.
select checkout.apply_payment(pg_temp.ticket(:'ta', 7001, 2000)) as r \gset
select checkout.apply_payment(pg_temp.ticket(:'ta', 7001, 2000, 'in_process')) as r2 \gset
select is((select count(*)::int from checkout.order_session_events where order_session_id = :'sa' and kind = 'offline_hold'), 1, 'held once per payment');
select is((select count(*)::int from email.outbox where kind = 'payment_instructions' and payment_id = 7001), 1, 'emailed once per payment');
select is(:'r2'::jsonb -> 'offline_payment' ->> 'status', 'holding', 'in_process keeps the hold');

-- ---------------------------------------------------------------------------
-- Pix: its own deadline, transfer_deadline (30 minutes) after it was made.
select checkout.apply_payment(pg_temp.ticket(:'te', 7005, 1000, 'pending', 'bank_transfer')) as r \gset
select is((:'r'::jsonb -> 'offline_payment' ->> 'deadline')::timestamptz, now() + interval '30 minutes', 'Pix: payable for transfer_deadline');
select is(:'r'::jsonb -> 'offline_payment' ->> 'qr_code_base64', 'iVBORw0KGgo=', 'Pix: the QR image');
select is(:'r'::jsonb -> 'offline_payment' ->> 'qr_code', '00020126pix', 'Pix: the copy-and-paste code');
select is((select expires_at from public.order_sessions where id = :'se'), now() + interval '45 minutes', 'Pix: held 30 minutes plus transfer_grace (15), weekends or not');
-- Approved 20 minutes in (the session's card time long gone, the hold live): an order, not late.
select tests.expire_order_session(:'se', interval '-10 minutes');
select checkout.apply_payment(tests.payment(:'te', 'approved', 1000, 7005) || '{"payment_type_id": "bank_transfer", "payment_method_id": "pix"}') as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'Pix approved within its hold: an order');
select is((:'r'::jsonb -> 'order' ->> 'paid_late')::boolean, false, 'not paid late');

-- ---------------------------------------------------------------------------
-- Hoarding: card-only products, the share of a variant, the shopper's holds.
select is(checkout.offline_methods_allowed(:'sd'), '{"allowed": false, "reason": "card_only"}'::jsonb, 'card-only product: no offline methods offered');
select checkout.apply_payment(pg_temp.ticket(:'td', 7004, 700)) as r \gset
select is(:'r'::jsonb -> 'offline_payment' ->> 'refusal', 'card_only', 'card-only product: a ticket anyway holds nothing');
select ok((select expires_at from public.order_sessions where id = :'sd') < now() + interval '1 hour', 'card-only: the session keeps its card time');
select is(tests.event_kinds(:'sd'), array['created', 'payment_seen', 'offline_hold_refused'], 'the refusal is logged');
select is((select count(*)::int from email.outbox where payment_id = 7004), 0, 'a refused ticket is not emailed');

-- OFF-B has 4 units: offline holds may take 2.
select is(checkout.offline_methods_allowed(:'sb'), '{"allowed": true, "reason": null}'::jsonb, 'two of four units: offline methods offered');
select is(checkout.apply_payment(pg_temp.ticket(:'tb', 7002, 1000)) -> 'offline_payment' ->> 'status', 'holding', 'bob''s ticket holds 2 of 4');
select is(checkout.offline_methods_allowed(:'sc'), '{"allowed": false, "reason": "variant_share"}'::jsonb, 'a third unit: past the share, no offline methods');
select is(checkout.apply_payment(pg_temp.ticket(:'tc', 7003, 500)) -> 'offline_payment' ->> 'refusal', 'variant_share',
          'carol''s ticket anyway: refused, nothing held');

-- The shopper's live holds (ana holds one): at most 1 now.
reset role;
update private.offline_settings set max_offline_holds_per_shopper = 1;
select tests.fill_cart('off-ana', array[:'vb']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select is(private.offline_refusal(s), 'shopper_limit', 'a shopper at her live holds: refused')
  from public.order_sessions s where s.id = :'sa';
reset role;
update private.offline_settings set max_offline_holds_per_shopper = 2;
select tests.authenticate_as_service_role() \gset

-- ---------------------------------------------------------------------------
-- The hold ends unpaid: expired, stock back, the cancellation claimed once.
select tests.expire_order_session(:'sb', interval '1 minute');
update checkout.offline_holds set hold_until = now() - interval '1 minute' where payment_id = 7002;
select checkout.claim_offline_expiry(100) as claimed \gset
select is(:'claimed'::jsonb @> format('[{"payment_id": 7002, "order_session_id": "%s", "attempts": 1}]', :'sb')::jsonb, true,
          'the ended ticket''s cancellation is claimed');
select is((select status::text from public.order_sessions where id = :'sb'), 'expired', 'its session expired');
select is((select count(*)::int from checkout.stock_reservations where order_session_id = :'sb'), 0, 'its stock is released');
select is((select reserved from public.variants where id = :'vb'), 1, 'only carol''s unit is still reserved');
select is(checkout.claim_offline_expiry(100), '[]'::jsonb, 'a second pass claims nothing: never cancelled twice together');
select is(checkout.record_offline_cancel(7002, 'MercadoPago unavailable (500)') ->> 'status', 'ended', 'a failed attempt: still due');
select is((select last_error from checkout.offline_holds where payment_id = 7002), 'MercadoPago unavailable (500)', 'the failure is kept');
update checkout.offline_holds set next_cancel_at = now() where payment_id = 7002;
select is(jsonb_array_length(checkout.claim_offline_expiry(100)), 1, 'retried once due');
select is(checkout.record_offline_cancel(7002) ->> 'status', 'cancelled', 'the cancellation is recorded');
select checkout.record_offline_cancel(7002) \gset
select is((select count(*)::int from checkout.order_session_events where order_session_id = :'sb' and kind = 'offline_payment_cancelled'), 1,
          'recorded once');

-- Approved anyway afterwards: the late path (the stock is there: an order, paid late).
select checkout.apply_payment(tests.payment(:'tb', 'approved', 1000, 7002) || '{"payment_type_id": "ticket"}') as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'approved after its hold ended: re-reserved, an order');
select is((:'r'::jsonb -> 'order' ->> 'paid_late')::boolean, true, 'paid late');

-- A hold approved before the pass: marked paid, never cancelled.
select checkout.apply_payment(tests.payment(:'ta', 'approved', 2000, 7001) || '{"payment_type_id": "ticket"}') as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'ticket paid within its hold: an order');
select is((select hold_until from checkout.offline_holds where payment_id = 7001), now(), 'its session paid: the hold ends now');
select is(checkout.claim_offline_expiry(100), '[]'::jsonb, 'nothing to cancel for a paid ticket');
select is((select status from checkout.offline_holds where payment_id = 7001), 'paid', 'its hold is paid');

-- ---------------------------------------------------------------------------
-- MercadoPago cancels a holding payment (it expired there): the hold ends.
select tests.fill_cart('off-erin', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sf, s ->> 'token' as tf from tests.begin_checkout('off-erin') s \gset
select checkout.apply_payment(pg_temp.ticket(:'tf', 7006, 1000)) \gset
update public.order_sessions set created_at = now() - interval '1 hour' where id = :'sf';
select checkout.apply_payment(pg_temp.ticket(:'tf', 7006, 1000, 'cancelled')) \gset
select is((select status from checkout.offline_holds where payment_id = 7006), 'cancelled', 'cancelled at MercadoPago: the hold is cancelled');
select is((select status::text from public.order_sessions where id = :'sf'), 'expired', 'past its card time: the session expired');
select is((select count(*)::int from checkout.stock_reservations where order_session_id = :'sf'), 0, 'and its stock is back');

-- ---------------------------------------------------------------------------
-- The audit: a hold stuck past its end is seen; otherwise empty.
select is(checkout.audit(), '[]'::jsonb, 'the audit is empty');
select s ->> 'id' as sg, s ->> 'token' as tg from tests.begin_checkout('off-carol') s \gset
select checkout.apply_payment(pg_temp.ticket(:'tg', 7007, 500)) \gset

-- The dashboard: units held per product, the payments awaiting, how many ended unpaid.
select throws_ok(format($$ select admin.offline_payments(%L) $$, jsonb_build_object('sub', :'carol', 'role', 'authenticated')), 'CKA01', null,
  'offline_payments: refused to a shopper');
select admin.offline_payments((select claims from staff)) as dash \gset
select is(:'dash'::jsonb -> 'held_by_product', jsonb_build_array(jsonb_build_object(
  'product_id', (select product_id from public.variants where id = :'vb'), 'title', 'Product OFF-B', 'units', 1, 'payments', 1)),
  'offline_payments: the units held per product');
select is((select jsonb_agg(a ->> 'payment_id' order by a ->> 'payment_id') from jsonb_array_elements(:'dash'::jsonb -> 'awaiting') a), '["7004", "7007"]'::jsonb,
  'offline_payments: the payments awaiting (a refused one too: payable until its card time ends)');
select is(:'dash'::jsonb #>> '{awaiting,0,label}', 'esperando pago', 'offline_payments: esperando pago');
select is(:'dash'::jsonb -> 'expired_unpaid', '{"last_7_days": 2, "total": 2, "cancel_pending": 0}'::jsonb, 'offline_payments: ended unpaid');
select is((select hold_until from checkout.offline_holds where payment_id = 7003), now(), 'a newer checkout cancelled carol''s session: its hold ends now');
select tests.expire_order_session(:'sg', interval '2 hours');
select is(checkout.audit() -> 0 ->> 'invariant', 'offline_hold_past_end', 'the audit sees a hold not ended an hour after its end');

select * from finish();
rollback;
