-- One checkout group per cart across a merge (issue 20,
-- 09_accounts_and_merge.sql): the checkout a merge cancels
-- joins the account's checkouts, so a merged cart is paid once whatever the
-- order of the payments; checkout.audit() reports two orders from one merged
-- cart (shown on the state the merge left before the fix); and the merge
-- needs the anonymous user's live Auth session.
begin;
\ir helpers/tests.psql
select plan(35);

-- An account is a permanent user, named like the tests' shoppers.
create function tests.mg_account(p_name text) returns uuid language sql security definer as $$
  insert into auth.users (id, email, is_anonymous, raw_user_meta_data, email_confirmed_at)
  values (gen_random_uuid(), p_name || '@example.com', false, jsonb_build_object('test_name', p_name), now())
  returning id
$$;
-- A live Auth session of a user (what the session_id claim of its token names).
create function tests.mg_signed_in(p_user uuid) returns uuid language sql security definer as $$
  insert into auth.sessions (id, user_id) values (gen_random_uuid(), p_user) returning id
$$;
create function tests.mg_group_of(p_id text) returns uuid language sql as $$
  select checkout_group from public.order_sessions where id = p_id::uuid
$$;
create function tests.mg_orders_of(p_user uuid) returns integer language sql as $$
  select count(*)::integer from public.orders where session_id = p_user
$$;
grant execute on all functions in schema tests to service_role;

select tests.create_variant('MG-A', 10, 1000) as va, tests.create_variant('MG-B', 10, 500) as vb \gset

-- ---------------------------------------------------------------------------
-- The issue's sequence: S_A opened, log-in and merge, the account checks out
-- and pays, then the old tab pays S_A.
select tests.create_shopper('mg-anon1') as anon1 \gset
select tests.mg_account('mg-x1') as x1 \gset
select tests.mg_signed_in(:'anon1') as sess1 \gset
select tests.fill_cart('mg-anon1', array[:'va']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa1, s ->> 'token' as ta1 from tests.begin_checkout('mg-anon1') s \gset
select checkout.attach_preference(:'sa1', 'pref-mg-a1') \gset
select checkout.merge_carts(:'anon1', :'x1', :'sess1') ->> 'cancelled_order_session' as cancelled \gset
select is(:'cancelled'::text, :'ta1'::text, 'merge: the anonymous checkout in progress is cancelled');
select is((select checkout_group from checkout.cart_merges where anonymous_id = :'anon1'), tests.mg_group_of(:'sa1'),
  'merge: the merge records the cancelled checkout''s group');
select s ->> 'id' as sx1, s ->> 'token' as tx1 from tests.begin_checkout('mg-x1') s \gset
select is(tests.mg_group_of(:'sx1'), tests.mg_group_of(:'sa1'), 'the account''s checkout joins the merged checkout''s group');
select is(checkout.apply_payment(tests.payment(:'tx1', 'approved', 2000, 20001)) ->> 'outcome', 'order_created',
  'the account pays: its order');
select checkout.apply_payment(tests.payment(:'ta1', 'approved', 2000, 20002)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'refund_owed', 'then the old tab pays S_A: owed back');
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'superseded', 'reason superseded');
select is(tests.mg_orders_of(:'x1'), 1, 'one order for the merged cart');
select is((select stock_on_hand from public.variants where id = :'va'), 8, 'the stock dropped once');

