-- The dashboard's routines (schema admin): who may call them (service_role
-- only, and only with a staff member's claims), what they return, and bad
-- input refused with nothing written.
begin;
\ir helpers/tests.psql
select plan(79);

-- ---------------------------------------------------------------------------
-- Privileges: service_role only, like schema checkout.
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace = 'admin'::regnamespace
        and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute')) $$,
  'admin: no function is executable by anon or authenticated');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p cross join lateral aclexplode(p.proacl) a
      where p.pronamespace = 'admin'::regnamespace and a.grantee = 0 and a.privilege_type = 'EXECUTE' $$,
  'admin: no function is executable by PUBLIC');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace = 'admin'::regnamespace and not has_function_privilege('service_role', p.oid, 'execute') $$,
  'admin: every function is executable by service_role');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
      where p.pronamespace = 'admin'::regnamespace and p.prokind = 'f'
        and not (p.prosecdef and p.proconfig @> array['search_path=""']) $$,
  'admin: every function is security definer with an empty search_path');
select ok(not has_schema_privilege('anon', 'admin', 'usage') and not has_schema_privilege('authenticated', 'admin', 'usage'),
  'admin: anon and authenticated have no usage on the schema');
select ok(not has_table_privilege('authenticated', 'admin.stock_adjustments', 'select'), 'admin.stock_adjustments: not readable by authenticated');
select ok((select relrowsecurity from pg_class where oid = 'admin.stock_adjustments'::regclass), 'admin.stock_adjustments: RLS enabled');

-- ---------------------------------------------------------------------------
-- Actors: a member of staff, a permanent user who is not staff, an anonymous
-- shopper, and a token whose claims say staff for a user who is not.
insert into auth.users (id, email, is_anonymous, email_confirmed_at) values
  ('00000000-0000-4000-8000-00000000a001', 'boss@example.com', false, now()),
  ('00000000-0000-4000-8000-00000000a002', 'client@example.com', false, now());
select is((admin.set_staff('Boss@Example.com', true)) ->> 'staff', 'true', 'set_staff: makes a user staff (email case-insensitive)');
select is((select raw_app_meta_data ->> 'store_role' from auth.users where email = 'boss@example.com'), 'staff',
  'set_staff: app_metadata.store_role = staff');
select throws_ok($$ select admin.set_staff('nobody@example.com', true) $$, 'CKO01', null, 'set_staff: unknown email is refused');
select throws_ok($$ select admin.set_staff('not an email', true) $$, 'CKI01', null, 'set_staff: a malformed email is refused');

create temporary table actors (name text primary key, claims jsonb);
insert into actors values
  ('staff', '{"sub": "00000000-0000-4000-8000-00000000a001", "role": "authenticated", "aud": "authenticated", "is_anonymous": false, "email": "boss@example.com", "app_metadata": {"store_role": "staff"}}'),
  ('client', '{"sub": "00000000-0000-4000-8000-00000000a002", "role": "authenticated", "aud": "authenticated", "is_anonymous": false, "app_metadata": {}}'),
  ('forged', '{"sub": "00000000-0000-4000-8000-00000000a002", "role": "authenticated", "aud": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}'),
  ('anon', '{"role": "anon"}');
grant select on actors to service_role;
select tests.create_shopper('adm-ana') as ana \gset
insert into actors values ('shopper', jsonb_build_object('sub', :'ana', 'role', 'authenticated', 'is_anonymous', true, 'app_metadata', '{"store_role": "staff"}'::jsonb));

select ok(admin.is_staff((select claims from actors where name = 'staff')), 'is_staff: staff claims of a staff user');
select ok(not admin.is_staff((select claims from actors where name = 'client')), 'is_staff: a permanent user who is not staff');
select ok(not admin.is_staff((select claims from actors where name = 'forged')), 'is_staff: claims saying staff for a user who is not (auth.users decides)');
select ok(not admin.is_staff((select claims from actors where name = 'shopper')), 'is_staff: an anonymous shopper, whatever its metadata');
select ok(not admin.is_staff((select claims from actors where name = 'anon')), 'is_staff: the anon role');
select ok(not admin.is_staff(null), 'is_staff: no claims');

