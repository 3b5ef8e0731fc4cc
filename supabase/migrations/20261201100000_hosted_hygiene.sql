-- Hosted hygiene: anonymous users who never came back, and pg_cron's own
-- run history, which grows without bound on Supabase.
--
-- Every anonymous visit creates an auth.users row. A row is removed once the
-- shopper has been idle longer than anonymous_user_ttl (default 30 days: no
-- sign-in, no token refresh) and holds nothing live: no cart that has not
-- expired, no active order session. Their orders, order sessions and
-- payments stay (they are keyed on the id, not bound to the user row); the
-- cart rows go with the user (on delete cascade).

alter table private.settings
  add column anonymous_user_ttl interval not null default interval '30 days'
    check (anonymous_user_ttl >= interval '1 day');
comment on column private.settings.anonymous_user_ttl is
  'How long an anonymous Auth user may stay idle (no sign-in, no token refresh) before checkout.purge_anonymous_users removes it, when it holds no live cart and no active order session.';

create function checkout.purge_anonymous_users(p_batch_size integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  purged integer;
  idle_since timestamptz := now() - (private.current_settings()).anonymous_user_ttl;
begin
  with doomed as (
    select u.id
      from auth.users u
     where u.is_anonymous
       and greatest(u.created_at, u.last_sign_in_at, u.updated_at) < idle_since
       and not exists (select 1 from auth.sessions s where s.user_id = u.id and greatest(s.created_at, s.updated_at) >= idle_since)
       and not exists (select 1 from public.carts c where c.session_id = u.id and c.expires_at > now())
       and not exists (
         select 1 from public.order_sessions os where os.session_id = u.id and os.status = 'active' and os.expires_at > now()
       )
     order by u.created_at
     limit greatest(p_batch_size, 1)
  )
  delete from auth.users u using doomed where u.id = doomed.id;
  get diagnostics purged = row_count;
  return purged;
end
$$;
comment on function checkout.purge_anonymous_users(integer) is
  'Service role only. Deletes up to p_batch_size anonymous Auth users idle longer than anonymous_user_ttl with no live cart and no active order session (their orders and order sessions stay). Returns how many; pg_cron calls it daily in committed batches.';

revoke execute on function checkout.purge_anonymous_users(integer) from public, anon, authenticated;
grant execute on function checkout.purge_anonymous_users(integer) to service_role;

select cron.schedule('checkout-purge-anonymous-users', '23 4 * * *',
  'do $$ begin while checkout.purge_anonymous_users(1000) = 1000 loop commit; end loop; end $$');

-- pg_cron records every run in cron.job_run_details and never deletes them;
-- with a job a minute that is 1,440 rows a day. Keep a week (Supabase's own
-- advice for this table).
select cron.schedule('checkout-trim-cron-history', '51 4 * * *',
  $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);
