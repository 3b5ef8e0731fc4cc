-- Fair stock per client address (08_fair_stock.sql):
-- the unpaid checkouts from one address hold at most max_units_per_address
-- units together (CKH05, nothing written); another address is unaffected;
-- expired and paid checkouts do not count; the address is kept only as a
-- keyed hash, an IPv6 address counts by its /64; service role only.
-- (Two checkouts from one address racing: tests/db/concurrency.test.ts.)
begin;
\ir helpers/tests.psql
select plan(24);

update private.settings set max_units_per_address = 10;
select tests.create_variant('CA-A', 100, 1000) \gset
select count(tests.create_shopper(n)) from unnest(array['ca-1', 'ca-2', 'ca-3', 'ca-4', 'ca-other', 'ca-unknown', 'ca-v6a', 'ca-v6b', 'ca-v6c', 'ca-once', 'ca-direct']) n;
-- Each shopper has p units of CA-A in the cart.
create function pg_temp.cart(p_name text, p_units integer) returns void language plpgsql as $$
begin
  perform tests.authenticate_as(p_name);
  perform public.clear_cart();
  perform public.add_to_cart(tests.variant('CA-A'), p_units);
  perform tests.clear_authentication();
end
$$;
-- create-preference's call, as service_role.
create function pg_temp.checkout(p_name text, p_address text) returns jsonb language plpgsql as $$
declare
  r jsonb;
begin
  perform tests.authenticate_as_service_role();
  r := checkout.begin_client_checkout(
    tests.shopper(p_name),
    jsonb_build_object('email', p_name || '@example.com', 'name', p_name),
    '{"street_name": "Av. Corrientes", "street_number": "1234", "zip_code": "1043", "city": "CABA"}'::jsonb,
    null, p_address, false);
  perform tests.clear_authentication();
  return r;
end
$$;
create function pg_temp.active(p_name text) returns integer language sql as $$
  select count(*)::integer from public.order_sessions where session_id = tests.shopper(p_name) and status = 'active'
$$;
grant execute on function pg_temp.cart(text, integer), pg_temp.checkout(text, text), pg_temp.active(text) to public;

select pg_temp.cart('ca-1', 4), pg_temp.cart('ca-2', 5), pg_temp.cart('ca-3', 2), pg_temp.cart('ca-other', 8), pg_temp.cart('ca-unknown', 9);

-- One address: 4 + 5 fit in 10, 2 more do not.
select is((pg_temp.checkout('ca-1', '203.0.113.7') ->> 'item_count')::integer, 4, 'a first checkout from an address');
select is((pg_temp.checkout('ca-2', '203.0.113.7') ->> 'item_count')::integer, 5, 'a second one from it: 9 units held');
select throws_ok($$ select pg_temp.checkout('ca-3', '203.0.113.7') $$, 'CKH05',
  'checkouts from this address already hold 9 units (at most 10), this one asks for 2', 'a third one would hold 11: CKH05');
select is((tests.error_of($$ select pg_temp.checkout('ca-3', '203.0.113.7') $$) ->> 'detail')::jsonb - 'retry_after',
  '{"max": 10, "held": 9, "requested": 2}'::jsonb, 'the detail names the cap, what is held and what was asked');
select is(pg_temp.active('ca-3'), 0, 'the refused checkout wrote nothing');
select is((select reserved from public.variants where id = tests.variant('CA-A')), 9, 'and reserved nothing');

-- Another address, or none, is not capped by it.
select is((pg_temp.checkout('ca-other', '198.51.100.9') ->> 'item_count')::integer, 8, 'another address is unaffected');
select is((pg_temp.checkout('ca-unknown', null) ->> 'item_count')::integer, 9, 'no known address: no per-address cap');
select is((pg_temp.checkout('ca-3', 'not-an-address') ->> 'item_count')::integer, 2, 'garbage for an address: not capped either');

