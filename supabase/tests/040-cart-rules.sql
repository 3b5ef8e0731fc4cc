-- Cart rules: the RPCs (add/merge/set/remove/clear), every error with its
-- SQLSTATE and message and nothing written after it, availability against
-- other shoppers' reservations (lazy expiry), the sliding expiry, and the same
-- rules for direct writes through the table.
begin;
\ir helpers/tests.psql
select plan(77);

select tests.create_shopper('cr-ana') as ana, tests.create_shopper('cr-bob') as bob,
       tests.create_shopper('cr-carol') as carol, tests.create_shopper('cr-dan') as dan,
       tests.create_variant('CR-A', 5, 1000) as va, tests.create_variant('CR-B', 10, 250.50) as vb,
       tests.create_variant('CR-USD', 5, 20, 'USD') as vusd, tests.create_variant('CR-OFF', 5) as voff,
       tests.create_variant('CR-OFFP', 5) as voffp, tests.create_variant('CR-RES', 3) as vres \gset
select gen_random_uuid() as vnone \gset
update public.variants set active = false where id = :'voff';
update public.products set active = false where id = (select product_id from public.variants where id = :'voffp');

-- ---------------------------------------------------------------------------
-- The happy paths
select tests.authenticate_as('cr-ana') \gset

select public.add_to_cart(:'va', 2) as c \gset
select is((:'c'::jsonb ->> 'item_count')::integer, 2, 'add_to_cart: returns the cart with the units added');
select is(:'c'::jsonb -> 'lines' -> 0 ->> 'unit_price', '1000.00', 'add_to_cart: the line has the database unit price');
select is((:'c'::jsonb -> 'lines' -> 0 ->> 'line_total')::numeric, 2000.00, 'add_to_cart: the line total is price x quantity');
select is(:'c'::jsonb ->> 'expires_at', to_jsonb(now() + interval '7 days') #>> '{}', 'add_to_cart: the cart expires 7 days from now');

select public.add_to_cart(:'va', 1) as c \gset
select is(jsonb_array_length(:'c'::jsonb -> 'lines'), 1, 'add_to_cart: adding the same variant merges into one line');
select is((:'c'::jsonb -> 'lines' -> 0 ->> 'quantity')::integer, 3, 'add_to_cart: the merged line holds the sum');

select public.add_to_cart(:'vb') as c \gset
select is((:'c'::jsonb ->> 'item_count')::integer, 4, 'add_to_cart: the quantity defaults to 1');
select is((:'c'::jsonb ->> 'subtotal')::numeric, 3250.50, 'add_to_cart: the subtotal sums the lines');
select is(:'c'::jsonb ->> 'currency', 'ARS', 'add_to_cart: the cart has the currency of its lines');

select is(public.get_cart(), :'c'::jsonb, 'get_cart: returns the same cart');

select public.set_cart_item_quantity(:'vb', 4) as c \gset
select is(
  (select (l ->> 'quantity')::integer from jsonb_array_elements(:'c'::jsonb -> 'lines') l where l ->> 'sku' = 'CR-B'),
  4, 'set_cart_item_quantity: sets (not adds) the quantity');
select public.set_cart_item_quantity(:'vb', 0) as c \gset
select is(
  (select count(*)::integer from jsonb_array_elements(:'c'::jsonb -> 'lines') l where l ->> 'sku' = 'CR-B'),
  0, 'set_cart_item_quantity: 0 removes the line');
select public.set_cart_item_quantity(:'vb', 2) as c \gset
select is(
  (select (l ->> 'quantity')::integer from jsonb_array_elements(:'c'::jsonb -> 'lines') l where l ->> 'sku' = 'CR-B'),
  2, 'set_cart_item_quantity: creates a missing line');
select public.remove_from_cart(:'vb') as c \gset
select is(
  (select array_agg(l ->> 'sku') from jsonb_array_elements(:'c'::jsonb -> 'lines') l),
  array['CR-A'], 'remove_from_cart: removes the line');
select lives_ok(format($$ select public.remove_from_cart(%L) $$, :'vb'), 'remove_from_cart: a missing line is no error');
select public.clear_cart() as c \gset
select is(:'c'::jsonb -> 'lines', '[]'::jsonb, 'clear_cart: no line left');
select is((:'c'::jsonb ->> 'item_count')::integer, 0, 'clear_cart: no unit left');
select is((:'c'::jsonb ->> 'subtotal')::numeric, 0::numeric, 'clear_cart: subtotal 0');
select isnt_empty(format($$ select 1 from public.carts where session_id = %L $$, :'ana'), 'clear_cart: the cart itself remains');

-- ---------------------------------------------------------------------------
-- Errors: each with its SQLSTATE and message, and nothing written.
select public.add_to_cart(:'va', 2) \gset
-- A recognisable expiry: a failed call that wrote anything would slide it.
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select tests.cart_state('cr-ana') as s0 \gset

select throws_ok(format($$ select public.add_to_cart(%L, 0) $$, :'va'), 'CKQ01', 'quantity must be between 1 and 99, got 0', 'add_to_cart: quantity 0 is refused');
select throws_ok(format($$ select public.add_to_cart(%L, -1) $$, :'va'), 'CKQ01', 'quantity must be between 1 and 99, got -1', 'add_to_cart: a negative quantity is refused');
select throws_ok(format($$ select public.add_to_cart(%L, null) $$, :'va'), 'CKQ01', 'quantity must be between 1 and 99, got null', 'add_to_cart: a null quantity is refused');
select throws_ok(format($$ select public.add_to_cart(%L, 100) $$, :'va'), 'CKQ01', 'quantity must be between 1 and 99, got 100', 'add_to_cart: more than the maximum is refused');
select throws_ok(format($$ select public.add_to_cart(%L, 2147483647) $$, :'va'), 'CKQ01', 'quantity must be between 1 and 99, got 2147483647', 'add_to_cart: a huge quantity is refused');
select throws_ok(format($$ select public.set_cart_item_quantity(%L, -1) $$, :'va'), 'CKQ01', 'quantity must be between 0 and 99, got -1', 'set_cart_item_quantity: a negative quantity is refused');
select throws_ok(format($$ select public.set_cart_item_quantity(%L, 100) $$, :'va'), 'CKQ01', 'quantity must be between 0 and 99, got 100', 'set_cart_item_quantity: more than the maximum is refused');

-- The maximum is a setting.
select tests.clear_authentication() \gset
update private.settings set max_line_quantity = 3;
select tests.authenticate_as('cr-ana') \gset
select throws_ok(format($$ select public.add_to_cart(%L, 4) $$, :'va'), 'CKQ01', 'quantity must be between 1 and 3, got 4', 'add_to_cart: max_line_quantity is honoured');
select throws_ok(format($$ select public.add_to_cart(%L, 2) $$, :'va'), 'CKQ01', 'quantity of CR-A must be between 1 and 3, got 4', 'add_to_cart: a merge beyond max_line_quantity is refused');
select throws_ok(format($$ select public.set_cart_item_quantity(%L, 4) $$, :'va'), 'CKQ01', 'quantity must be between 0 and 3, got 4', 'set_cart_item_quantity: max_line_quantity is honoured');
select tests.clear_authentication() \gset
update private.settings set max_line_quantity = 99;
select tests.authenticate_as('cr-ana') \gset

select throws_ok(format($$ select public.add_to_cart(%L, 1) $$, :'vnone'), 'CKV01', format('unknown variant %s', :'vnone'), 'add_to_cart: an unknown variant is refused');
select throws_ok(format($$ select public.set_cart_item_quantity(%L, 1) $$, :'vnone'), 'CKV01', format('unknown variant %s', :'vnone'), 'set_cart_item_quantity: an unknown variant is refused');
select throws_ok($$ select public.add_to_cart(null, 1) $$, 'CKV01', 'variant is required', 'add_to_cart: a null variant is refused');
select throws_ok(format($$ select public.add_to_cart(%L, 1) $$, :'voff'), 'CKV01', 'variant CR-OFF is not for sale', 'add_to_cart: an inactive variant is refused');
select throws_ok(format($$ select public.add_to_cart(%L, 1) $$, :'voffp'), 'CKV01', 'variant CR-OFFP is not for sale', 'add_to_cart: a variant of an inactive product is refused');

select throws_ok(format($$ select public.add_to_cart(%L, 4) $$, :'va'), 'CKS01', 'only 5 of CR-A available, 6 requested', 'add_to_cart: a merge beyond the stock is refused, naming the SKU and the available quantity');
select throws_ok(format($$ select public.add_to_cart(%L, 11) $$, :'vb'), 'CKS01', 'only 10 of CR-B available, 11 requested', 'add_to_cart: more than the stock is refused');
select throws_ok(format($$ select public.set_cart_item_quantity(%L, 6) $$, :'va'), 'CKS01', 'only 5 of CR-A available, 6 requested', 'set_cart_item_quantity: more than the stock is refused');
select is(
  (tests.error_of(format($$ select public.add_to_cart(%L, 4) $$, :'va')) ->> 'detail')::jsonb,
  jsonb_build_object('variant_id', :'va'::uuid, 'sku', 'CR-A', 'requested', 6, 'available', 5),
  'CKS01: the detail is JSON with the variant, SKU, requested and available quantities');

select throws_ok(format($$ select public.add_to_cart(%L, 1) $$, :'vusd'), 'CKM01', 'CR-USD is priced in USD but the cart is in ARS', 'add_to_cart: mixing currencies is refused');

select is(tests.cart_state('cr-ana'), :'s0'::jsonb, 'after every refused call the cart is exactly as before (lines and expiry)');

-- A shopper without a cart: a refused add creates no cart.
select tests.authenticate_as('cr-dan') \gset
select throws_ok(format($$ select public.add_to_cart(%L, 6) $$, :'va'), 'CKS01', 'only 5 of CR-A available, 6 requested', 'add_to_cart: refused for a new shopper');
select is(tests.cart_state('cr-dan'), '{"cart": null, "items": []}'::jsonb, 'a refused first add leaves no cart behind');

-- No user in the JWT: 42501.
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"role": "authenticated"}', true) \gset
select throws_ok($$ select public.get_cart() $$, '42501', 'no shopper session: sign in (anonymously) first', 'get_cart: refused without a user');
select throws_ok(format($$ select public.add_to_cart(%L, 1) $$, :'va'), '42501', 'no shopper session: sign in (anonymously) first', 'add_to_cart: refused without a user');
select throws_ok(format($$ select public.set_cart_item_quantity(%L, 1) $$, :'va'), '42501', 'no shopper session: sign in (anonymously) first', 'set_cart_item_quantity: refused without a user');
select throws_ok(format($$ select public.remove_from_cart(%L) $$, :'va'), '42501', 'no shopper session: sign in (anonymously) first', 'remove_from_cart: refused without a user');
select throws_ok($$ select public.clear_cart() $$, '42501', 'no shopper session: sign in (anonymously) first', 'clear_cart: refused without a user');

