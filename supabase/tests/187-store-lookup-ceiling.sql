-- The store's ceiling on MercadoPago lookups per minute
-- (06_payments_and_orders.sql): many shoppers, each far within
-- her own budget, together stop at max_return_lookups_per_minute (CKH04 with
-- scope store, nothing counted for anyone); a minute later a fresh window;
-- the shopper's own budget still answers with scope shopper.
begin;
\ir helpers/tests.psql
select plan(9);

delete from checkout.store_return_lookups;
update private.settings set max_return_lookups_per_minute = 3, max_return_lookups_per_hour = 30;
select count(tests.create_shopper('sl-' || i)) from generate_series(1, 5) i;

select tests.authenticate_as_service_role() \gset
select is(checkout.note_return_lookup(tests.shopper('sl-1')), 1, 'a first shopper''s lookup');
select is(checkout.note_return_lookup(tests.shopper('sl-2')), 1, 'a second shopper''s');
select is(checkout.note_return_lookup(tests.shopper('sl-3')), 1, 'a third''s: the store''s ceiling reached');
select throws_ok($$ select checkout.note_return_lookup(tests.shopper('sl-4')) $$, 'CKH04',
  'too many payment lookups in the store right now, try again in a minute',
  'a fourth shopper, within her own budget, is refused: CKH04');
select is((tests.error_of($$ select checkout.note_return_lookup(tests.shopper('sl-5')) $$) ->> 'detail')::jsonb - 'retry_after',
  '{"scope": "store", "max": 3}'::jsonb, 'the detail says it is the store''s ceiling, and names it');
select tests.clear_authentication() \gset
select is((select lookups from checkout.store_return_lookups), 3, 'the refused lookups were not counted for the store');
select is((select count(*)::integer from checkout.return_lookups where session_id in (tests.shopper('sl-4'), tests.shopper('sl-5'))), 0,
  'nor for the shoppers turned away');

-- A minute later, a fresh window.
update checkout.store_return_lookups set window_start = now() - interval '61 seconds';
select tests.authenticate_as_service_role() \gset
select is(checkout.note_return_lookup(tests.shopper('sl-4')), 1, 'a minute later the store may look up again');

-- The shopper's own budget comes first, and says so.
select tests.clear_authentication() \gset
update private.settings set max_return_lookups_per_hour = 1, max_return_lookups_per_minute = 100;
select tests.authenticate_as_service_role() \gset
select is((tests.error_of($$ select checkout.note_return_lookup(tests.shopper('sl-4')) $$) ->> 'detail')::jsonb ->> 'scope', 'shopper',
  'past her own budget: scope shopper');

select * from finish();
rollback;
