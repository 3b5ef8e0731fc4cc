-- checkout.begin_checkout (as service_role): the snapshot at database prices,
-- totals, reservations, availability for others, the previous session
-- cancelled, every error with nothing written; and the small routines around
-- it (attach_preference, release_session, find_order_session).
begin;
\ir helpers/tests.psql
select plan(60);

select tests.create_shopper('ck-ana') as ana, tests.create_shopper('ck-bob') as bob,
       tests.create_shopper('ck-carol') as carol, tests.create_shopper('ck-dan') as dan,
       tests.create_shopper('ck-erin') as erin, tests.create_variant('CK-A', 5, 1000) as va,
       tests.create_variant('CK-B', 3, 250.50) as vb, tests.create_variant('CK-C', 2) as vc,
       tests.create_variant('CK-D', 5) as vd, tests.create_variant('CK-E', 5) as ve,
       tests.create_variant('CK-X', 5) as vx \gset
update private.settings set reservation_ttl = interval '20 minutes';

select tests.fill_cart('ck-ana', array[:'va', :'vb']::uuid[], array[2, 1]) \gset
select tests.clear_authentication() \gset
-- The price changes after the shopper added the line: the checkout uses the new one.
update public.variants set price = 1200 where id = :'va';

-- ---------------------------------------------------------------------------
-- The snapshot
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('ck-ana') as s1 \gset
select :'s1'::jsonb ->> 'id' as s1_id \gset