-- ---------------------------------------------------------------------------
-- Availability counts other shoppers' unexpired reservations only.
select tests.fill_cart('cr-bob', array[:'vres']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as bob_os from tests.begin_checkout('cr-bob') s \gset

select tests.authenticate_as('cr-ana') \gset
select throws_ok(format($$ select public.add_to_cart(%L, 2) $$, :'vres'), 'CKS01', 'only 1 of CR-RES available, 2 requested', 'add_to_cart: another shopper''s reservation is not available');
select public.add_to_cart(:'vres', 1) as c \gset
select is(
  (select (l ->> 'available')::integer from jsonb_array_elements(:'c'::jsonb -> 'lines') l where l ->> 'sku' = 'CR-RES'),
  1, 'get_cart: a line shows the units available now');
select tests.expire_order_session(:'bob_os') \gset
select lives_ok(format($$ select public.add_to_cart(%L, 2) $$, :'vres'), 'add_to_cart: an expired reservation is free at once, cron or not');
select is(
  (select quantity from public.cart_items where session_id = :'ana' and variant_id = :'vres'),
  3, 'the line now holds all 3 units');

-- ---------------------------------------------------------------------------
-- The sliding expiry: every RPC read or write sets expires_at = now + cart_ttl.
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select public.get_cart() as c \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '7 days', 'get_cart: reading slides the expiry');
select is((:'c'::jsonb ->> 'expires_at')::timestamptz, now() + interval '7 days', 'get_cart: the returned cart shows the new expiry');
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select public.add_to_cart(:'vb', 1) \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '7 days', 'add_to_cart: slides the expiry');
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select public.set_cart_item_quantity(:'vb', 2) \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '7 days', 'set_cart_item_quantity: slides the expiry');
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select public.remove_from_cart(:'vb') \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '7 days', 'remove_from_cart: slides the expiry');
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select public.clear_cart() \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '7 days', 'clear_cart: slides the expiry');