-- ---------------------------------------------------------------------------
-- A store: one order paid, one checkout holding 3 units, one refund owed.
select tests.create_variant('ADM-A', 10, 1500) as va, tests.create_variant('ADM-B', 5, 700) as vb,
       tests.create_shopper('adm-bob') as bob, tests.create_shopper('adm-carol') as carol \gset
select tests.fill_cart('adm-ana', array[:'va']::uuid[], array[2]),
       tests.fill_cart('adm-bob', array[:'va']::uuid[], array[3]),
       tests.fill_cart('adm-carol', array[:'vb']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa, s ->> 'token' as ta from tests.begin_checkout('adm-ana') s \gset
select s ->> 'id' as sb from tests.begin_checkout('adm-bob') s \gset
select s ->> 'id' as sc, s ->> 'token' as tc from tests.begin_checkout('adm-carol') s \gset
select checkout.apply_payment(tests.payment(:'ta', 'approved', 3000, 7770001)) ->> 'outcome' as paid \gset
select checkout.apply_payment(tests.payment(:'tc', 'approved', 100000, 7770002)) ->> 'outcome' as mismatch \gset
select order_number, id as order_id from public.orders where payment_id = 7770001 \gset
select tests.clear_authentication() \gset

-- Everything below runs as the admin Edge Function does: service_role.
set local role service_role;

-- Every routine refuses anyone but staff: CKA01.
select throws_ok(format($$ select admin.dashboard(%L, current_date, current_date) $$, claims), 'CKA01', 'store staff only',
                 'dashboard: refused to ' || name)
  from actors where name in ('shopper', 'client', 'forged', 'anon') order by name;
select throws_ok(format($$ select admin.orders(%L) $$, (select claims from actors where name = 'shopper')), 'CKA01', null, 'orders: refused to a shopper');
select throws_ok(format($$ select admin.order_detail(%L, %L) $$, (select claims from actors where name = 'shopper'), :'order_number'), 'CKA01', null,
  'order_detail: refused to a shopper');
select throws_ok(format($$ select admin.attention(%L) $$, (select claims from actors where name = 'client')), 'CKA01', null, 'attention: refused to a non-staff user');
select throws_ok(format($$ select admin.refund_to_retry(%L, '7770002') $$, (select claims from actors where name = 'shopper')), 'CKA01', null,
  'refund_to_retry: refused to a shopper');
select throws_ok(format($$ select admin.stock(%L) $$, (select claims from actors where name = 'anon')), 'CKA01', null, 'stock: refused to anon');
select throws_ok(format($$ select admin.adjust_stock(%L, %L, 5, 'restock') $$, (select claims from actors where name = 'forged'), :'va'), 'CKA01', null,
  'adjust_stock: refused to forged staff claims');
select throws_ok(format($$ select admin.housekeeping(%L) $$, (select claims from actors where name = 'shopper')), 'CKA01', null, 'housekeeping: refused to a shopper');
select throws_ok(format($$ select admin.run_cleanup(%L) $$, (select claims from actors where name = 'shopper')), 'CKA01', null, 'run_cleanup: refused to a shopper');
select throws_ok(format($$ select admin.audit(%L) $$, (select claims from actors where name = 'client')), 'CKA01', null, 'audit: refused to a non-staff user');
select is((select stock_on_hand from public.variants where id = :'va'), 8, 'a refused adjustment wrote nothing');

select claims as staff from actors where name = 'staff' \gset

-- Orders: the list, search, keyset pages.
select admin.orders(:'staff') as page \gset
select is(jsonb_array_length(:'page'::jsonb -> 'orders'), (select count(*)::integer from public.orders), 'orders: every order on one page');
select is(:'page'::jsonb -> 'orders' -> 0 ->> 'order_number', :'order_number', 'orders: newest first');
select is(:'page'::jsonb -> 'orders' -> 0 ->> 'email', 'adm-ana@example.com', 'orders: the payer email');
select is(:'page'::jsonb -> 'next', 'null'::jsonb, 'orders: no next page');
select is(jsonb_array_length(admin.orders(:'staff', 'ADM-ANA@') -> 'orders'), 1, 'orders: search by email prefix, case-insensitive');
select is(admin.orders(:'staff', :'order_number') -> 'orders' -> 0 ->> 'payment_id', '7770001', 'orders: search by order number');
select is(admin.orders(:'staff', '7770001') -> 'orders' -> 0 ->> 'order_number', :'order_number', 'orders: search by payment id');
select is(jsonb_array_length(admin.orders(:'staff', 'nobody%') -> 'orders'), 0, 'orders: % in a search is a literal');
-- Three more orders, then pages of two.
do $$
declare
  n int;
  s jsonb;
begin
  for n in 1..3 loop
    perform tests.create_shopper('adm-page' || n);
    perform tests.authenticate_as('adm-page' || n);
    perform public.add_to_cart(tests.variant('ADM-B'), 1);
    perform tests.authenticate_as_service_role();
    s := tests.begin_checkout('adm-page' || n);
    perform checkout.apply_payment(tests.payment(s ->> 'token', 'approved', 700, 7780000 + n));
  end loop;
end
$$;
set local role service_role;
select admin.orders(:'staff', null, null, null, 2) as p1 \gset
select admin.orders(:'staff', null, (:'p1'::jsonb -> 'next' ->> 'created_at')::timestamptz, (:'p1'::jsonb -> 'next' ->> 'id')::uuid, 2) as p2 \gset
select is(
  (select array_agg(x ->> 'order_number') from (
     select jsonb_array_elements(:'p1'::jsonb -> 'orders') x union all select jsonb_array_elements(:'p2'::jsonb -> 'orders')) y),
  (select array_agg(order_number order by created_at desc, id desc) from public.orders),
  'orders: keyset pages cover every order once, newest first');
select is((:'p1'::jsonb -> 'next') <> 'null'::jsonb and (:'p2'::jsonb -> 'next') = 'null'::jsonb, true, 'orders: the last page has no next cursor');
select throws_ok(format($$ select admin.orders(%L, null, null, null, 0) $$, :'staff'), 'CKI01', null, 'orders: a limit of 0 is refused');
select throws_ok(format($$ select admin.orders(%L, null, now(), null) $$, :'staff'), 'CKI01', null, 'orders: half a cursor is refused');

-- One order.
select admin.order_detail(:'staff', :'order_number') as d \gset
select is(:'d'::jsonb ->> 'id', :'order_id', 'order_detail: by order number');
select is(admin.order_detail(:'staff', :'order_id') ->> 'order_number', :'order_number', 'order_detail: by id');
select is(jsonb_array_length(:'d'::jsonb -> 'lines'), 1, 'order_detail: the lines');
select is(:'d'::jsonb -> 'payer' ->> 'email', 'adm-ana@example.com', 'order_detail: the payer');
select is(:'d'::jsonb -> 'shipping_address' ->> 'city', 'CABA', 'order_detail: the address');
select is(:'d'::jsonb -> 'payments' -> 0 ->> 'status', 'approved', 'order_detail: the payment status history');
select ok((select array_agg(e ->> 'kind') from jsonb_array_elements(:'d'::jsonb -> 'events') e) @> array['created', 'committed'],
  'order_detail: the order session event log');
select throws_ok(format($$ select admin.order_detail(%L, '1; drop table public.orders') $$, :'staff'), 'CKI01', null,
  'order_detail: a forged order id is refused');
select throws_ok(format($$ select admin.order_detail(%L, %L) $$, :'staff', gen_random_uuid()), 'CKO01', null, 'order_detail: an unknown order is 404');

-- Stock and adjustments.
select v as stock_a from jsonb_array_elements(admin.stock(:'staff') -> 'variants') v where v ->> 'id' = :'va' \gset
select is(:'stock_a'::jsonb - 'id' - 'product' - 'title' - 'sku' - 'price' - 'currency' - 'active',
  '{"on_hand": 8, "reserved": 3, "reserving_sessions": 1, "available": 5}'::jsonb, 'stock: on hand, reserved, by how many checkouts, available');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, -6, 'broken') $$, :'staff', :'va')) ->> 'sqlstate', 'CKS02',
  'adjust_stock: below what checkouts in progress hold is refused (CKS02)');
