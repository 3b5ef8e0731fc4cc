-- Fair stock (hoarding): the caps on what one shopper may hold (cart and
-- checkout), renewals that keep the first expiry, the wait after repeated
-- unpaid expiries, and top holders in the stats. Time is moved by setting
-- timestamps (now() is constant within the transaction).
begin;
\ir helpers/tests.psql
select plan(25);

select tests.create_shopper('fs-hoarder') as hoarder, tests.create_shopper('fs-buyer') as buyer,
       tests.create_shopper('fs-big') as big, tests.create_variant('FS-HOT', 12, 1000) as hot,
       tests.create_variant('FS-A', 50, 100) as va, tests.create_variant('FS-B', 50, 100) as vb,
       tests.create_variant('FS-C', 50, 100) as vc \gset

select results_eq(
  $$ select max_units_per_variant, max_units_per_checkout, max_unpaid_expiries, unpaid_expiry_window from private.settings $$,
  $$ values (10, 30, 3, interval '1 hour') $$,
  'settings: the fair-stock defaults'
);

-- ---------------------------------------------------------------------------
-- The cart refuses a line over the per-variant cap
select tests.authenticate_as('fs-hoarder') \gset
select throws_ok(format($$ select public.add_to_cart(%L, 11) $$, :'hot'), 'CKH01', null,
  'cart: 11 units of one product is over the cap of 10 (CKH01)');
select is(
  tests.error_of(format($$ select public.add_to_cart(%L, 12) $$, :'hot')) -> 'detail',
  to_jsonb(jsonb_build_object('max', 10, 'lines', jsonb_build_array(jsonb_build_object('variant_id', :'hot'::uuid, 'sku', 'FS-HOT', 'requested', 12)))::text),
  'cart: CKH01 details name the cap and the line'
);
select lives_ok(format($$ select public.add_to_cart(%L, 10) $$, :'hot'), 'cart: 10 units is within the cap');
select throws_ok(format($$ select public.add_to_cart(%L, 1) $$, :'hot'), 'CKH01', null,
  'cart: growing the line past the cap is refused too');
select lives_ok(format($$ select public.set_cart_item_quantity(%L, 4) $$, :'hot'), 'cart: lowering a line is always allowed');
select lives_ok(format($$ select public.set_cart_item_quantity(%L, 10) $$, :'hot'), 'cart: and back up to the cap');

-- ---------------------------------------------------------------------------
-- Hoarding: the hoarder holds at most the cap; another shopper can still buy
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as h1, (s ->> 'expires_at')::timestamptz as h1_expires from tests.begin_checkout('fs-hoarder') s \gset
select is(private.available_stock(:'hot'), 2, 'hoarding: the hoarder holds 10 of 12');
select tests.authenticate_as('fs-buyer') \gset
select lives_ok(format($$ select public.add_to_cart(%L, 2) $$, :'hot'), 'hoarding: a second shopper can put the rest in a cart');
select tests.authenticate_as_service_role() \gset
select lives_ok($$ select tests.begin_checkout('fs-buyer') $$, 'hoarding: and check out');

-- ---------------------------------------------------------------------------
-- Renewal: a new checkout while the hold runs keeps the first expiry
select tests.clear_authentication() \gset
-- Time passes for one shopper: their sessions and reservations move back.
create function tests.age_shopper(p_session_id uuid, p_by interval)
returns void
language sql
set search_path = ''
as $$
  update checkout.stock_reservations r set expires_at = r.expires_at - p_by
    from public.order_sessions s where s.id = r.order_session_id and s.session_id = p_session_id;
  update public.order_sessions s
     set expires_at = s.expires_at - p_by, created_at = s.created_at - p_by, closed_at = s.closed_at - p_by
   where s.session_id = p_session_id;