select tests.clear_authentication() \gset
update private.settings set cart_ttl = interval '2 days';
select tests.authenticate_as('cr-ana') \gset
select public.get_cart() \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '2 days', 'the expiry follows the cart_ttl setting');
select tests.clear_authentication() \gset
update private.settings set cart_ttl = interval '7 days';
select tests.authenticate_as('cr-ana') \gset

-- The client cannot choose it: shoppers hold no column privilege on
-- expires_at or created_at (42501); what they may write, the trigger stamps.
select throws_ok(format($$ update public.carts set expires_at = now() + interval '10 years' where session_id = %L $$, :'ana'),
  '42501', 'permission denied for table carts', 'a direct update of expires_at is refused');
select throws_ok(format($$ update public.carts set created_at = now() - interval '1 year' where session_id = %L $$, :'ana'),
  '42501', 'permission denied for table carts', 'a direct update of created_at is refused');
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '2 days', 'the expiry is unchanged (the trigger''s, from the cart_ttl above)');
select tests.authenticate_as('cr-carol') \gset
select throws_ok(format($$ insert into public.carts (session_id, expires_at) values (%L, now() + interval '10 years') $$, :'carol'),
  '42501', 'permission denied for table carts', 'a direct insert cannot choose expires_at');
select tests.rows_affected(format($$ insert into public.carts (session_id) values (%L) $$, :'carol')) \gset
select is((select expires_at from public.carts where session_id = :'carol'), now() + interval '7 days', 'a direct insert gets the trigger''s expiry');