select is((tests.error_of(format($$ select admin.adjust_stock(%L, %L, -6, 'broken') $$, :'staff', :'va')) ->> 'detail')::jsonb ->> 'minimum_delta', '-5',
  'adjust_stock: the refusal says how far it may go');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, -9, 'broken') $$, :'staff', :'va')) ->> 'sqlstate', 'CKI01',
  'adjust_stock: below zero is refused (CKI01)');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, 0, 'nothing') $$, :'staff', :'va')) ->> 'sqlstate', 'CKI01', 'adjust_stock: zero is refused');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, 2, ' ') $$, :'staff', :'va')) ->> 'sqlstate', 'CKI01', 'adjust_stock: a reason is required');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, 'x', 2, 'restock') $$, :'staff')) ->> 'sqlstate', 'CKI01', 'adjust_stock: a forged variant id');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, 2, 'restock') $$, :'staff', gen_random_uuid())) ->> 'sqlstate', 'CKO01',
  'adjust_stock: an unknown variant');
select is((select count(*)::integer from admin.stock_adjustments) || '/' || (select stock_on_hand from public.variants where id = :'va'), '0/8',
  'adjust_stock: refusals wrote nothing');
select is(admin.adjust_stock(:'staff', :'va', -5, 'Roto en depósito') - 'id' - 'created_at' - 'variant_id' - 'sku',
  '{"delta": -5, "on_hand_before": 8, "on_hand_after": 3, "reserved": 3, "available": 0, "reason": "Roto en depósito"}'::jsonb,
  'adjust_stock: down to exactly what is reserved');
