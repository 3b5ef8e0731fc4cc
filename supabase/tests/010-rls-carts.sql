-- RLS on carts and cart_items: the owner, another shopper and anon, for
-- every operation.
begin;
\ir helpers/tests.psql
select plan(34);

select tests.create_shopper('rls-ana') as ana, tests.create_shopper('rls-bob') as bob,
       tests.create_shopper('rls-carol') as carol, tests.create_shopper('rls-dave') as dave,
       tests.create_variant('RLS-1', 10) as v1, tests.create_variant('RLS-2', 10) as v2 \gset

select tests.fill_cart('rls-ana', array[:'v1']::uuid[], array[2]),
       tests.fill_cart('rls-bob', array[:'v1']::uuid[], array[1]) \gset
select tests.clear_authentication() \gset
-- A recognisable expiry on bob's cart, to show nobody else's write reached it.
select tests.set_cart_expiry('rls-bob', now() + interval '1 day') \gset

-- ---------------------------------------------------------------------------
-- carts, as the owner and as another shopper
select tests.authenticate_as('rls-ana') \gset

select results_eq(
  $$ select session_id from public.carts $$,
  format($$ values (%L::uuid) $$, :'ana'),
  'carts: a shopper sees exactly her own cart'
);
select is_empty(
  format($$ select 1 from public.carts where session_id = %L $$, :'bob'),
  'carts: another shopper''s cart is hidden'
);
select is(
  tests.rows_affected(format($$ update public.carts set updated_at = now() where session_id = %L $$, :'ana')),
  1,
  'carts: the owner may update (touch) her cart'
);
select is(
  tests.rows_affected(format($$ update public.carts set updated_at = now() - interval '1 year' where session_id = %L $$, :'bob')),
  0,
  'carts: an update of another shopper''s cart touches no row'
);
select throws_ok(
  format($$ insert into public.carts (session_id) values (%L) $$, :'dave'),
  '42501',
  'new row violates row-level security policy for table "carts"',
  'carts: a shopper cannot create a cart for someone else'
);
select throws_ok(
  format($$ update public.carts set session_id = %L where session_id = %L $$, :'dave', :'ana'),
  '42501',
  'permission denied for table carts',
  'carts: a cart cannot be handed to another shopper (no UPDATE on session_id)'
);
select throws_ok(
  format($$ delete from public.carts where session_id = %L $$, :'ana'),
  '42501',
  'permission denied for table carts',
  'carts: shoppers cannot delete carts (clear_cart empties it instead)'
);

select tests.authenticate_as('rls-carol') \gset
select lives_ok(
  format($$ insert into public.carts (session_id) values (%L) $$, :'carol'),
  'carts: a shopper may create her own cart'
);
select results_eq(
  $$ select session_id from public.carts $$,
  format($$ values (%L::uuid) $$, :'carol'),
  'carts: the new cart is visible to its owner only'
);

select tests.clear_authentication() \gset
select is(
  (select expires_at from public.carts where session_id = :'bob'),
  now() + interval '1 day',
  'carts: bob''s cart was not touched by the others'
);

-- ---------------------------------------------------------------------------
-- cart_items, as the owner and as another shopper
select tests.authenticate_as('rls-ana') \gset