-- The reverse order: the old tab pays first (it takes over the account's
-- unpaid checkout), then the account's checkout is paid.
select tests.create_shopper('mg-anon2') as anon2 \gset
select tests.mg_account('mg-x2') as x2 \gset
select tests.mg_signed_in(:'anon2') as sess2 \gset
select tests.fill_cart('mg-anon2', array[:'vb']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa2, s ->> 'token' as ta2 from tests.begin_checkout('mg-anon2') s \gset
select checkout.merge_carts(:'anon2', :'x2', :'sess2') \gset
select s ->> 'id' as sx2, s ->> 'token' as tx2 from tests.begin_checkout('mg-x2') s \gset
select checkout.apply_payment(tests.payment(:'ta2', 'approved', 500, 20101)) as r \gset
select is(:'r'::jsonb ->> 'outcome', 'order_created', 'reverse: the old tab''s payment becomes the order');
select is((select status::text from public.order_sessions where id = :'sx2'), 'cancelled', 'reverse: the account''s unpaid checkout is taken over');
select checkout.apply_payment(tests.payment(:'tx2', 'approved', 500, 20102)) as r \gset
select is(:'r'::jsonb -> 'refund' ->> 'reason', 'superseded', 'reverse: the account''s payment is owed back as superseded');
select is(tests.mg_orders_of(:'x2'), 1, 'reverse: one order');
select is((select reserved from public.variants where id = :'vb'), 0, 'reverse: nothing left reserved');

-- An account with its own checkout in progress: the merged checkout joins
-- that group (its replacement joins it too).
select tests.create_shopper('mg-anon3') as anon3 \gset
select tests.mg_account('mg-x3') as x3 \gset
select tests.mg_signed_in(:'anon3') as sess3 \gset
select tests.fill_cart('mg-x3', array[:'vb']::uuid[], array[1]),
       tests.fill_cart('mg-anon3', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sx3 from tests.begin_checkout('mg-x3') s \gset
select s ->> 'id' as sa3, s ->> 'token' as ta3 from tests.begin_checkout('mg-anon3') s \gset
select checkout.merge_carts(:'anon3', :'x3', :'sess3') \gset
select is(tests.mg_group_of(:'sa3'), tests.mg_group_of(:'sx3'), 'account busy: the merged checkout joins the account''s group');
select s ->> 'id' as sx3b, s ->> 'token' as tx3b from tests.begin_checkout('mg-x3') s \gset
select is(tests.mg_group_of(:'sx3b'), tests.mg_group_of(:'sx3'), 'account busy: the next checkout (both carts'' lines) stays in it');
select is(checkout.apply_payment(tests.payment(:'tx3b', 'approved', 1500, 20201)) ->> 'outcome', 'order_created', 'account busy: paid');
select is(checkout.apply_payment(tests.payment(:'ta3', 'approved', 1000, 20202)) -> 'refund' ->> 'reason', 'superseded',
  'account busy: the old tab is owed back');

-- Once the group has its order, the account's next purchase is a new one.
select tests.fill_cart('mg-x3', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sx3c, s ->> 'token' as tx3c from tests.begin_checkout('mg-x3') s \gset
select isnt(tests.mg_group_of(:'sx3c'), tests.mg_group_of(:'sx3b'), 'after the order, a new checkout starts a new group');
select is(checkout.apply_payment(tests.payment(:'tx3c', 'approved', 1000, 20203)) ->> 'outcome', 'order_created',
  'and becomes an order of its own');
select is(tests.mg_orders_of(:'x3'), 2, 'two purchases, two orders');

-- A merge with no checkout in progress links nothing.
select tests.create_shopper('mg-anon4') as anon4 \gset
select tests.mg_account('mg-x4') as x4 \gset
select tests.mg_signed_in(:'anon4') as sess4 \gset
select tests.fill_cart('mg-anon4', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select checkout.merge_carts(:'anon4', :'x4', :'sess4') \gset
select is((select checkout_group from checkout.cart_merges where anonymous_id = :'anon4'), null,
  'no checkout in progress: the merge records no group');
select s ->> 'id' as sx4 from tests.begin_checkout('mg-x4') s \gset
select is((select count(*)::integer from public.order_sessions where checkout_group = tests.mg_group_of(:'sx4')), 1,
  'and the account''s checkout is a group of its own');

select is(checkout.audit(), '[]'::jsonb, 'audit: nothing to report after every sequence above');

-- ---------------------------------------------------------------------------
-- The audit sees two orders from one merged cart, even where the groups were
-- never joined: the state the merge left before the fix (the cancelled
-- checkout in its own group, no group recorded), then both paid.
select tests.create_shopper('mg-anon5') as anon5 \gset
select tests.mg_account('mg-x5') as x5 \gset
select tests.mg_signed_in(:'anon5') as sess5 \gset
select tests.fill_cart('mg-anon5', array[:'vb']::uuid[], array[2]) \gset
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sa5, s ->> 'token' as ta5 from tests.begin_checkout('mg-anon5') s \gset
select checkout.merge_carts(:'anon5', :'x5', :'sess5') \gset
select tests.clear_authentication() \gset
update checkout.cart_merges set checkout_group = null where anonymous_id = :'anon5';
update public.order_sessions set checkout_group = gen_random_uuid() where id = :'sa5';
select tests.authenticate_as_service_role() \gset
select s ->> 'id' as sx5, s ->> 'token' as tx5 from tests.begin_checkout('mg-x5') s \gset
select isnt(tests.mg_group_of(:'sx5'), tests.mg_group_of(:'sa5'), 'before the fix: the account''s checkout had a group of its own');
select checkout.apply_payment(tests.payment(:'tx5', 'approved', 1000, 20301)) ->> 'order' as ox5 \gset
select checkout.apply_payment(tests.payment(:'ta5', 'approved', 1000, 20302)) ->> 'order' as oa5 \gset
select is(tests.mg_orders_of(:'x5'), 2, 'before the fix: the merged cart was paid twice');
select results_eq(
  $$ select v ->> 'invariant', v -> 'detail' -> 'orders' from jsonb_array_elements(checkout.audit()) v $$,
  format($$ values ('two_orders_one_merged_cart', jsonb_build_array(%L::text, %L::text)) $$,
         :'oa5'::jsonb ->> 'order_number', :'ox5'::jsonb ->> 'order_number'),
  'audit: two_orders_one_merged_cart names both orders (and nothing else is wrong)');

-- ---------------------------------------------------------------------------
-- The anonymous token's Auth session must be live; nothing is written otherwise.
select tests.create_shopper('mg-anon6') as anon6 \gset
select tests.mg_account('mg-x6') as x6 \gset
select tests.mg_signed_in(:'anon6') as sess6 \gset
select tests.mg_signed_in(:'x6') as xsess6 \gset
select tests.fill_cart('mg-anon6', array[:'va']::uuid[], array[1]) \gset
select tests.authenticate_as_service_role() \gset
select throws_ok(format($$ select checkout.merge_carts(%L, %L, null) $$, :'anon6', :'x6'), 'CKU03', null,
  'live session: a token without a session is refused (CKU03)');
select throws_ok(format($$ select checkout.merge_carts(%L, %L, %L) $$, :'anon6', :'x6', gen_random_uuid()), 'CKU03', null,
  'live session: an unknown session is refused');
select throws_ok(format($$ select checkout.merge_carts(%L, %L, %L) $$, :'anon6', :'x6', :'xsess6'), 'CKU03', null,
  'live session: another user''s session is refused');
select tests.clear_authentication() \gset
update auth.sessions set not_after = now() - interval '1 second' where id = :'sess6';
select tests.authenticate_as_service_role() \gset
select throws_ok(format($$ select checkout.merge_carts(%L, %L, %L) $$, :'anon6', :'x6', :'sess6'), 'CKU03', null,
  'live session: a timed-out session is refused');
select tests.clear_authentication() \gset
update auth.sessions set not_after = null where id = :'sess6';
delete from auth.sessions where id = :'sess6';  -- POST /auth/v1/logout
select tests.authenticate_as_service_role() \gset
select throws_ok(format($$ select checkout.merge_carts(%L, %L, %L) $$, :'anon6', :'x6', :'sess6'), 'CKU03', null,
  'live session: a signed-out session is refused');
select tests.clear_authentication() \gset
select is_empty(format($$ select 1 from checkout.cart_merges where anonymous_id = %L $$, :'anon6'), 'refused merges: nothing recorded');
select results_eq(format($$ select session_id, quantity from public.cart_items where variant_id = %L and session_id in (%L, %L) $$, :'va', :'anon6', :'x6'),
  format($$ values (%L::uuid, 1) $$, :'anon6'), 'refused merges: the anonymous cart is where it was');
-- A deleted account (its token still valid): CKU03, not a foreign-key error.
select tests.mg_signed_in(:'anon6') as sess6b \gset
delete from auth.users where id = :'x6';
select tests.authenticate_as_service_role() \gset
select throws_ok(format($$ select checkout.merge_carts(%L, %L, %L) $$, :'anon6', :'x6', :'sess6b'), 'CKU03', null,
  'a deleted account is refused with CKU03');
select tests.clear_authentication() \gset
select is_empty(format($$ select 1 from public.carts where session_id = %L $$, :'x6'), 'a deleted account: no cart written for it');

select * from finish();
rollback;