$$;
-- The first checkout began 10 minutes ago: 5 minutes left.
select tests.age_shopper(:'hoarder', interval '10 minutes') \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as h2, (s ->> 'expires_at')::timestamptz as h2_expires from tests.begin_checkout('fs-hoarder') s \gset
select is(:'h2_expires'::timestamptz, now() + interval '5 minutes', 'renewal: the same lines again keep the first expiry, not 15 more minutes');
select is(
  (select array_agg(distinct expires_at) from checkout.stock_reservations where order_session_id = :'h2'),
  array[now() + interval '5 minutes'],
  'renewal: and so does the reservation'
);
select is((select status::text from public.order_sessions where id = :'h1'), 'cancelled', 'renewal: the first session was replaced');
select tests.fill_cart('fs-hoarder', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select is((tests.begin_checkout('fs-hoarder') ->> 'expires_at')::timestamptz, now() + interval '5 minutes',
  'renewal: other lines do not extend the hold either');

-- ---------------------------------------------------------------------------
-- Unpaid expiries: after 3 within the hour, the shopper waits
select tests.clear_authentication() \gset
-- Expired 5 minutes ago, unpaid (1).
select tests.age_shopper(:'hoarder', interval '10 minutes') \gset
select tests.authenticate_as_service_role() \gset
select is((tests.begin_checkout('fs-hoarder') ->> 'expires_at')::timestamptz, now() + interval '15 minutes',
  'expiry: after the hold lapsed unpaid, a new checkout holds for the full time');
select tests.clear_authentication() \gset
-- Expired unpaid again (2).
select tests.age_shopper(:'hoarder', interval '20 minutes') \gset
select checkout.expire_sessions() \gset
select tests.authenticate_as_service_role() \gset
select lives_ok($$ select tests.begin_checkout('fs-hoarder') $$, 'expiry: 2 unpaid expiries within the hour, still allowed');
select tests.clear_authentication() \gset
-- And again (3): 45, 25 and 5 minutes ago.
select tests.age_shopper(:'hoarder', interval '20 minutes') \gset
select count(*) as sessions_before from public.order_sessions \gset
select id as h5 from public.order_sessions where session_id = :'hoarder' and status = 'active' \gset
select tests.authenticate_as_service_role() \gset
select throws_ok($$ select tests.begin_checkout('fs-hoarder') $$, 'CKH03', null,
  'expiry: the 3rd unpaid expiry within the hour makes the shopper wait (CKH03)');
select is(
  (tests.error_of($$ select tests.begin_checkout('fs-hoarder') $$) ->> 'detail')::jsonb,
  jsonb_build_object('expired_unpaid', 3, 'max', 3, 'window_seconds', 3600,
                     'retry_after', now() - interval '45 minutes' + interval '1 hour'),
  'expiry: CKH03 details say how many, the limit, the window and when to retry (when the oldest leaves the window)'
);
select tests.clear_authentication() \gset
select is((select count(*) from public.order_sessions), :'sessions_before'::bigint, 'expiry: nothing written');
select is((select status::text from public.order_sessions where id = :'h5'), 'active', 'expiry: the expired session was not touched either');
update private.settings set unpaid_expiry_window = interval '40 minutes';
select tests.authenticate_as_service_role() \gset
select lives_ok($$ select tests.begin_checkout('fs-hoarder') $$, 'expiry: once the oldest expiry leaves the window, reserving works again');
select tests.clear_authentication() \gset
update private.settings set unpaid_expiry_window = interval '1 hour';

-- ---------------------------------------------------------------------------
-- The checkout caps (when the settings tighten after the cart was filled)
select tests.fill_cart('fs-big', array[:'va', :'vb', :'vc']::uuid[], array[10, 10, 5]) \gset
select tests.clear_authentication() \gset
update private.settings set max_units_per_checkout = 20;
select tests.authenticate_as_service_role() \gset
select is(
  tests.error_of($$ select tests.begin_checkout('fs-big') $$) - 'message',
  jsonb_build_object('sqlstate', 'CKH02', 'detail', jsonb_build_object('max', 20, 'requested', 25)::text),
  'checkout: 25 units in one checkout is over a cap of 20 (CKH02 with the numbers)'
);
select tests.clear_authentication() \gset
update private.settings set max_units_per_checkout = 30, max_units_per_variant = 8;
select tests.authenticate_as_service_role() \gset
select is(
  (tests.error_of($$ select tests.begin_checkout('fs-big') $$) ->> 'detail')::jsonb,
  jsonb_build_object('max', 8, 'lines', jsonb_build_array(
    jsonb_build_object('variant_id', :'va'::uuid, 'sku', 'FS-A', 'requested', 10),
    jsonb_build_object('variant_id', :'vb'::uuid, 'sku', 'FS-B', 'requested', 10))),
  'checkout: every line over the per-variant cap is named (CKH01)'
);
select tests.clear_authentication() \gset
update private.settings set max_units_per_variant = 10;

-- ---------------------------------------------------------------------------
-- Who holds the most
select tests.authenticate_as_service_role() \gset
select is(
  (select jsonb_agg(h.value -> 'session_id' order by h.n) from jsonb_array_elements(checkout.top_holders(2)) with ordinality h(value, n)),
  jsonb_build_array(:'hoarder'::uuid, :'buyer'::uuid),
  'top_holders: the biggest holder first (the hoarder''s 11 units, then the buyer''s 2), limited'
);
select is(
  (checkout.top_holders(1) -> 0) - 'expires_at',
  jsonb_build_object('session_id', :'hoarder'::uuid, 'units', 11, 'variants', 2, 'unpaid_expiries_last_window', 3),
  'top_holders: units, variants and unpaid expiries of each holder'
);

select * from finish();
rollback;