select is(:'s1'::jsonb ->> 'status', 'active', 'begin_checkout: the session is active');
select results_eq(
  format($$ select l ->> 'sku', l ->> 'title', (l ->> 'unit_price')::numeric, (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric, (l ->> 'variant_id')::uuid
              from jsonb_array_elements(%L::jsonb -> 'lines') l $$, :'s1'),
  format($$ values ('CK-A', 'Product CK-A - Variant CK-A', 1200.00, 2, 2400.00, %L::uuid),
                   ('CK-B', 'Product CK-B - Variant CK-B', 250.50, 1, 250.50, %L::uuid) $$, :'va', :'vb'),
  'begin_checkout: the snapshot has the lines at the prices in the database now'
);
select is((:'s1'::jsonb ->> 'subtotal')::numeric, 2650.50, 'begin_checkout: subtotal');
select is((:'s1'::jsonb ->> 'discount')::numeric, 0.00, 'begin_checkout: no discount without a coupon');
select is((:'s1'::jsonb ->> 'total')::numeric, 2650.50, 'begin_checkout: total');
select is((:'s1'::jsonb ->> 'item_count')::integer, 3, 'begin_checkout: item count');
select is(:'s1'::jsonb ->> 'currency', 'ARS', 'begin_checkout: currency');
select matches(:'s1'::jsonb ->> 'token', '^[A-Za-z0-9_-]{1,64}$', 'begin_checkout: the token is a valid external_reference');
select is((:'s1'::jsonb ->> 'expires_at')::timestamptz, now() + interval '20 minutes', 'begin_checkout: expires after reservation_ttl');
select results_eq(
  format($$ select session_id, status::text, payer ->> 'email', shipping_address ->> 'zip_code', expires_at
              from public.order_sessions where id = %L $$, :'s1_id'),
  format($$ values (%L::uuid, 'active', 'ck-ana@example.com', '1043', now() + interval '20 minutes') $$, :'ana'),
  'begin_checkout: the stored session has the shopper, payer and shipping address'
);
select results_eq(
  format($$ select variant_id, quantity, expires_at from checkout.stock_reservations where order_session_id = %L order by quantity desc $$, :'s1_id'),
  format($$ values (%L::uuid, 2, now() + interval '20 minutes'), (%L::uuid, 1, now() + interval '20 minutes') $$, :'va', :'vb'),
  'begin_checkout: one reservation per line, until the session expires'
);
select is(tests.event_kinds(:'s1_id'), array['created'], 'begin_checkout: logs one event, created');
select is(
  (select detail - 'replaces' from checkout.order_session_events where order_session_id = :'s1_id'),
  jsonb_build_object('total', 2650.50, 'currency', 'ARS', 'coupon', null,
                     'lines', jsonb_build_array(jsonb_build_object('sku', 'CK-A', 'quantity', 2), jsonb_build_object('sku', 'CK-B', 'quantity', 1)),
                     'expires_at', now() + interval '20 minutes'),
  'begin_checkout: the created event has the totals, the lines reserved and the expiry');

-- Availability drops for everyone else.
select is(private.available_stock(:'va'), 3, 'availability: CK-A drops by the reserved units');
select is(private.available_stock(:'vb'), 2, 'availability: CK-B drops by the reserved units');
select tests.authenticate_as_anon() \gset
select is(
  (select (v ->> 'available')::integer from jsonb_array_elements(public.get_catalog()) p, jsonb_array_elements(p -> 'variants') v where v ->> 'sku' = 'CK-A'),
  3, 'availability: the catalog shows it to anon');
select tests.authenticate_as('ck-bob') \gset
select throws_ok(format($$ select public.add_to_cart(%L, 3) $$, :'vb'), 'CKS01', 'only 2 of CK-B available, 3 requested',
  'availability: another shopper cannot add the reserved units');

-- ---------------------------------------------------------------------------
-- A new checkout cancels the previous one and releases its stock first.
select tests.fill_cart('ck-ana', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('ck-ana') as s2 \gset
select :'s2'::jsonb ->> 'id' as s2_id \gset
select results_eq(
  format($$ select status::text, closed_at from public.order_sessions where id = %L $$, :'s1_id'),
  $$ values ('cancelled', now()) $$,
  'a new checkout cancels the previous active session'
);
select is_empty(format($$ select 1 from checkout.stock_reservations where order_session_id = %L $$, :'s1_id'),
  'the previous session''s reservation is released');
select is(tests.event_kinds(:'s1_id'), array['created', 'cancelled'], 'the previous session logs its cancellation');
select results_eq(
  format($$ select id from public.order_sessions where session_id = %L and status = 'active' $$, :'ana'),
  format($$ values (%L::uuid) $$, :'s2_id'),
  'the shopper has exactly one active session'
);
select results_eq(
  format($$ select variant_id, quantity from checkout.stock_reservations where order_session_id = %L order by quantity desc $$, :'s2_id'),
  format($$ values (%L::uuid, 3), (%L::uuid, 1) $$, :'va', :'vb'),
  'the new session reserves the whole cart (the old reservation did not count against it)'
);
select is(private.available_stock(:'va'), 2, 'availability: only the new reservation counts');

-- ---------------------------------------------------------------------------
-- Errors, nothing written.
select tests.fill_cart('ck-carol', array[:'va']::uuid[], array[1]) \gset
select public.clear_cart() \gset
select tests.authenticate_as_service_role() \gset
select throws_ok($$ select tests.begin_checkout('ck-carol') $$, 'CKC01', 'the cart is empty', 'begin_checkout: an empty cart is refused');
select throws_ok($$ select tests.begin_checkout('ck-dan') $$, 'CKC01', 'the cart is empty', 'begin_checkout: no cart at all is refused');
select throws_ok(format($$ select checkout.begin_checkout(%L, null, '{}') $$, :'ana'), 'CKI01', 'payer must be an object with a valid email', 'begin_checkout: a null payer is refused');
select throws_ok(format($$ select checkout.begin_checkout(%L, '["a@b.co"]', '{}') $$, :'ana'), 'CKI01', 'payer must be an object with a valid email', 'begin_checkout: a payer that is not an object is refused');
select throws_ok(format($$ select checkout.begin_checkout(%L, '{"email": "not-an-email"}', '{}') $$, :'ana'), 'CKI01', 'payer must be an object with a valid email', 'begin_checkout: a bad email is refused');
select throws_ok(format($$ select checkout.begin_checkout(%L, '{"name": "Ana"}', '{}') $$, :'ana'), 'CKI01', 'payer must be an object with a valid email', 'begin_checkout: a payer without email is refused');
select throws_ok(format($$ select checkout.begin_checkout(%L, '{"email": "a@b.co"}', '"Av. Corrientes 1234"') $$, :'ana'), 'CKI01', 'shipping address must be an object', 'begin_checkout: a shipping address that is not an object is refused');
select throws_ok(format($$ select checkout.begin_checkout(%L, '{"email": "a@b.co"}', null) $$, :'ana'), 'CKI01', 'shipping address must be an object', 'begin_checkout: a missing shipping address is refused');
select throws_ok($$ select checkout.begin_checkout(null, '{"email": "a@b.co"}', '{}') $$, 'CKI01', 'session id is required', 'begin_checkout: a null session id is refused');
select results_eq(
  format($$ select id, status::text from public.order_sessions where session_id = %L order by created_at, status $$, :'ana'),
  format($$ values (%L::uuid, 'active'), (%L::uuid, 'cancelled') $$, :'s2_id', :'s1_id'),
  'after the refused checkouts the shopper''s active session is untouched and none was added'
);
select is_empty(format($$ select 1 from public.order_sessions where session_id in (%L, %L) $$, :'carol', :'dan'),
  'refused empty checkouts create no session');

-- Short stock: every short line with requested and available, the inactive
-- variant among them; the previous session survives.
select tests.fill_cart('ck-bob', array[:'vc', :'vd', :'ve']::uuid[], array[2, 1, 1]) \gset
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('ck-bob') ->> 'id' as b1_id \gset
select tests.clear_authentication() \gset
update public.variants set stock_on_hand = 1 where id = :'vc';
update public.variants set active = false where id = :'vd';
select tests.authenticate_as_service_role() \gset
select tests.error_of($$ select tests.begin_checkout('ck-bob') $$) as err \gset
select is(:'err'::jsonb ->> 'sqlstate', 'CKS01', 'short stock: CKS01');
select is(:'err'::jsonb ->> 'message', 'not enough stock: CK-C (requested 2, available 1), CK-D (requested 1, available 0)',
  'short stock: the message lists every short line');
select is(
  (:'err'::jsonb ->> 'detail')::jsonb,
  jsonb_build_object('short', jsonb_build_array(
    jsonb_build_object('variant_id', :'vc'::uuid, 'sku', 'CK-C', 'title', 'Product CK-C - Variant CK-C', 'requested', 2, 'available', 1, 'reason', 'insufficient_stock'),
    jsonb_build_object('variant_id', :'vd'::uuid, 'sku', 'CK-D', 'title', 'Product CK-D - Variant CK-D', 'requested', 1, 'available', 0, 'reason', 'not_for_sale'))),
  'short stock: the detail lists each short line (the inactive variant too) with requested and available'
);
select results_eq(
  format($$ select id, status::text from public.order_sessions where session_id = %L $$, :'bob'),
  format($$ values (%L::uuid, 'active') $$, :'b1_id'),
  'short stock: no session was added and the previous one is still active'
);
select is(
  (select count(*)::integer from checkout.stock_reservations where order_session_id = :'b1_id'),
  3, 'short stock: the previous session keeps its reservations');
select is(tests.event_kinds(:'b1_id'), array['created'], 'short stock: the previous session logged nothing more');

-- Mixed currencies (a variant re-priced in another currency after it was added).
select tests.fill_cart('ck-carol', array[:'va', :'vx']::uuid[], array[1, 1]) \gset
select tests.clear_authentication() \gset
update public.variants set currency = 'USD' where id = :'vx';
select tests.authenticate_as_service_role() \gset
select throws_ok($$ select tests.begin_checkout('ck-carol') $$, 'CKM01', 'the cart mixes currencies', 'begin_checkout: mixed currencies are refused');
select is_empty(format($$ select 1 from public.order_sessions where session_id = %L $$, :'carol'), 'mixed currencies: no session');

-- Lazy expiry: an expired reservation is free for the next checkout at once.
select tests.expire_order_session(:'s2_id') \gset
select is(private.available_stock(:'va'), 5, 'an expired reservation no longer counts, before any cron');
select tests.fill_cart('ck-erin', array[:'va']::uuid[], array[5]) \gset
select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('ck-erin') as e1 \gset
select :'e1'::jsonb ->> 'id' as e1_id, :'e1'::jsonb ->> 'token' as e1_tok \gset
select is((select quantity from checkout.stock_reservations where order_session_id = :'e1_id'), 5,
  'a checkout reserves units whose previous reservation expired');

-- ---------------------------------------------------------------------------
-- attach_preference, find_order_session, release_session
select is(checkout.attach_preference(:'e1_id', 'pref-123') ->> 'preference_id', 'pref-123', 'attach_preference: records the preference');
select is(tests.event_kinds(:'e1_id'), array['created', 'preference_attached'], 'attach_preference: logs it');
select lives_ok(format($$ select checkout.attach_preference(%L, 'pref-123') $$, :'e1_id'), 'attach_preference: the same id again is fine');
select throws_ok(format($$ select checkout.attach_preference(%L, 'pref-999') $$, :'e1_id'), 'CKO02',
  format('order session %s already has preference pref-123', :'e1_id'), 'attach_preference: another preference is refused');
select throws_ok(format($$ select checkout.attach_preference(%L, ' ') $$, :'e1_id'), 'CKI01', 'preference id is required', 'attach_preference: a blank id is refused');
select throws_ok($$ select checkout.attach_preference('00000000-0000-4000-8000-00000000dead', 'pref-1') $$, 'CKO01',
  'unknown order session 00000000-0000-4000-8000-00000000dead', 'attach_preference: an unknown session is refused');
select is(checkout.find_order_session(:'e1_tok') ->> 'id', :'e1_id', 'find_order_session: finds a session by its token');
select is(checkout.find_order_session('os_nope'), null, 'find_order_session: NULL for an unknown token');

select is(checkout.release_session(:'e1_id', 'preference failed') ->> 'status', 'cancelled', 'release_session: cancels the session');
select is_empty(format($$ select 1 from checkout.stock_reservations where order_session_id = %L $$, :'e1_id'), 'release_session: frees its stock');
select is(private.available_stock(:'va'), 5, 'release_session: the units are available again');
select is(checkout.release_session(:'e1_id') ->> 'status', 'cancelled', 'release_session: idempotent');
select is(tests.event_kinds(:'e1_id'), array['created', 'preference_attached', 'cancelled'], 'release_session: logs one cancellation');
select throws_ok($$ select checkout.release_session('00000000-0000-4000-8000-00000000dead') $$, 'CKO01',
  'unknown order session 00000000-0000-4000-8000-00000000dead', 'release_session: an unknown session is refused');

-- Order sessions are immutable snapshots.
select tests.clear_authentication() \gset
select throws_ok(format($$ update public.order_sessions set total = 1, subtotal = 1 where id = %L $$, :'e1_id'), 'CKI02',
  format('order session %s is immutable except for its status and payment fields', :'e1_id'), 'order sessions: the snapshot cannot change');
select throws_ok(format($$ update public.order_sessions set status = 'active' where id = %L $$, :'e1_id'), 'CKI02',
  format('order session %s cannot move from cancelled to active', :'e1_id'), 'order sessions: the status only moves forward');

select * from finish();
rollback;
