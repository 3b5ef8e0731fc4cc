-- Foundation: the schemas, the privilege model every other file follows, and
-- the store's settings.
--
-- The schema is declared here, one file per feature, in dependency order
-- (supabase/config.toml, [db.migrations] schema_paths). Each file holds the
-- current state of its feature, in this order: types, tables and their
-- grants, triggers, policies, routines. A change edits the file and adds a
-- migration to supabase/migrations; `npm test` proves that both build the
-- same catalog.
--
--   public      the API: the shopper's tables under RLS and the shopper RPC
--               (security invoker). The only schema the Data API exposes.
--   private     helpers the RPC and the triggers call (settings, carts,
--               checks). Not exposed; anon has no usage on it.
--   storefront  the security definer functions the public RPC calls to show
--               what the shopper's own privileges cannot read (the stock
--               available). Not exposed.
--   checkout    the routines that move stock or money (security definer) and
--               the tables only they touch. Not exposed; service_role only.
--   admin, analytics, email
--               the dashboard, the abandoned-cart analytics and the email
--               outbox. Not exposed; service_role only.

-- ---------------------------------------------------------------------------
-- Extensions

create extension if not exists pg_cron with schema pg_catalog;
grant usage on schema cron to postgres;

-- ---------------------------------------------------------------------------
-- Privileges: revoked by default, granted one object at a time.
--
-- Functions. PostgreSQL grants EXECUTE to PUBLIC on every new function. The
-- global default below removes that grant from every function the role
-- running the migrations creates from here on (per-schema defaults cannot:
-- they only add to the global ones), so a function is executable only by its
-- owner until it is granted, by its full signature, to the roles that may
-- call it. No function revokes anything itself.
alter default privileges revoke execute on functions from public;

-- Projects created before 2026 also carry Supabase's legacy per-schema
-- defaults: ALL on every new table, sequence and function in public to anon,
-- authenticated and service_role (newer projects grant nothing; `npm test`
-- runs the grant and RLS tests under both, dev/pg/legacy-default-privileges.sql).
-- * functions in public: the line below keeps them from anon and
--   authenticated (it changes nothing on a newer project); each is granted
--   by signature like every other;
-- * tables in public: each starts with `revoke all ... from anon,
--   authenticated, service_role` before its grants, so that it holds exactly
--   those whatever the project's defaults (the store's own tables keep its
--   defaults);
-- * the other schemas have no such defaults: their objects get only their
--   grants, and nothing there needs a revoke.
alter default privileges in schema public revoke execute on functions from anon, authenticated;

-- ---------------------------------------------------------------------------
-- Schemas

create schema private;
comment on schema private is 'Helpers for the public API (availability, settings). Not exposed through the Data API.';
grant usage on schema private to authenticated, service_role;

create schema checkout;
comment on schema checkout is
  'Privileged routines that move stock or money, and the tables only they and the service role touch (reservations, payment events, refunds, coupons, the order-session event log, cart merges). Not exposed through the Data API; usable only by service_role.';
grant usage on schema checkout to service_role;

create schema storefront;
comment on schema storefront is
  'Not exposed through the Data API. Security definer functions the shopper RPC in public (security invoker) calls to show what the shopper''s own privileges cannot read: the stock available. anon reaches nothing in private.';
grant usage on schema storefront to anon, authenticated, service_role;

create schema admin;
comment on schema admin is
  'The store owner''s dashboard: staff checks, figures, order search, stock adjustments. Not exposed through the Data API; executable only by service_role (the admin Edge Function), every routine re-checking the staff role from the JWT claims it is given.';
grant usage on schema admin to service_role;

create schema analytics;
comment on schema analytics is
  'Abandoned-cart analytics: cart facts that survive the purge, daily rollups and the report functions. Not exposed through the Data API; service_role only.';
grant usage on schema analytics to service_role;

create schema email;
comment on schema email is
  'The email outbox, opt-outs and the routines the send-emails function calls. Not exposed through the Data API; service_role only.';
grant usage on schema email to service_role;

-- ---------------------------------------------------------------------------
-- Settings: one row, changed with plain SQL by the store owner, read through
-- private.current_settings(). Each column says which feature reads it.