select is((select row(delta, staff_email, reserved_then)::text from admin.stock_adjustments), '(-5,boss@example.com,3)', 'adjust_stock: recorded, with who and what was reserved');

-- Money that needs attention.
select admin.attention(:'staff') as att \gset
select is(:'att'::jsonb -> 'refunds_owed' -> 0 ->> 'payment_id', '7770002', 'attention: the refund owed');
select is(:'att'::jsonb -> 'amount_mismatches' -> 0 ->> 'expected', '700.00', 'attention: the amount mismatch, with what was expected');
select is(admin.refund_to_retry(:'staff', '7770002') ->> 'amount', '100000.00', 'refund_to_retry: the refund owed');
select is((select attempts from checkout.payment_refunds where payment_id = 7770002), 1, 'refund_to_retry: the attempt is counted');
select is(jsonb_typeof(admin.audit(:'staff')), 'array', 'audit: checkout.audit() for staff');
select throws_ok(format($$ select admin.refund_to_retry(%L, '12x') $$, :'staff'), 'CKI01', null, 'refund_to_retry: a malformed payment id');
select throws_ok(format($$ select admin.refund_to_retry(%L, '7770001') $$, :'staff'), 'CKO01', null, 'refund_to_retry: nothing owed for a paid order');

-- The dashboard.
select admin.dashboard(:'staff', current_date - 6, current_date, 'UTC') as dash \gset
select is(:'dash'::jsonb -> 'today' ->> 'orders', '4', 'dashboard: today''s orders');
select is(:'dash'::jsonb -> 'range' -> 'revenue' ->> 'ARS', '5100.00', 'dashboard: revenue per currency');
select is(jsonb_array_length(:'dash'::jsonb -> 'per_day'), 7, 'dashboard: one point per day of the range');
select is((:'dash'::jsonb -> 'sessions_by_outcome') - 'expired'::text - 'cancelled'::text - 'refunded'::text, '{"active": 2, "paid": 4, "refund_owed": 0}'::jsonb,
  'dashboard: order sessions by outcome');
select throws_ok(format($$ select admin.dashboard(%L, current_date, current_date, 'Mars/Olympus') $$, :'staff'), 'CKI01', null, 'dashboard: an unknown time zone');
select throws_ok(format($$ select admin.dashboard(%L, current_date, current_date - 1) $$, :'staff'), 'CKI01', null, 'dashboard: to before from');

-- Housekeeping.
select ok(admin.housekeeping(:'staff') -> 'jobs' @> '[{"name": "checkout-expire-sessions"}]', 'housekeeping: the cron jobs');
select ok(admin.run_cleanup(:'staff') ? 'expired_sessions', 'run_cleanup: runs the cleanup');

-- Taking the role away works at once, whatever the token says.
reset role;
select admin.set_staff('boss@example.com', false) \gset
select ok(not admin.is_staff(:'staff'), 'set_staff false: the staff token stops working at once');

select * from finish();
rollback;
