-- The buyer's return has a budget of MercadoPago lookups per shopper per hour
-- (20261202310000_return_lookup_limit.sql), but every sign-up is a fresh
-- shopper with a fresh budget: a swarm of accounts (three sign-ups made 180
-- MercadoPago calls within seconds) could still spend the store's MercadoPago
-- rate limit, which the webhook and reconcile need. The lookups of the whole
-- store now have a ceiling per minute too. Past it payment-status answers 429
-- too_many_lookups (CKH04, detail.scope = 'store') without calling
-- MercadoPago, and nothing is counted, the shopper's budget included. A
-- buyer turned away still gets the order: the webhook and reconcile confirm
-- the payment without this budget.

alter table private.settings
  add column max_return_lookups_per_minute integer not null default 120
    check (max_return_lookups_per_minute between 1 and 1000000);
comment on column private.settings.max_return_lookups_per_minute is
  'How many payments payment-status may look up at MercadoPago per minute for the whole store (every shopper together); CKH04 with scope store beyond it. Sized for the buyers returning from MercadoPago in one minute: raise it for a flash sale.';

create table checkout.store_return_lookups (
  only_row boolean primary key default true check (only_row),
  window_start timestamptz not null,
  lookups integer not null check (lookups >= 1)
);
comment on table checkout.store_return_lookups is
  'The payment lookups payment-status made at MercadoPago for the whole store in the current minute (fixed windows): one row. Service role only.';
alter table checkout.store_return_lookups enable row level security;
revoke all on table checkout.store_return_lookups from public, anon, authenticated;
grant select, insert, update, delete on table checkout.store_return_lookups to service_role;

create or replace function checkout.note_return_lookup(p_session_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  r checkout.return_lookups;
  store checkout.store_return_lookups;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  -- Raising rolls every count back: a refused lookup is counted nowhere.
  insert into checkout.return_lookups as l (session_id, window_start, lookups)
  values (p_session_id, now(), 1)
  on conflict (session_id) do update
    set window_start = case when l.window_start <= now() - interval '1 hour' then now() else l.window_start end,
        lookups = case when l.window_start <= now() - interval '1 hour' then 1 else l.lookups + 1 end
  returning * into r;
  if r.lookups > cfg.max_return_lookups_per_hour then
    raise exception 'too many payment lookups, try again later'
      using errcode = 'CKH04',
            detail = jsonb_build_object(
              'scope', 'shopper',
              'max', cfg.max_return_lookups_per_hour,
              'retry_after', r.window_start + interval '1 hour')::text;
  end if;
  -- The store's ceiling, after the shopper's budget (a shopper over hers
  -- spends none of the store's). One row: concurrent lookups take turns on
  -- it for the length of this statement.
  insert into checkout.store_return_lookups as l (only_row, window_start, lookups)
  values (true, now(), 1)
  on conflict (only_row) do update
    set window_start = case when l.window_start <= now() - interval '1 minute' then now() else l.window_start end,
        lookups = case when l.window_start <= now() - interval '1 minute' then 1 else l.lookups + 1 end
  returning * into store;
  if store.lookups > cfg.max_return_lookups_per_minute then
    raise exception 'too many payment lookups in the store right now, try again in a minute'
      using errcode = 'CKH04',
            detail = jsonb_build_object(
              'scope', 'store',
              'max', cfg.max_return_lookups_per_minute,
              'retry_after', store.window_start + interval '1 minute')::text;
  end if;
  return r.lookups;
end
$$;
comment on function checkout.note_return_lookup(uuid) is
  'Service role only. Counts one payment lookup at MercadoPago for a shopper (payment-status, before it calls MercadoPago), for her and for the whole store, and returns her count this hour. Errors (nothing counted): CKI01 no session id; CKH04 over max_return_lookups_per_hour (detail {"scope": "shopper", "max", "retry_after"}) or over the store''s max_return_lookups_per_minute (detail {"scope": "store", "max", "retry_after"}).';
revoke execute on function checkout.note_return_lookup(uuid) from public, anon, authenticated;
grant execute on function checkout.note_return_lookup(uuid) to service_role;