-- ---------------------------------------------------------------------------
-- Direct writes to cart_items obey the same rules (trigger).
select tests.authenticate_as('cr-ana') \gset
select public.clear_cart() \gset
select public.add_to_cart(:'va', 2) \gset
select tests.cart_state('cr-ana') as s1 \gset
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 0) $$, :'ana', :'vb'),
  'CKQ01', 'quantity of CR-B must be between 1 and 99, got 0', 'direct insert: quantity 0 is refused');
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 100) $$, :'ana', :'vb'),
  'CKQ01', 'quantity of CR-B must be between 1 and 99, got 100', 'direct insert: more than the maximum is refused');
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 11) $$, :'ana', :'vb'),
  'CKS01', 'only 10 of CR-B available, 11 requested', 'direct insert: more than the stock is refused');
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'ana', :'vnone'),
  'CKV01', format('unknown variant %s', :'vnone'), 'direct insert: an unknown variant is refused');
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'ana', :'voff'),
  'CKV01', 'variant CR-OFF is not for sale', 'direct insert: an inactive variant is refused');
select throws_ok(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'ana', :'vusd'),
  'CKM01', 'CR-USD is priced in USD but the cart is in ARS', 'direct insert: mixing currencies is refused');
select throws_ok(format($$ update public.cart_items set quantity = 6 where session_id = %L and variant_id = %L $$, :'ana', :'va'),
  'CKS01', 'only 5 of CR-A available, 6 requested', 'direct update: growing beyond the stock is refused');
select throws_ok(format($$ update public.cart_items set quantity = 100 where session_id = %L and variant_id = %L $$, :'ana', :'va'),
  'CKQ01', 'quantity of CR-A must be between 1 and 99, got 100', 'direct update: growing beyond the maximum is refused');
select throws_ok(format($$ update public.cart_items set variant_id = %L where session_id = %L and variant_id = %L $$, :'vb', :'ana', :'va'),
  '42501', 'permission denied for table cart_items', 'direct update: a line cannot change variant (no column privilege)');
select is(tests.cart_state('cr-ana'), :'s1'::jsonb, 'after every refused direct write the cart is exactly as before');
select is(
  tests.rows_affected(format($$ update public.cart_items set quantity = 1 where session_id = %L and variant_id = %L $$, :'ana', :'va')),
  1, 'direct update: lowering a quantity is allowed');

-- BUG: a direct write to cart_items (allowed by the grants and policies) does
-- not slide carts.expires_at, although "every cart read or write" must; an
-- idle-looking cart is then purged with the lines the shopper just wrote.
select tests.set_cart_expiry('cr-ana', now() + interval '1 hour') \gset
select tests.rows_affected(format($$ insert into public.cart_items (session_id, variant_id, quantity) values (%L, %L, 1) $$, :'ana', :'vb')) \gset
select is((select expires_at from public.carts where session_id = :'ana'), now() + interval '7 days', 'a direct insert into cart_items slides the cart''s expiry');

-- Lowering a line never needs stock, even when less is left than the new quantity.
select tests.clear_authentication() \gset
select tests.create_variant('LOWER-1', 3) \gset
select tests.create_shopper('lower-lu') as lu \gset
select tests.authenticate_as('lower-lu') \gset
select public.add_to_cart(tests.variant('LOWER-1'), 3) \gset
select tests.clear_authentication() \gset
update public.variants set stock_on_hand = 0 where sku = 'LOWER-1';
select tests.authenticate_as('lower-lu') \gset
select lives_ok($$ select public.set_cart_item_quantity(tests.variant('LOWER-1'), 1) $$,
  'set_cart_item_quantity lowers a line although none is left');
select is((select quantity from public.cart_items where variant_id = tests.variant('LOWER-1')), 1, 'the line now holds 1');

select tests.clear_authentication() \gset
select * from finish();
rollback;