create table private.settings (
  id boolean primary key default true check (id),
  reservation_ttl interval not null default interval '15 minutes'
    check (reservation_ttl between interval '1 second' and interval '1 day'),
  cart_ttl interval not null default interval '7 days'
    check (cart_ttl >= interval '1 minute'),
  max_line_quantity integer not null default 99
    check (max_line_quantity between 1 and 100000),
  trim_after interval not null default interval '30 days'
    check (trim_after >= interval '1 day'),
  anonymous_user_ttl interval not null default interval '30 days'
    check (anonymous_user_ttl >= interval '1 day'),
  max_units_per_variant integer not null default 10
    check (max_units_per_variant between 1 and 100000),
  max_units_per_checkout integer not null default 30
    check (max_units_per_checkout between 1 and 1000000),
  max_unpaid_expiries integer not null default 3
    check (max_unpaid_expiries between 1 and 1000),
  unpaid_expiry_window interval not null default interval '1 hour'
    check (unpaid_expiry_window between interval '1 minute' and interval '7 days'),
  analytics_time_zone text not null default 'America/Argentina/Buenos_Aires'
    check (('2000-01-01 00:00+00'::timestamptz at time zone analytics_time_zone) is not null),
  reminder_idle interval not null default interval '1 hour'
    check (reminder_idle >= interval '1 minute'),
  reminder_window interval not null default interval '1 day'
    check (reminder_window >= interval '1 minute'),
  reminder_max_per_cart integer not null default 2
    check (reminder_max_per_cart between 0 and 10),
  cart_merge_strategy text not null default 'merge'
    check (cart_merge_strategy in ('merge', 'keep_account', 'replace')),
  max_return_lookups_per_hour integer not null default 30
    check (max_return_lookups_per_hour between 1 and 100000),
  checkout_slots_per_variant integer not null default 8
    check (checkout_slots_per_variant between 1 and 1000),
  max_return_lookups_per_minute integer not null default 120
    check (max_return_lookups_per_minute between 1 and 1000000),
  max_units_per_address integer not null default 30
    check (max_units_per_address between 1 and 1000000),
  site_id text not null default 'MLA'
    check (site_id in ('MLA', 'MLB', 'MLM', 'MLC', 'MCO', 'MPE', 'MLU')),
  currency text not null generated always as (
    case site_id when 'MLA' then 'ARS' when 'MLB' then 'BRL' when 'MLM' then 'MXN' when 'MLC' then 'CLP'
                 when 'MCO' then 'COP' when 'MPE' then 'PEN' when 'MLU' then 'UYU' end
  ) stored,
  locale text not null default 'es-AR'
    check (locale in ('es-AR', 'pt-BR', 'es-MX', 'es-CL', 'es-CO', 'es-PE', 'es-UY'))
);
insert into private.settings default values;
comment on table private.settings is
  'Checkout settings (a single row): reservation time, cart lifetime, the largest quantity a cart line may hold, and how long expired or cancelled order sessions are kept. Update it with SQL; read by the cart triggers and the checkout routines.';
comment on column private.settings.anonymous_user_ttl is
  'How long an anonymous Auth user may stay idle (no sign-in, no token refresh) before checkout.purge_anonymous_users removes it, when it holds no live cart and no active order session.';
comment on column private.settings.max_units_per_variant is
  'Most units of one variant one shopper may hold (a cart line, and a reservation). CKH01 beyond it.';
comment on column private.settings.max_units_per_checkout is
  'Most units one checkout (one shopper''s reservation) may hold across its lines. CKH02 beyond it.';
comment on column private.settings.max_unpaid_expiries is
  'How many of a shopper''s reservations may expire unpaid within unpaid_expiry_window before the shopper must wait (CKH03).';
comment on column private.settings.unpaid_expiry_window is
  'The window over which unpaid expiries are counted; a shopper at max_unpaid_expiries waits until the oldest of them leaves it.';
comment on column private.settings.analytics_time_zone is
  'The time zone whose calendar days the analytics count in (an IANA name).';
comment on column private.settings.reminder_idle is
  'A cart with items untouched this long is abandoned: its shopper may get a recovery email.';
comment on column private.settings.reminder_window is
  'How long after becoming abandoned a cart is still reminded (bounds the detection scan; a cart idle longer is left alone).';