-- The address is kept as a keyed hash, never itself.
select is((select count(*)::integer from public.order_sessions
            where session_id in (tests.shopper('ca-1'), tests.shopper('ca-2')) and client_address ~ '^[0-9a-f]{64}$'), 2,
  'both sessions of the address carry a 64-hex-digit key');
select is((select count(distinct client_address)::integer from public.order_sessions
            where session_id in (tests.shopper('ca-1'), tests.shopper('ca-2'))), 1, 'one key for one address');
select is((select client_address from public.order_sessions where session_id = tests.shopper('ca-unknown')), null,
  'no key without an address');
select isnt((select client_address from public.order_sessions where session_id = tests.shopper('ca-1')),
  encode(extensions.digest('203.0.113.7', 'sha256'), 'hex'), 'the key is not a plain hash of the address (guessable)');

-- The session is written once, with its key (no second row version), and
-- the key is not left behind for a later begin_checkout in the transaction.
select pg_temp.cart('ca-once', 1), pg_temp.cart('ca-direct', 1);
select n_tup_upd as upd_before from pg_stat_xact_user_tables where relid = 'public.order_sessions'::regclass \gset
select pg_temp.checkout('ca-once', '198.51.100.77') is not null as ok \gset
select is((select n_tup_upd from pg_stat_xact_user_tables where relid = 'public.order_sessions'::regclass) - :upd_before, 0::bigint,
  'a first checkout from create-preference inserts its session with the key and updates no session');
select tests.authenticate_as_service_role() \gset
select checkout.begin_checkout(tests.shopper('ca-direct'), '{"email": "direct@example.com"}', '{}') is not null as ok \gset
select tests.clear_authentication() \gset
select is((select client_address from public.order_sessions where session_id = tests.shopper('ca-direct')), null,
  'a begin_checkout after it in the same transaction records no address');

-- Renewing one's own checkout does not count it twice: ca-1 takes 5 instead of 4 (5 + 5 = 10).
select pg_temp.cart('ca-1', 5);
select is((pg_temp.checkout('ca-1', '203.0.113.7') ->> 'item_count')::integer, 5, 'a shopper''s new checkout replaces her own hold');

-- Expired and paid checkouts hold nothing.
select tests.expire_order_session((select id from public.order_sessions where session_id = tests.shopper('ca-1') and status = 'active'));
select pg_temp.cart('ca-3', 5);
select is((pg_temp.checkout('ca-3', '203.0.113.7') ->> 'item_count')::integer, 5, 'once one expired, its units count no more');
select tests.authenticate_as_service_role() \gset
select checkout.apply_payment(tests.payment(
  (select token from public.order_sessions where session_id = tests.shopper('ca-2') and status = 'active'), 'approved', 5000, 9190001)) \gset
select tests.clear_authentication() \gset
select pg_temp.cart('ca-4', 5);
select is((pg_temp.checkout('ca-4', '203.0.113.7') ->> 'item_count')::integer, 5, 'once one was paid, its units count no more');

-- IPv6 by /64; an IPv4-mapped address is the IPv4 one.
select is(private.client_address_key('2001:db8:1:2::a'), private.client_address_key('2001:db8:1:2:ffff::b'), 'one /64, one key');
select isnt(private.client_address_key('2001:db8:1:2::a'), private.client_address_key('2001:db8:1:3::a'), 'another /64, another key');
select is(private.client_address_key('::ffff:203.0.113.7'), private.client_address_key('203.0.113.7'), 'IPv4-mapped is the IPv4 address');
select is(private.client_address_key('203.0.113.0/24'), null, 'a network is not an address');

-- Service role only, and the key's secret is the owner's alone.
select tests.authenticate_as('ca-1') \gset
select throws_ok($$ select checkout.begin_client_checkout(tests.shopper('ca-1'), '{}', '{}', null, '1.2.3.4', false) $$, '42501', null,
  'a shopper cannot call it');
select tests.clear_authentication() \gset
select tests.authenticate_as_service_role() \gset
select throws_ok($$ select secret from private.client_address_secret $$, '42501', null, 'the service role cannot read the secret');

select * from finish();
rollback;
