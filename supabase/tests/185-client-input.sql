-- Client input never answers 500 (00_foundation.sql, 12_admin.sql):
-- checkout.require_user refuses a user who is gone (CKA03, the functions'
-- 401) and runs for service_role only; admin.adjust_stock refuses a stock
-- on hand past integer's range (CKI01 naming delta) before adding, writing
-- nothing.
begin;
\ir helpers/tests.psql
select plan(11);

select tests.create_shopper('ci-ana') as ana \gset

-- ---------------------------------------------------------------------------
-- checkout.require_user
select function_privs_are('checkout', 'require_user', array['uuid'], 'service_role', array['EXECUTE'],
  'require_user: executable by service_role');
select function_privs_are('checkout', 'require_user', array['uuid'], 'authenticated', array[]::text[],
  'require_user: not executable by authenticated');
select tests.authenticate_as_service_role() \gset
select lives_ok(format($$ select checkout.require_user(%L) $$, :'ana'), 'require_user: an existing user passes');
select throws_ok($$ select checkout.require_user('00000000-0000-4000-8000-0000000000d1') $$, 'CKA03',
  'the user this token was issued to no longer exists', 'require_user: a user who does not exist is CKA03');
select throws_ok($$ select checkout.require_user(null) $$, 'CKA03', null, 'require_user: no user is CKA03');
select tests.clear_authentication() \gset
delete from auth.users where id = :'ana';
select tests.authenticate_as_service_role() \gset
select throws_ok(format($$ select checkout.require_user(%L) $$, :'ana'), 'CKA03', null, 'require_user: a deleted user is CKA03');
select tests.clear_authentication() \gset

-- ---------------------------------------------------------------------------
-- admin.adjust_stock past integer's range
insert into auth.users (id, email, email_confirmed_at, is_anonymous) values ('00000000-0000-4000-8000-00000000c185', 'ci-boss@example.com', now(), false);
select admin.set_staff('ci-boss@example.com', true) \gset
select '{"sub": "00000000-0000-4000-8000-00000000c185", "role": "authenticated", "is_anonymous": false, "email": "ci-boss@example.com", "app_metadata": {"store_role": "staff"}}' as staff \gset
select tests.create_variant('CI-MAX', 2147483000) as v \gset

select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, 1000, 'restock') $$, :'staff', :'v')) ->> 'sqlstate', 'CKI01',
  'adjust_stock: a sum past integer is CKI01, not 22003');
select is((tests.error_of(format($$ select admin.adjust_stock(%L, %L, 1000, 'restock') $$, :'staff', :'v')) ->> 'detail')::jsonb,
  '{"field": "delta", "on_hand": 2147483000, "maximum_delta": 647}'::jsonb, 'adjust_stock: the detail names delta and the largest that fits');
select is((select stock_on_hand from public.variants where id = :'v'), 2147483000, 'adjust_stock: nothing written');
select is((admin.adjust_stock(:'staff', :'v', 647, 'restock')) ->> 'on_hand_after', '2147483647', 'adjust_stock: up to the largest integer');
select is(tests.error_of(format($$ select admin.adjust_stock(%L, %L, -1000000, 'shrink') $$, :'staff', :'v')), null,
  'adjust_stock: going down from the top still works');

select * from finish();
rollback;
