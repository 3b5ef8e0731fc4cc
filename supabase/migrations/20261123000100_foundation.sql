-- Foundation: the private schemas and the store's checkout settings.
--
--   public    the API: tables with RLS, and the shopper-facing RPC functions
--             (security invoker).
--   private   helpers the API functions and triggers call (availability,
--             settings). Not exposed by the API.
--   checkout  routines that move stock or money (security definer). Not
--             exposed by the API; executable only by service_role, which is
--             what the Edge Functions use through SUPABASE_DB_URL.

create schema if not exists private;
comment on schema private is 'Helpers for the public API (availability, settings). Not exposed through the Data API.';

create schema if not exists checkout;
comment on schema checkout is 'Privileged routines that move stock or money. Not exposed through the Data API; executable only by service_role.';

-- Functions are executable only where granted by full signature. PostgreSQL
-- grants EXECUTE to PUBLIC on every new function whatever the defaults below
-- say, so each migration revokes it function by function; these defaults
-- undo Supabase's own per-schema grants to anon and authenticated.
alter default privileges in schema public revoke execute on functions from public;
alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema checkout revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated;
alter default privileges in schema private revoke execute on functions from anon, authenticated;
alter default privileges in schema checkout revoke execute on functions from anon, authenticated;

grant usage on schema private to anon, authenticated, service_role;
grant usage on schema checkout to service_role;

-- ---------------------------------------------------------------------------
-- Settings: one row, changed with plain SQL by the store owner.

create table private.settings (
  id boolean primary key default true check (id),
  reservation_ttl interval not null default interval '15 minutes'
    check (reservation_ttl between interval '1 second' and interval '1 day'),
  cart_ttl interval not null default interval '7 days'
    check (cart_ttl >= interval '1 minute'),
  max_line_quantity integer not null default 99
    check (max_line_quantity between 1 and 100000),
  trim_after interval not null default interval '30 days'
    check (trim_after >= interval '1 day')
);
comment on table private.settings is
  'Checkout settings (a single row): reservation time, cart lifetime, the largest quantity a cart line may hold, and how long expired or cancelled order sessions are kept. Update it with SQL; read by the cart triggers and the checkout routines.';

insert into private.settings default values on conflict do nothing;

grant select on private.settings to anon, authenticated, service_role;

create function private.current_settings()
returns private.settings
language sql
stable
set search_path = ''
as $$
  select s from private.settings s where s.id
$$;
revoke execute on function private.current_settings() from public, anon, authenticated;
comment on function private.current_settings() is 'The settings row. Callable by every API role.';
grant execute on function private.current_settings() to anon, authenticated, service_role;
