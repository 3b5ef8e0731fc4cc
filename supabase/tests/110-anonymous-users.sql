-- Hosted hygiene: anonymous Auth users idle past anonymous_user_ttl with
-- nothing live are removed; everything they bought stays. Idleness is made
-- by moving the users' timestamps into the past.
begin;
\ir helpers/tests.psql
select plan(12);

select tests.create_shopper('anon-gone') as gone, tests.create_shopper('anon-live-cart') as live_cart,
       tests.create_shopper('anon-stale-cart') as stale_cart,
       tests.create_shopper('anon-checking-out') as checking_out, tests.create_shopper('anon-refreshed') as refreshed,
       tests.create_shopper('anon-recent') as recent, tests.create_shopper('anon-bought') as bought,
       tests.create_shopper('permanent') as permanent \gset
update auth.users set is_anonymous = false, email = 'someone@example.com' where id = :'permanent';
select tests.create_variant('ANON-A', 10, 1000) as va \gset

select tests.fill_cart('anon-live-cart', array[:'va']::uuid[], array[1]),
       tests.fill_cart('anon-stale-cart', array[:'va']::uuid[], array[1]),
       tests.fill_cart('anon-checking-out', array[:'va']::uuid[], array[1]),
       tests.fill_cart('anon-bought', array[:'va']::uuid[], array[1]) \gset
select tests.clear_authentication() \gset

select tests.authenticate_as_service_role() \gset
select tests.begin_checkout('anon-checking-out') ->> 'id' as active_session \gset
select tests.begin_checkout('anon-bought') ->> 'id' as old_session \gset
select checkout.release_session(:'old_session', 'test: an old, closed checkout') \gset
select tests.clear_authentication() \gset
select tests.set_cart_expiry('anon-stale-cart', now() - interval '1 day');
select tests.set_cart_expiry('anon-bought', now() - interval '1 day');

-- Everyone but the recent one was last seen 40 days ago.
update auth.users set created_at = now() - interval '40 days', updated_at = now() - interval '40 days',
                      last_sign_in_at = now() - interval '40 days'
 where id <> :'recent';
-- A token refresh a day ago counts as activity.
insert into auth.sessions (id, user_id, created_at, updated_at)
values (gen_random_uuid(), :'refreshed', now() - interval '40 days', now() - interval '1 day');

select tests.authenticate_as_service_role() \gset
select is(checkout.purge_anonymous_users(100), 3, 'purge: the idle anonymous users with nothing live are removed (3)');
select tests.clear_authentication() \gset

select ok(not exists (select 1 from auth.users where id = :'gone'), 'purge: idle, no cart: removed');
select ok(not exists (select 1 from auth.users where id = :'stale_cart'), 'purge: idle with an expired cart: removed');
select ok(not exists (select 1 from public.carts where session_id = :'stale_cart'), 'purge: the expired cart goes with its user');
select ok(not exists (select 1 from auth.users where id = :'bought'), 'purge: idle after a closed checkout: removed');
select ok(exists (select 1 from public.order_sessions where id = :'old_session'), 'purge: the removed shopper''s order sessions stay');
select ok(exists (select 1 from auth.users where id = :'live_cart'), 'purge: a cart that has not expired keeps its user');
select ok(exists (select 1 from auth.users where id = :'checking_out'), 'purge: an active order session keeps its user');
select ok(exists (select 1 from auth.users where id = :'refreshed'), 'purge: a recent token refresh keeps the user');
select ok(exists (select 1 from auth.users where id = :'recent'), 'purge: a recent anonymous user stays');
select ok(exists (select 1 from auth.users where id = :'permanent'), 'purge: permanent users are never touched');

select tests.authenticate_as_service_role() \gset
select is(checkout.purge_anonymous_users(100), 0, 'purge: a second run removes nothing more');

select * from finish();
rollback;
