-- The buyer's return asks MercadoPago about a payment id before it knows
-- whose payment it is (the id is what MercadoPago's redirect carries). A
-- client holding any shopper token could send random ids and spend the
-- store's MercadoPago API rate limit, which the webhook and reconcile need.
-- Each shopper now has a budget of lookups per hour: payment-status counts a
-- lookup before it calls MercadoPago, and past the budget answers 429
-- (CKH04) without calling it. A buyer reloading the return page stays far
-- below it.

alter table private.settings
  add column max_return_lookups_per_hour integer not null default 30
    check (max_return_lookups_per_hour between 1 and 100000);
comment on column private.settings.max_return_lookups_per_hour is
  'How many payments one shopper may have payment-status look up at MercadoPago per hour (the buyer''s return). CKH04 beyond it.';

create table checkout.return_lookups (
  session_id uuid primary key references auth.users (id) on delete cascade,
  window_start timestamptz not null,
  lookups integer not null check (lookups >= 1)
);
comment on table checkout.return_lookups is
  'Per shopper: the payment lookups payment-status made at MercadoPago in the current hour (fixed windows). One row per shopper, gone with the user. Service role only.';
alter table checkout.return_lookups enable row level security;
revoke all on table checkout.return_lookups from public, anon, authenticated;
grant select, insert, update, delete on table checkout.return_lookups to service_role;

create function checkout.note_return_lookup(p_session_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  r checkout.return_lookups;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  insert into checkout.return_lookups as l (session_id, window_start, lookups)
  values (p_session_id, now(), 1)
  on conflict (session_id) do update
    set window_start = case when l.window_start <= now() - interval '1 hour' then now() else l.window_start end,
        lookups = case when l.window_start <= now() - interval '1 hour' then 1 else l.lookups + 1 end
  returning * into r;
  if r.lookups > cfg.max_return_lookups_per_hour then
    -- Raising rolls the count back: a shopper over the budget stays at it.
    raise exception 'too many payment lookups, try again later'
      using errcode = 'CKH04',
            detail = jsonb_build_object(
              'max', cfg.max_return_lookups_per_hour,
              'retry_after', r.window_start + interval '1 hour')::text;
  end if;
  return r.lookups;
end
$$;
comment on function checkout.note_return_lookup(uuid) is
  'Service role only. Counts one payment lookup at MercadoPago for a shopper (payment-status, before it calls MercadoPago) and returns the count this hour. Errors: CKI01 no session id; CKH04 over max_return_lookups_per_hour (detail {"max", "retry_after"}; nothing counted).';
revoke execute on function checkout.note_return_lookup(uuid) from public, anon, authenticated;
grant execute on function checkout.note_return_lookup(uuid) to service_role;
