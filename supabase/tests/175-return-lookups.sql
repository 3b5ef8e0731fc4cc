-- The buyer's return has a budget of MercadoPago lookups per shopper per hour
-- (06_payments_and_orders.sql): counted one by one, refused past
-- max_return_lookups_per_hour (CKH04, nothing counted), a fresh window after
-- an hour, per shopper, service role only.
begin;
\ir helpers/tests.psql
select plan(10);

select tests.create_shopper('rl-ana') as ana, tests.create_shopper('rl-bob') as bob \gset
update private.settings set max_return_lookups_per_hour = 3;

select tests.authenticate_as('rl-ana') \gset
select throws_ok($$ select checkout.note_return_lookup(tests.shopper('rl-ana')) $$, '42501', null,
  'a shopper cannot count lookups herself');
select tests.clear_authentication() \gset
select tests.authenticate_as_service_role() \gset

select is(checkout.note_return_lookup(:'ana'), 1, 'the first lookup of the hour');
select is(checkout.note_return_lookup(:'ana'), 2, 'the second');
select is(checkout.note_return_lookup(:'ana'), 3, 'the third, the budget');
select throws_ok($$ select checkout.note_return_lookup(tests.shopper('rl-ana')) $$, 'CKH04', 'too many payment lookups, try again later',
  'past the budget: CKH04');
select is((select lookups from checkout.return_lookups where session_id = :'ana'), 3, 'a refused lookup is not counted');
select is((tests.error_of($$ select checkout.note_return_lookup(tests.shopper('rl-ana')) $$) ->> 'detail')::jsonb ->> 'max', '3',
  'the detail names the budget');
select is(checkout.note_return_lookup(:'bob'), 1, 'another shopper has a budget of his own');

-- An hour later, a fresh window.
select tests.clear_authentication() \gset
update checkout.return_lookups set window_start = now() - interval '61 minutes' where session_id = :'ana';
select tests.authenticate_as_service_role() \gset
select is(checkout.note_return_lookup(:'ana'), 1, 'an hour later the count starts again');
select throws_ok($$ select checkout.note_return_lookup(null) $$, 'CKI01', 'session id is required', 'no shopper: CKI01');

select * from finish();
rollback;
