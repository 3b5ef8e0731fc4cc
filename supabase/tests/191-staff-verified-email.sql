-- Staff only through a verified email (issue 20,
-- 12_admin.sql): admin.set_staff refuses an
-- unconfirmed address and writes nothing; granting signs out every session
-- of the account (sessions and refresh tokens), so a session opened before
-- the grant, the attacker's included, never refreshes into a staff token;
-- admin.me asks the database like every other admin routine.
begin;
\ir helpers/tests.psql
select plan(16);

insert into auth.users (id, email, is_anonymous, email_confirmed_at) values
  ('00000000-0000-4000-8000-0000000b0001', 'owner@example.com', false, null),
  ('00000000-0000-4000-8000-0000000b0002', 'manager@example.com', false, now());
-- The unconfirmed account has a session (someone signed up with the owner's address).
insert into auth.sessions (id, user_id) values ('00000000-0000-4000-8000-0000000c0001', '00000000-0000-4000-8000-0000000b0001');
insert into auth.refresh_tokens (token, user_id, session_id)
values ('attacker-rt', '00000000-0000-4000-8000-0000000b0001', '00000000-0000-4000-8000-0000000c0001');
-- The confirmed one has two sessions and a refresh token left without a session.
insert into auth.sessions (id, user_id) values
  ('00000000-0000-4000-8000-0000000c0002', '00000000-0000-4000-8000-0000000b0002'),
  ('00000000-0000-4000-8000-0000000c0003', '00000000-0000-4000-8000-0000000b0002');
insert into auth.refresh_tokens (token, user_id, session_id) values
  ('manager-rt-1', '00000000-0000-4000-8000-0000000b0002', '00000000-0000-4000-8000-0000000c0002'),
  ('manager-rt-2', '00000000-0000-4000-8000-0000000b0002', '00000000-0000-4000-8000-0000000c0003'),
  ('manager-rt-legacy', '00000000-0000-4000-8000-0000000b0002', null);

-- An unconfirmed address: refused, with why and what to do; nothing written.
select throws_ok($$ select admin.set_staff('Owner@Example.com') $$, 'CKA02',
  'owner@example.com has not confirmed the email address: store staff must have a confirmed address',
  'set_staff: an unconfirmed email is refused (CKA02)');
select is(tests.error_of($$ select admin.set_staff('owner@example.com') $$) ->> 'detail',
  '{"email": "owner@example.com", "reason": "email_unconfirmed"}', 'set_staff: the detail says why');
select is((select raw_app_meta_data ->> 'store_role' from auth.users where email = 'owner@example.com'), null,
  'set_staff refused: no role written');
select is((select count(*)::integer from auth.sessions where user_id = '00000000-0000-4000-8000-0000000b0001'), 1,
  'set_staff refused: the sessions are untouched');
select is((admin.set_staff('owner@example.com', false)) ->> 'staff', 'false', 'set_staff false: taking the role away needs no confirmation');

-- A confirmed address: the role, and every session signed out.
select admin.set_staff('manager@example.com') as granted \gset
select is(:'granted'::jsonb ->> 'staff', 'true', 'set_staff: a confirmed email becomes staff');
select is(:'granted'::jsonb ->> 'sessions_ended', '2', 'set_staff: says how many sessions it ended');
select is_empty($$ select 1 from auth.sessions where user_id = '00000000-0000-4000-8000-0000000b0002' $$,
  'set_staff: every session of the user is signed out');
select is_empty($$ select 1 from auth.refresh_tokens where user_id = '00000000-0000-4000-8000-0000000b0002' $$,
  'set_staff: and every refresh token is gone (those without a session too)');
select is((select count(*)::integer from auth.sessions where user_id = '00000000-0000-4000-8000-0000000b0001'), 1,
  'set_staff: other users'' sessions stay');

-- /admin/me from the database.
set local role service_role;
select is(admin.me('{"sub": "00000000-0000-4000-8000-0000000b0002", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}'),
  '{"id": "00000000-0000-4000-8000-0000000b0002", "email": "manager@example.com", "role": "staff"}'::jsonb,
  'me: staff get who they are, from auth.users');
select throws_ok($$ select admin.me('{"sub": "00000000-0000-4000-8000-0000000b0001", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}') $$,
  'CKA01', null, 'me: claims saying staff for a user who is not: CKA01');
reset role;
select admin.set_staff('manager@example.com', false) \gset
set local role service_role;
select throws_ok($$ select admin.me('{"sub": "00000000-0000-4000-8000-0000000b0002", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}') $$,
  'CKA01', null, 'me: a removed member of staff with a token still valid: CKA01');
reset role;
delete from auth.users where id = '00000000-0000-4000-8000-0000000b0002';
set local role service_role;
select throws_ok($$ select admin.me('{"sub": "00000000-0000-4000-8000-0000000b0002", "role": "authenticated", "is_anonymous": false, "app_metadata": {"store_role": "staff"}}') $$,
  'CKA01', null, 'me: a deleted user''s token: CKA01');
select ok(not has_function_privilege('authenticated', 'admin.me(jsonb)', 'execute'), 'me: not executable by authenticated');
select ok(has_function_privilege('service_role', 'admin.me(jsonb)', 'execute'), 'me: executable by service_role');

select * from finish();
rollback;
