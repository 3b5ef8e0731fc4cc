-- begin_checkout's turns (05_checkout.sql): each
-- checkout holds, until it ends, one slot per variant (a transaction-level
-- advisory lock, keys hashtext of the variant id and the slot), a free one
-- from the next ticket on; it leaves the variant's line (a session-level
-- advisory lock, keys hashtext and -1) before it goes on; a long cart takes
-- slots for its 8 variants with the fewest units left. The waiting itself,
-- the order of the line, a short cart that does not wait and a wait cut
-- short that leaves nothing held are in tests/db/concurrency.test.ts.
begin;
\ir helpers/tests.psql
select plan(16);

-- The slots this backend holds, as (variant id, slot).
create function tests.held_slots()
returns table (variant_id uuid, slot integer)
language sql
set search_path = ''
as $$
  select v.id, l.objid::integer
    from pg_catalog.pg_locks l
    join public.variants v on l.classid::bigint = (pg_catalog.hashtext(v.id::text)::bigint + 4294967296) % 4294967296
   where l.pid = pg_catalog.pg_backend_pid() and l.locktype = 'advisory' and l.objsubid = 2 and l.granted
$$;
grant execute on function tests.held_slots() to anon, authenticated, service_role;

select col_default_is('private', 'settings', 'checkout_slots_per_variant', '8', 'eight checkouts of a variant run at once by default');
select throws_ok($$ update private.settings set checkout_slots_per_variant = 0 $$, '23514', null, 'at least one slot');
select throws_ok($$ update private.settings set checkout_slots_per_variant = 1001 $$, '23514', null, 'at most 1000');
select sequence_privs_are('checkout', 'admission_tickets', 'service_role', array[]::text[], 'the tickets are begin_checkout''s alone (service_role)');
select sequence_privs_are('checkout', 'admission_tickets', 'authenticated', array[]::text[], 'the tickets are begin_checkout''s alone (authenticated)');
select function_privs_are('private', 'wait_checkout_turn', array['uuid', 'integer', 'integer'], 'service_role', array[]::text[], 'the turn is begin_checkout''s alone (service_role)');
select function_privs_are('private', 'wait_checkout_turn', array['uuid', 'integer', 'integer'], 'authenticated', array[]::text[], 'the turn is begin_checkout''s alone (authenticated)');

select tests.create_shopper('ad-ana') as ana, tests.create_shopper('ad-bob') as bob,
       tests.create_shopper('ad-cid') as cid, tests.create_shopper('ad-eve') as eve,
       tests.create_shopper('ad-dan') as dan, tests.create_variant('AD-HOT', 100, 100) as vhot,
       tests.create_variant('AD-ONE', 100, 100) as vone \gset
-- Ten variants with 11 to 20 units.
select array_agg(tests.create_variant('AD-LONG-' || lpad(n::text, 2, '0'), 10 + n, 100) order by n) as longs
  from generate_series(1, 10) n \gset
select tests.fill_cart('ad-ana', array[:'vhot']::uuid[], array[1]),
       tests.fill_cart('ad-bob', array[:'vhot']::uuid[], array[1]),
       tests.fill_cart('ad-cid', array[:'vone']::uuid[], array[1]),
       tests.fill_cart('ad-eve', array[:'vone']::uuid[], array[1]) \gset
select tests.authenticate_as('ad-dan') \gset
select count(public.add_to_cart(v, 1)) as added from unnest(:'longs'::uuid[]) v \gset
select tests.clear_authentication() \gset
select tests.authenticate_as_service_role() \gset

-- 1. One slot of the variant, held until the transaction ends.
select (tests.begin_checkout('ad-ana') ->> 'id') as sa \gset
select results_eq(
  format($$ select variant_id, count(*)::integer from tests.held_slots() where variant_id = %L group by 1 $$, :'vhot'),
  format($$ values (%L::uuid, 1) $$, :'vhot'),
  'a checkout holds one admission slot of its variant until its transaction ends');
select ok((select slot between 0 and 7 from tests.held_slots() where variant_id = :'vhot'), 'numbered below checkout_slots_per_variant');
select is(
  (select count(*)::integer from pg_locks where pid = pg_backend_pid() and locktype = 'advisory' and objsubid = 2 and objid = 4294967295),
  0, 'and no place in a line is held once the checkout has its slot');

-- 2. The next checkout takes the next slot (the ticket in turn).
select slot as first_slot from tests.held_slots() where variant_id = :'vhot' \gset
select (tests.begin_checkout('ad-bob') ->> 'id') as sb \gset
select set_eq(
  format($$ select slot from tests.held_slots() where variant_id = %L $$, :'vhot'),
  format($$ values (%s), ((%s + 1) %% 8) $$, :first_slot, :first_slot),
  'the next checkout of the variant takes the next slot');

-- 3. With checkout_slots_per_variant = 1, every checkout takes slot 0
--    (two in a row would take two slots out of 8).
reset role;
update private.settings set checkout_slots_per_variant = 1;
select tests.authenticate_as_service_role() \gset
select (tests.begin_checkout('ad-cid') ->> 'id') as sc \gset
select (tests.begin_checkout('ad-eve') ->> 'id') as se \gset
select set_eq(
  format($$ select slot from tests.held_slots() where variant_id = %L $$, :'vone'),
  $$ values (0) $$,
  'with one slot per variant, every checkout waits for slot 0');
reset role;
update private.settings set checkout_slots_per_variant = 8;
select tests.authenticate_as_service_role() \gset

-- 4. A long cart: slots for its 8 variants with the fewest units left, not all 10.
select lives_ok($$ select tests.begin_checkout('ad-dan') $$, 'a ten-line cart checks out');
select results_eq(
  $$ select v.sku from tests.held_slots() h join public.variants v on v.id = h.variant_id where v.sku like 'AD-LONG-%' order by v.sku $$,
  $$ select 'AD-LONG-' || lpad(n::text, 2, '0') from generate_series(1, 8) n $$,
  'and holds slots for its 8 variants with the fewest units left (11 to 18), not for the other 2');
select is(
  (select count(*)::integer from checkout.stock_reservations r join public.order_sessions s on s.id = r.order_session_id
    where s.session_id = :'dan' and s.status = 'active'),
  10, 'all 10 lines are reserved all the same');

-- 5. The turn itself: returns the slot it holds.
reset role;
select private.wait_checkout_turn(:'vone', 4, null) as turn \gset
select ok(:turn in (select slot from tests.held_slots() where variant_id = :'vone'), 'wait_checkout_turn returns the slot it holds');

select * from finish();
rollback;
