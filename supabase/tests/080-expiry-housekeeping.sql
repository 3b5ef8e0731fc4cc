-- Expiry and housekeeping: lazy expiry (availability returns the moment
-- expires_at passes), expire_sessions, purge_carts, trim_sessions, cleanup,
-- and the run_* procedures pg_cron calls. Time is moved by setting
-- timestamps into the past (now() is constant within the transaction).
begin;
\ir helpers/tests.psql
select plan(37);

select tests.create_shopper('ex-ana') as ana, tests.create_shopper('ex-bob') as bob,
       tests.create_shopper('ex-carol') as carol, tests.create_shopper('ex-dan') as dan,
       tests.create_shopper('ex-erin') as erin, tests.create_variant('EX-A', 3, 1000) as va,
       tests.create_variant('EX-B', 10, 1000) as vb \gset

select tests.fill_cart('ex-ana', array[:'va']::uuid[], array[2]),
       tests.fill_cart('ex-bob', array[:'vb']::uuid[], array[1]),
       tests.fill_cart('ex-carol', array[:'va']::uuid[], array[1]),
       tests.fill_cart('ex-dan', array[:'vb']::uuid[], array[1]),
       tests.fill_cart('ex-erin', array[:'vb']::uuid[], array[1]) \gset

select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('ex-ana') ->> 'id' as sa \gset
select s ->> 'id' as sb, s ->> 'token' as tb from tests.begin_checkout('ex-bob') s \gset
select s ->> 'id' as sc, s ->> 'token' as tc from tests.begin_checkout('ex-carol') s \gset
select checkout.apply_payment(tests.payment(:'tc', 'rejected', 1000, 6001)) \gset

-- ---------------------------------------------------------------------------
-- Lazy expiry: availability returns at once
select is(private.available_stock(:'va'), 0, 'before expiry: every unit of EX-A is reserved');
select tests.expire_order_session(:'sa') \gset
select tests.expire_order_session(:'sc') \gset
select is(private.available_stock(:'va'), 3, 'after expires_at passes the units are available, before any cron');
select tests.authenticate_as_anon() \gset
select is(
  (select (v ->> 'available')::integer from jsonb_array_elements(public.get_catalog()) p, jsonb_array_elements(p -> 'variants') v where v ->> 'sku' = 'EX-A'),
  3, 'the catalog shows them available');
select tests.authenticate_as('ex-dan') \gset
select lives_ok(format($$ select public.add_to_cart(%L, 3) $$, :'va'), 'another shopper may add them to a cart');

-- ---------------------------------------------------------------------------
-- expire_sessions: marks, releases, logs; in batches
select tests.authenticate_as_service_role() \gset
select is(checkout.expire_sessions(1), 1, 'expire_sessions: one batch of one');
select is(checkout.expire_sessions(), 1, 'expire_sessions: the next call takes the rest');
select is(checkout.expire_sessions(), 0, 'expire_sessions: nothing left');
select results_eq(
  format($$ select id, status::text, closed_at from public.order_sessions where id in (%L, %L) order by id $$, :'sa', :'sc'),
  format($$ select * from (values (%L::uuid, 'expired', now()), (%L::uuid, 'expired', now())) v order by 1 $$, :'sa', :'sc'),
  'expire_sessions: both sessions past expires_at are expired'
);
select is_empty(format($$ select 1 from checkout.stock_reservations where order_session_id in (%L, %L) $$, :'sa', :'sc'), 'expire_sessions: their reservation rows are deleted');
select is(tests.event_kinds(:'sa'), array['created', 'expired'], 'expire_sessions: logs expired');
select is((select detail ->> 'reason' from checkout.order_session_events where order_session_id = :'sa' and kind = 'expired'), 'reservation time ran out', 'expire_sessions: with a reason');
select results_eq(
  format($$ select s.status::text, r.quantity from public.order_sessions s join checkout.stock_reservations r on r.order_session_id = s.id where s.id = %L $$, :'sb'),
  $$ values ('active', 1) $$,
  'expire_sessions: a session not yet due is untouched'
);

