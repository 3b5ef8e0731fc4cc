-- private becomes private, and EXECUTE is revoked from PUBLIC once.
--
-- 1. Functions: PostgreSQL grants EXECUTE to PUBLIC on every new function.
--    `alter default privileges in schema X revoke ... from public` (the
--    foundation's three lines) cannot undo that: per-schema default
--    privileges only add to the global ones. The form that works is the
--    global one, for the role that runs the migrations (the current role):
--    every function it creates from here on starts with no PUBLIC grant, and
--    each is granted by its full signature to the roles that may call it.
--    (Functions created before keep their explicit per-function revokes.)
alter default privileges revoke execute on functions from public;

-- 2. Settings: read through private.current_settings(), never directly. It
--    becomes security definer (search_path '' and qualified names, in the
--    non-exposed schema), so the API roles need no SELECT on the table; the
--    shopper routines (cart triggers and RPCs, security invoker) keep calling
--    it as before. anon calls no routine that reads the settings itself:
--    public.get_catalog reaches them only through private.available_stock,
--    which is security definer.
create or replace function private.current_settings()
returns private.settings
language sql
stable
security definer
set search_path = ''
as $$
  select s from private.settings s where s.id
$$;
comment on function private.current_settings() is
  'The settings row (security definer: the API roles read settings only through it). Executed by authenticated (the cart routines and triggers) and service_role.';
revoke execute on function private.current_settings() from anon;
revoke select on private.settings from anon, authenticated;

-- 3. private.available_stock(uuid) stays executable by anon, by name: the
--    shopper RPC public.get_catalog() (security invoker, anon's only RPC)
--    calls it for every variant.
comment on function private.available_stock(uuid) is
  'Units of a variant that can still be sold: stock on hand minus unexpired reservations (an expired reservation is free at once, cron or not). NULL for an unknown variant. Read-only, security definer. Executed by anon only because public.get_catalog() (security invoker) calls it, by authenticated for the catalog and the cart routines, by service_role for checkout.';
