-- Staff only through a verified email (issue 20).
--
-- The owner's staff account could be taken over before it existed: an
-- attacker signs up with owner@... first; the owner then runs
-- `npm run staff:add` (or admin.set_staff), and at the attacker's next token
-- refresh the attacker's session carries store_role staff.
--
--   * admin.set_staff refuses (CKA02) to make staff of an account whose
--     email is not confirmed (auth.users.email_confirmed_at is null), saying
--     why and what to do. With email confirmation off (`supabase start` and
--     `npm start` by default) Supabase Auth confirms every sign-up at once,
--     so this alone proves nothing there: `npm run staff:add` also refuses an
--     existing account it did not create unless told --existing (see
--     dev/staff-add.ts and the README, "Adding staff").
--   * Granting the role signs out every session of the account (its
--     auth.sessions rows and refresh tokens, as GoTrue's global sign-out
--     does): a session opened before the grant, whoever opened it, can no
--     longer be refreshed into a staff token. Its access token, valid until
--     it expires, never carried the role.
--   * admin.me: what GET /admin/me answers, asked of the database like every
--     other admin route, so a removed staff member whose token is still
--     valid gets 403 there too.

create or replace function admin.set_staff(p_email text, p_staff boolean default true)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  u auth.users;
  ended integer := 0;
begin
  if p_email is null or p_email !~ '^[^@\s]+@[^@\s]+$' then
    raise exception 'a valid email is required' using errcode = 'CKI01', detail = jsonb_build_object('field', 'email')::text;
  end if;
  select * into u from auth.users
   where lower(email) = lower(btrim(p_email)) and not coalesce(is_anonymous, false)
     for update;
  if not found then
    raise exception 'no permanent user with email %', p_email
      using errcode = 'CKO01', detail = jsonb_build_object('email', p_email)::text,
            hint = 'Create the user first (Supabase dashboard, auth.admin.createUser, or npm run staff:add -- <email> --password <password> locally).';
  end if;
  if p_staff and u.email_confirmed_at is null then
    raise exception '% has not confirmed the email address: store staff must have a confirmed address', u.email
      using errcode = 'CKA02', detail = jsonb_build_object('email', u.email, 'reason', 'email_unconfirmed')::text,
            hint = 'Anyone can sign up with an address that is not theirs. Have its owner confirm it with the link Supabase Auth emailed (ask for a new one with supabase.auth.resend({ type: ''signup'', email })), then run this again.';
  end if;
  update auth.users
     set raw_app_meta_data = case when p_staff
           then coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('store_role', 'staff')
           else coalesce(raw_app_meta_data, '{}'::jsonb) - 'store_role' end,
         updated_at = now()
   where id = u.id;
  if p_staff then
    -- GoTrue's global sign-out: the sessions (their refresh tokens and MFA
    -- claims go with them, on delete cascade) and any refresh token left
    -- without a session (auth.refresh_tokens.user_id is text in GoTrue).
    delete from auth.refresh_tokens where user_id = u.id::text;
    delete from auth.sessions where user_id = u.id;
    get diagnostics ended = row_count;
  end if;
  return jsonb_build_object('id', u.id, 'email', u.email, 'staff', p_staff, 'sessions_ended', ended);
end
$$;
comment on function admin.set_staff(text, boolean) is
  'Service role (or SQL) only. Makes the permanent user with this email store staff (app_metadata.store_role = staff), or takes it away. Granting needs a confirmed email (CKA02 otherwise) and signs out every session of the user (auth.sessions, auth.refresh_tokens), so the role reaches only a sign-in made after it; returns {id, email, staff, sessions_ended}. admin.is_staff also reads auth.users, so a removal takes effect at once.';

create function admin.me(p_claims jsonb)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return (select jsonb_build_object('id', u.id, 'email', u.email, 'role', 'staff')
            from auth.users u where u.id::text = p_claims ->> 'sub');
end
$$;
revoke execute on function admin.me(jsonb) from public, anon, authenticated;
comment on function admin.me(jsonb) is
  'Service role only (GET /admin/me). The signed-in member of staff, {id, email, role}, as auth.users says now; CKA01 (403) when the claims are not staff''s or the database no longer says so.';
grant execute on function admin.me(jsonb) to service_role;