comment on column private.settings.reminder_max_per_cart is
  'At most this many recovery emails per cart (0 turns reminders off).';
comment on column private.settings.cart_merge_strategy is
  'What a log-in does with the anonymous cart: merge (sum per variant, capped by stock and max_line_quantity), keep_account (the account''s cart wins when it has lines; an empty one takes the anonymous lines), replace (the anonymous lines replace the account''s when there are any).';
comment on column private.settings.max_return_lookups_per_hour is
  'How many payments one shopper may have payment-status look up at MercadoPago per hour (the buyer''s return). CKH04 beyond it.';
comment on column private.settings.max_return_lookups_per_minute is
  'How many payments payment-status may look up at MercadoPago per minute for the whole store (every shopper together); CKH04 with scope store beyond it. Sized for the buyers returning from MercadoPago in one minute: raise it for a flash sale.';
comment on column private.settings.max_units_per_address is
  'Most units the unpaid checkouts in progress from one client address (an IPv6 /64) may hold together (CKH05 beyond it). Several shoppers behind one address (a mobile carrier''s NAT, an office) share it: raise it where that is common, and let CAPTCHA stop the bots.';
comment on column private.settings.checkout_slots_per_variant is
  'How many checkouts of one variant run at once; the others wait their turn (first come, first served). 8 did best on 2 cores (README, Performance, "Taking turns"); 1000 lets every checkout in at once (they still enter in the order they came).';

comment on column private.settings.site_id is
  'The store''s country: the MercadoPago site of its account (MLA Argentina, MLB Brazil, MLM Mexico, MLC Chile, MCO Colombia, MPE Peru, MLU Uruguay). It decides the currency and the payer''s identification types (edge/_shared/country.ts); the access token must be of an account of this site.';
comment on column private.settings.currency is
  'The one currency the store sells in, its site''s (generated from site_id): a checkout of a cart priced in another is refused (CKM03).';
comment on column private.settings.locale is
  'The locale of the emails (texts and Intl formatting of money and dates): es-AR, pt-BR, es-MX, or es-CL, es-CO, es-PE, es-UY (formatted in their own locale, texts from the nearest catalog).';

grant select on private.settings to service_role;

create function private.current_settings()
returns private.settings
language plpgsql stable security definer set search_path = ''
as $$
begin
  return (
    select s from private.settings s where s.id
  );
end
$$;
comment on function private.current_settings() is
  'The settings row (security definer: the API roles read settings only through it). Executed by authenticated (the cart routines and triggers) and service_role.';
grant execute on function private.current_settings() to authenticated, service_role;

create function checkout.store_country()
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object('site_id', s.site_id, 'currency', s.currency, 'locale', s.locale)
    from private.settings s
   where s.id
$$;
comment on function checkout.store_country() is
  'The store''s country as the Edge Functions need it: {site_id, currency, locale} (create-preference checks the payer''s identification type against it; the emails use its locale). service_role only.';
grant execute on function checkout.store_country() to service_role;

-- ---------------------------------------------------------------------------
-- The signed-in user. The Edge Functions call checkout.require_user in the
-- same transaction as every routine they run for a user
-- (edge/_shared/db.ts asUser): a user deleted while one of their access
-- tokens is still unexpired gets CKA03, which the functions answer 401,
-- instead of a foreign-key violation (a 500) from a table keyed on the user,
-- and nothing is written for them.

create function checkout.require_user(p_user_id uuid)
returns void
language plpgsql stable security definer set search_path = ''
as $$
begin
  if p_user_id is null or not exists (select 1 from auth.users u where u.id = p_user_id) then
    raise exception 'the user this token was issued to no longer exists'
      using errcode = 'CKA03',
            detail = jsonb_build_object('user_id', p_user_id)::text,
            hint = 'Sign in again.';
  end if;
end
$$;
comment on function checkout.require_user(uuid) is
  'Service role only. Raises CKA03 (the Edge Functions answer 401 unauthenticated) unless the Auth user exists: run first, in the same transaction, by every routine call a function makes for a signed-in user, so a deleted user''s unexpired token writes nothing.';
grant execute on function checkout.require_user(uuid) to service_role;