select results_eq(
  $$ select session_id, variant_id, quantity from public.cart_items $$,
  format($$ values (%L::uuid, %L::uuid, 2) $$, :'ana', :'v1'),
  'cart_items: a shopper sees exactly her own lines'
);
select is_empty(
  format($$ select 1 from public.cart_items where session_id = %L $$, :'bob'),
  'cart_items: another shopper''s lines are hidden'
);
select lives_ok(
  format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'ana', :'v2'),
  'cart_items: the owner may insert a line in her cart'
);
select throws_ok(
  format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'bob', :'v2'),
  '42501',
  'new row violates row-level security policy for table "cart_items"',
  'cart_items: a shopper cannot insert a line in another cart'
);
select is(
  tests.rows_affected(format($$ update public.cart_items set quantity = 3 where session_id = %L and variant_id = %L $$, :'ana', :'v1')),
  1,
  'cart_items: the owner may update her line'
);
select is(
  tests.rows_affected(format($$ update public.cart_items set quantity = 5 where session_id = %L $$, :'bob')),
  0,
  'cart_items: an update of another shopper''s line touches no row'
);
select throws_ok(
  format($$ update public.cart_items set session_id = %L where session_id = %L and variant_id = %L $$, :'bob', :'ana', :'v1'),
  '42501',
  'permission denied for table cart_items',
  'cart_items: a line cannot be moved into another cart (no UPDATE on session_id)'
);
select is(
  tests.rows_affected(format($$ delete from public.cart_items where session_id = %L $$, :'bob')),
  0,
  'cart_items: a delete of another shopper''s lines touches no row'
);
select is(
  tests.rows_affected(format($$ delete from public.cart_items where session_id = %L and variant_id = %L $$, :'ana', :'v2')),
  1,
  'cart_items: the owner may delete her line'
);
select results_eq(
  $$ select variant_id, quantity from public.cart_items $$,
  format($$ values (%L::uuid, 3) $$, :'v1'),
  'cart_items: the owner''s lines reflect her own update and delete'
);

select tests.clear_authentication() \gset
select results_eq(
  format($$ select variant_id, quantity from public.cart_items where session_id = %L $$, :'bob'),
  format($$ values (%L::uuid, 1) $$, :'v1'),
  'cart_items: bob''s line is unchanged after ana''s attempts'
);

-- ---------------------------------------------------------------------------
-- anon: no access at all
select tests.authenticate_as_anon() \gset

select throws_ok($$ select 1 from public.carts $$, '42501', 'permission denied for table carts', 'carts: anon cannot select');
select throws_ok(format($$ insert into public.carts (session_id) values (%L) $$, :'dave'), '42501', 'permission denied for table carts', 'carts: anon cannot insert');
select throws_ok($$ update public.carts set updated_at = now() $$, '42501', 'permission denied for table carts', 'carts: anon cannot update');
select throws_ok($$ delete from public.carts $$, '42501', 'permission denied for table carts', 'carts: anon cannot delete');
select throws_ok($$ select 1 from public.cart_items $$, '42501', 'permission denied for table cart_items', 'cart_items: anon cannot select');
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'bob', :'v2'), '42501', 'permission denied for table cart_items', 'cart_items: anon cannot insert');
select throws_ok($$ update public.cart_items set quantity = 1 $$, '42501', 'permission denied for table cart_items', 'cart_items: anon cannot update');
select throws_ok($$ delete from public.cart_items $$, '42501', 'permission denied for table cart_items', 'cart_items: anon cannot delete');

-- An authenticated request whose JWT carries no user sees nothing either.
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"role": "authenticated"}', true) \gset
select is_empty($$ select 1 from public.carts $$, 'carts: a request without a user sees no cart');
select is_empty($$ select 1 from public.cart_items $$, 'cart_items: a request without a user sees no line');

-- The service role (Edge Functions, cron) sees every cart.
select tests.authenticate_as_service_role() \gset
select is(
  (select count(*)::integer from public.carts where session_id in (:'ana', :'bob', :'carol')),
  3,
  'carts: service_role sees every cart'
);
select is(
  (select count(*)::integer from public.cart_items where session_id in (:'ana', :'bob')),
  2,
  'cart_items: service_role sees every line'
);

select tests.clear_authentication() \gset
select results_eq(
  format($$ select session_id, variant_id, quantity from public.cart_items where session_id in (%L, %L) order by quantity $$, :'ana', :'bob'),
  format($$ values (%L::uuid, %L::uuid, 1), (%L::uuid, %L::uuid, 3) $$, :'bob', :'v1', :'ana', :'v1'),
  'cart_items: final state is exactly the owners'' own writes'
);

select * from finish();
rollback;