-- ---------------------------------------------------------------------------
-- trim_sessions: old expired/cancelled sessions that never saw a payment
select s ->> 'id' as sd from tests.begin_checkout('ex-dan') s \gset
select checkout.release_session(:'sd') \gset
select s ->> 'id' as se from tests.begin_checkout('ex-erin') s \gset
select checkout.release_session(:'se') \gset
select checkout.apply_payment(tests.payment(:'tb', 'approved', 1000, 6002)) \gset
select tests.clear_authentication() \gset
update public.order_sessions set closed_at = now() - interval '31 days' where id in (:'sa', :'sc', :'sd');
update public.order_sessions set closed_at = now() - interval '10 days' where id = :'se';
update public.order_sessions set closed_at = now() - interval '31 days', paid_at = now() - interval '31 days' where id = :'sb';
select tests.authenticate_as_service_role() \gset
select is(checkout.trim_sessions(), 2, 'trim_sessions: two sessions are old enough and never saw a payment');
select is_empty(format($$ select 1 from public.order_sessions where id in (%L, %L) $$, :'sa', :'sd'), 'trim_sessions: the old expired and the old cancelled session are gone');
select is_empty(format($$ select 1 from checkout.order_session_events where order_session_id in (%L, %L) $$, :'sa', :'sd'), 'trim_sessions: with their event log');
select isnt_empty(format($$ select 1 from public.order_sessions where id = %L $$, :'sc'), 'trim_sessions: an expired session that saw a payment is kept');
select isnt_empty(format($$ select 1 from public.order_sessions where id = %L $$, :'sb'), 'trim_sessions: a paid session (with an order) is kept');
select isnt_empty(format($$ select 1 from public.orders where order_session_id = %L $$, :'sb'), 'trim_sessions: orders are never touched');
select isnt_empty(format($$ select 1 from public.order_sessions where id = %L $$, :'se'), 'trim_sessions: a session closed 10 days ago is kept');
select tests.clear_authentication() \gset
update private.settings set trim_after = interval '5 days';
select tests.authenticate_as_service_role() \gset
select is(checkout.trim_sessions(), 1, 'trim_sessions: trim_after is a setting');
select is_empty(format($$ select 1 from public.order_sessions where id = %L $$, :'se'), 'trim_sessions: with 5 days the 10-day-old session goes');

-- ---------------------------------------------------------------------------
-- purge_carts: carts past expires_at, with their lines, in batches
select tests.set_cart_expiry('ex-ana', now() - interval '1 minute') \gset
select tests.set_cart_expiry('ex-erin', now() - interval '8 days') \gset
select tests.set_cart_expiry('ex-carol', now()) \gset
select is(checkout.purge_carts(1), 1, 'purge_carts: one batch of one');
select is(checkout.purge_carts(), 1, 'purge_carts: the next call takes the rest');
select is(checkout.purge_carts(), 0, 'purge_carts: nothing left');
select is_empty(format($$ select 1 from public.carts where session_id in (%L, %L) $$, :'ana', :'erin'), 'purge_carts: the expired carts are gone');
select is_empty(format($$ select 1 from public.cart_items where session_id in (%L, %L) $$, :'ana', :'erin'), 'purge_carts: with their lines');
select set_eq(
  format($$ select session_id from public.carts where session_id in (%L, %L, %L, %L, %L) $$, :'ana', :'bob', :'carol', :'dan', :'erin'),
  format($$ values (%L::uuid), (%L::uuid), (%L::uuid) $$, :'bob', :'carol', :'dan'),
  'purge_carts: carts not yet past expires_at stay (one expiring exactly now included)'
);
select isnt_empty(format($$ select 1 from public.cart_items where session_id = %L $$, :'dan'), 'purge_carts: the lines of a live cart stay');

-- ---------------------------------------------------------------------------
-- cleanup: all three, with counts
select tests.authenticate_as('ex-dan') \gset
select public.set_cart_item_quantity(:'va', 1) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sold from tests.begin_checkout('ex-dan') s \gset
select checkout.release_session(:'sold') \gset
select s ->> 'id' as sd2 from tests.begin_checkout('ex-dan') s \gset
select tests.expire_order_session(:'sd2') \gset
select tests.set_cart_expiry('ex-bob', now() - interval '1 second') \gset
select tests.clear_authentication() \gset
update public.order_sessions set closed_at = now() - interval '6 days' where id = :'sold';
select tests.authenticate_as_service_role() \gset
select is(
  checkout.cleanup(),
  '{"expired_sessions": 1, "purged_carts": 1, "trimmed_sessions": 1}'::jsonb,
  'cleanup: expires, purges and trims, and says how many of each'
);
select is((select status::text from public.order_sessions where id = :'sd2'), 'expired', 'cleanup: the due session is expired');
select is(checkout.cleanup(), '{"expired_sessions": 0, "purged_carts": 0, "trimmed_sessions": 0}'::jsonb, 'cleanup: a second run finds nothing');

-- ---------------------------------------------------------------------------
-- What the pg_cron jobs loop over (the jobs themselves commit between
-- batches, which a test transaction cannot; tests/db/cron.test.ts runs them)
select is_empty(
  $$ select proname from pg_proc where pronamespace = 'checkout'::regnamespace and prokind = 'p' $$,
  'no procedures: the cron jobs are DO blocks over the batch functions'
);
select s ->> 'id' as sd3 from tests.begin_checkout('ex-dan') s \gset
select tests.expire_order_session(:'sd3') \gset
select is(checkout.expire_sessions(1), 1, 'expire_sessions(1) expires one due session per batch');
select is((select status::text from public.order_sessions where id = :'sd3'), 'expired', 'the batch expired the due session');
select lives_ok($$ select checkout.purge_carts(1) $$, 'purge_carts takes a batch size');
select lives_ok($$ select checkout.trim_sessions(1) $$, 'trim_sessions takes a batch size');
select tests.clear_authentication() \gset
select is_empty(
  $$ select jobname from cron.job where jobname like 'checkout-%' and command ~ 'checkout\.' and command !~ 'loop commit; end loop' $$,
  'every cron job that calls a checkout routine commits between batches'
);

select * from finish();
rollback;
