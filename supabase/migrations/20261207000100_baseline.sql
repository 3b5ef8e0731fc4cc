-- Baseline (issue 21): the database as supabase/schemas declared it when the
-- migration history was replaced, every schema file in config.toml's
-- schema_paths order. A later change edits its schema file and adds a
-- migration after this one; never edit this one.

-- ===========================================================================
-- supabase/schemas/00_foundation.sql
-- ===========================================================================

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
    check (max_units_per_address between 1 and 1000000)
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

-- ===========================================================================
-- supabase/schemas/01_catalog.sql
-- ===========================================================================

-- Catalog: products and their variants, readable by everyone, and the stock
-- available to sell: on hand minus unexpired reservations
-- (checkout.stock_reservations, 04_order_sessions.sql). An expired
-- reservation is free at once, whether or not the cron has released it (lazy
-- expiry).

-- ---------------------------------------------------------------------------
-- Tables

create table public.products (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  title text not null check (length(title) between 1 and 200),
  description text not null default '',
  image_url text,
  active boolean not null default true,
  created_at timestamptz not null default now()
);
comment on table public.products is
  'Products of the store. Readable by everyone; written by the store owner (service_role or SQL).';

alter table public.products enable row level security;
revoke all on public.products from anon, authenticated, service_role;
grant select on public.products to anon, authenticated;
grant select, insert, update, delete on public.products to service_role;

create table public.variants (
  id uuid primary key default gen_random_uuid(),
  product_id uuid not null references public.products (id) on delete cascade,
  sku text not null unique check (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  title text not null check (length(title) between 1 and 200),
  attributes jsonb not null default '{}'::jsonb check (jsonb_typeof(attributes) = 'object'),
  price numeric(12, 2) not null check (price > 0),
  currency text not null default 'ARS' check (currency ~ '^[A-Z]{3}$'),
  stock_on_hand integer not null default 0 check (stock_on_hand >= 0),
  reserved integer not null default 0 check (reserved >= 0),
  active boolean not null default true,
  position integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.variants is
  'Sellable variants (size, color...) with price and stock on hand. stock_on_hand only drops when a paid order commits; availability also subtracts unexpired reservations (private.available_stock). Readable by everyone.';
comment on column public.variants.stock_on_hand is 'Units physically in stock. Never negative.';
comment on column public.variants.reserved is
  'Units held by reservation rows not yet deleted, kept by trigger on stock_reservations. Includes expired rows the cron has not released yet; private.available_stock adds those back.';

create index variants_product_id_idx on public.variants (product_id);

alter table public.variants enable row level security;
revoke all on public.variants from anon, authenticated, service_role;
grant select on public.variants to anon, authenticated;
grant select, insert, update, delete on public.variants to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.check_whole_unit_price()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  -- One function for both tables: read the row as JSON, so each names its own columns.
  rec jsonb := to_jsonb(new);
  amount numeric := (rec ->> case tg_table_name when 'variants' then 'price' else 'value' end)::numeric;
  cur text := rec ->> 'currency';
begin
  if tg_table_name = 'coupons' and rec ->> 'kind' <> 'fixed' then
    return new;
  end if;
  if private.is_whole_unit_currency(cur) and amount <> trunc(amount) then
    raise exception '% amounts are whole units: % has cents', cur, amount
      using errcode = 'CKM02',
            detail = jsonb_build_object('table', tg_table_name, 'currency', cur, 'amount', amount,
                                        'suggestion', round(amount))::text,
            hint = 'MercadoPago rejects CLP and COP amounts with decimals; round the price.';
  end if;
  return new;
end
$$;
comment on function private.check_whole_unit_price() is
  'Trigger: a variant price, or a fixed coupon value, in a whole-unit currency (CLP, COP) has no cents. Error CKM02 with detail {table, currency, amount, suggestion}.';
-- `of price, currency`: the hot paths (reserved counter, stock) never fire it.
create trigger variants_whole_unit_price
  before insert or update of price, currency on public.variants
  for each row execute function private.check_whole_unit_price();

-- ---------------------------------------------------------------------------
-- Policies

create policy "Products are readable by everyone"
  on public.products for select to anon, authenticated using (true);
create policy "Variants are readable by everyone"
  on public.variants for select to anon, authenticated using (true);

-- ---------------------------------------------------------------------------
-- Routines

create function private.is_whole_unit_currency(p_currency text)
returns boolean
language sql immutable set search_path = ''
as $$
  select p_currency in ('CLP', 'COP')
$$;
comment on function private.is_whole_unit_currency(text) is
  'Currencies MercadoPago charges in whole units (no cents): CLP and COP. One list, used by the price checks and the discount rounding.';
grant execute on function private.is_whole_unit_currency(text) to service_role;

create function private.available_stock(p_variant_id uuid)
returns integer
language plpgsql stable security definer set search_path = ''
as $$
begin
  return (
    -- reserved counts every reservation row; those already expired hold
    -- nothing (lazy expiry), so they are added back. Until the cron releases
    -- them there are few, and the index reads just that range.
    select v.stock_on_hand - v.reserved + coalesce((
      select sum(r.quantity)::integer
      from checkout.stock_reservations r
      where r.variant_id = v.id and r.expires_at <= now()
    ), 0)
    from public.variants v
    where v.id = p_variant_id
  );
end
$$;
comment on function private.available_stock(uuid) is
  'Units of a variant that can still be sold: stock on hand minus unexpired reservations (an expired reservation is free at once, cron or not). NULL for an unknown variant. Read-only, security definer. Executed by authenticated (the cart routines), service_role (checkout) and storefront.available_stock (the catalog); not by anon.';
grant execute on function private.available_stock(uuid) to authenticated, service_role;

-- anon's one RPC, public.get_catalog() (security invoker), shows each
-- variant's available stock through storefront, so anon needs nothing in
-- private.
create function storefront.available_stock(p_variant_id uuid)
returns integer
language plpgsql stable security definer set search_path = ''
as $$
begin
  return (
    select private.available_stock(p_variant_id)
  );
end
$$;
comment on function storefront.available_stock(uuid) is
  'Units of a variant that can still be sold (private.available_stock, for the catalog): security definer, so anon needs nothing in private. NULL for an unknown variant.';
grant execute on function storefront.available_stock(uuid) to anon, authenticated, service_role;

create function public.get_catalog()
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(jsonb_agg(p.product order by p.title), '[]'::jsonb)
  from (
    select pr.title, jsonb_build_object(
      'id', pr.id,
      'slug', pr.slug,
      'title', pr.title,
      'description', pr.description,
      'image_url', pr.image_url,
      'variants', coalesce((
        select jsonb_agg(jsonb_build_object(
          'id', v.id,
          'sku', v.sku,
          'title', v.title,
          'attributes', v.attributes,
          'price', v.price,
          'currency', v.currency,
          'available', greatest(storefront.available_stock(v.id), 0)
        ) order by v.position, v.sku)
        from public.variants v
        where v.product_id = pr.id and v.active
      ), '[]'::jsonb)
    ) as product
    from public.products pr
    where pr.active
  ) p
$$;
comment on function public.get_catalog() is
  'Active products with their active variants, prices and the stock available right now. Callable by anon and authenticated.';
grant execute on function public.get_catalog() to anon, authenticated, service_role;

-- ===========================================================================
-- supabase/schemas/02_carts.sql
-- ===========================================================================

-- Carts: one per shopper (session_id = auth.uid() of an anonymous or
-- permanent Supabase user), one line per variant. Every read or write slides
-- expires_at to now + cart_ttl (7 days); the cron purges expired carts
-- (13_housekeeping.sql). The rules on lines (known active variant, quantity
-- range, stock, one currency) live in a trigger, so they hold for the RPC
-- and for a direct insert through the Data API alike.

-- ---------------------------------------------------------------------------
-- Tables

create table public.carts (
  session_id uuid primary key references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '7 days'
);
comment on table public.carts is
  'One cart per shopper (session_id = auth.uid()). expires_at slides on every cart read or write (set by trigger, never by the client). Shoppers see and touch only their own.';

create index carts_expires_at_idx on public.carts (expires_at);

alter table public.carts enable row level security;
revoke all on public.carts from anon, authenticated, service_role;
grant select on public.carts to authenticated;
grant select, insert, update, delete on public.carts to service_role;
-- Column grants: a shopper writes only the columns the cart routines write
-- (the owner on insert, updated_at to slide the expiry); PostgreSQL refuses
-- the rest (42501). The triggers stay as the rule for the service role.
grant insert (session_id), update (updated_at) on public.carts to authenticated;

create table public.cart_items (
  session_id uuid not null references public.carts (session_id) on delete cascade,
  variant_id uuid not null references public.variants (id) on delete cascade,
  quantity integer not null check (quantity > 0),
  added_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (session_id, variant_id)
);
comment on table public.cart_items is
  'Cart lines, one per variant. Validated by private.check_cart_item (active variant, 1..max_line_quantity, within available stock, one currency per cart). Shoppers manage only their own.';

create index cart_items_variant_id_idx on public.cart_items (variant_id);

alter table public.cart_items enable row level security;
revoke all on public.cart_items from anon, authenticated, service_role;
grant select, delete on public.cart_items to authenticated;
grant select, insert, update, delete on public.cart_items to service_role;
-- A shopper writes a line's owner, variant and quantity, and changes only
-- its quantity (add_to_cart's `on conflict do update set quantity`).
grant insert (session_id, variant_id, quantity), update (quantity) on public.cart_items to authenticated;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.slide_cart_expiry()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    if new.session_id <> old.session_id then
      raise exception 'a cart cannot change owner' using errcode = 'CKI02';
    end if;
    new.created_at := old.created_at;
  else
    new.created_at := now();
  end if;
  new.updated_at := now();
  new.expires_at := now() + (private.current_settings()).cart_ttl;
  return new;
end
$$;
comment on function private.slide_cart_expiry() is
  'Trigger: every write to a cart sets expires_at to now + cart_ttl; clients cannot choose it.';
create trigger carts_slide_expiry
  before insert or update on public.carts
  for each row execute function private.slide_cart_expiry();

create function private.check_cart_item()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  v record;
  max_qty integer := (private.current_settings()).max_line_quantity;
  available integer;
  other_currency text;
begin
  if tg_op = 'UPDATE' then
    if new.session_id <> old.session_id or new.variant_id <> old.variant_id then
      raise exception 'a cart line cannot move to another cart or variant' using errcode = 'CKI02';
    end if;
    -- Lowering a quantity needs no check (a paid order removes its units
    -- from the cart even if the variant was withdrawn since).
    if new.quantity <= old.quantity then
      new.updated_at := now();
      return new;
    end if;
  end if;

  select pv.sku, pv.active and pp.active as active, pv.currency
    into v
    from public.variants pv
    join public.products pp on pp.id = pv.product_id
   where pv.id = new.variant_id;
  if not found then
    raise exception 'unknown variant %', new.variant_id
      using errcode = 'CKV01',
            detail = jsonb_build_object('variant_id', new.variant_id)::text;
  end if;
  if not v.active then
    raise exception 'variant % is not for sale', v.sku
      using errcode = 'CKV01',
            detail = jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku)::text;
  end if;

  if new.quantity is null or new.quantity < 1 or new.quantity > max_qty then
    raise exception 'quantity of % must be between 1 and %, got %', v.sku, max_qty, coalesce(new.quantity::text, 'null')
      using errcode = 'CKQ01',
            detail = jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'requested', new.quantity, 'max', max_qty)::text;
  end if;

  -- Here the line is new or grows: its units must be available.
  available := greatest(private.available_stock(new.variant_id), 0);
  if new.quantity > available then
    raise exception 'only % of % available, % requested', available, v.sku, new.quantity
      using errcode = 'CKS01',
            detail = jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'requested', new.quantity, 'available', available)::text;
  end if;

  if tg_op = 'INSERT' then
    select pv.currency into other_currency
      from public.cart_items ci
      join public.variants pv on pv.id = ci.variant_id
     where ci.session_id = new.session_id and ci.variant_id <> new.variant_id and pv.currency <> v.currency
     limit 1;
    if other_currency is not null then
      raise exception '% is priced in % but the cart is in %', v.sku, v.currency, other_currency
        using errcode = 'CKM01',
              detail = jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'currency', v.currency, 'cart_currency', other_currency)::text;
    end if;
    new.added_at := now();
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function private.check_cart_item() is
  'Trigger: a cart line names a known, active variant, holds 1..max_line_quantity units, no more than are available, in the cart''s currency. Errors: CKV01 unknown/inactive variant, CKQ01 quantity out of range, CKS01 not enough stock, CKM01 mixed currencies; the detail is JSON.';
create trigger cart_items_check
  before insert or update on public.cart_items
  for each row execute function private.check_cart_item();

create function private.touch_cart_of_line()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  -- Lines deleted along with their cart (the purge) have no cart to touch.
  if pg_trigger_depth() > 1 then
    return null;
  end if;
  -- A cart the RPCs already slid in this transaction (now() is fixed) is
  -- left alone, so this writes only for a direct write to cart_items.
  update public.carts set updated_at = now()
   where session_id = coalesce(new.session_id, old.session_id)
     and expires_at < now() + (private.current_settings()).cart_ttl;
  return null;
end
$$;
comment on function private.touch_cart_of_line() is
  'Trigger: any write to a cart line slides its cart''s expiry, direct writes through the Data API included.';
create trigger cart_items_touch_cart
  after insert or update or delete on public.cart_items
  for each row execute function private.touch_cart_of_line();

-- ---------------------------------------------------------------------------
-- Policies

create policy "Shoppers read their own cart" on public.carts for select to authenticated
  using (session_id = (select auth.uid()));
create policy "Shoppers create their own cart" on public.carts for insert to authenticated
  with check (session_id = (select auth.uid()));
create policy "Shoppers touch their own cart" on public.carts for update to authenticated
  using (session_id = (select auth.uid())) with check (session_id = (select auth.uid()));

create policy "Shoppers read their own cart lines" on public.cart_items for select to authenticated
  using (session_id = (select auth.uid()));
create policy "Shoppers add lines to their own cart" on public.cart_items for insert to authenticated
  with check (session_id = (select auth.uid()));
create policy "Shoppers remove their own cart lines" on public.cart_items for delete to authenticated
  using (session_id = (select auth.uid()));
create policy "Shoppers change their own cart lines" on public.cart_items for update to authenticated
  using (session_id = (select auth.uid())) with check (session_id = (select auth.uid()));

-- ---------------------------------------------------------------------------
-- Routines: the shopper's cart RPC (security invoker: they run as the
-- shopper, under RLS) and their helpers.

create function private.require_shopper()
returns uuid
language plpgsql stable set search_path = ''
as $$
declare
  uid uuid := auth.uid();
begin
  if uid is null then
    raise exception 'no shopper session: sign in (anonymously) first'
      using errcode = '42501', hint = 'Call supabase.auth.signInAnonymously() before using the cart.';
  end if;
  return uid;
end
$$;
comment on function private.require_shopper() is
  'auth.uid() of the caller, or error 42501 when the request carries no user.';
grant execute on function private.require_shopper() to authenticated, service_role;

create function private.cart_json(p_session_id uuid)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  return (
    with lines as (
      select ci.variant_id, ci.quantity, ci.added_at, v.sku, v.title as variant_title, v.attributes,
             v.price, v.currency, v.active and p.active as active, p.id as product_id, p.title as product_title,
             p.image_url, greatest(private.available_stock(v.id), 0) as available
        from public.cart_items ci
        join public.variants v on v.id = ci.variant_id
        join public.products p on p.id = v.product_id
       where ci.session_id = p_session_id
    )
    select jsonb_build_object(
      'session_id', p_session_id,
      'expires_at', (select c.expires_at from public.carts c where c.session_id = p_session_id),
      'currency', (select min(l.currency) from lines l),
      'item_count', coalesce((select sum(l.quantity) from lines l), 0),
      'subtotal', coalesce((select sum(l.price * l.quantity) from lines l), 0),
      'lines', coalesce((
        select jsonb_agg(jsonb_build_object(
          'variant_id', l.variant_id,
          'product_id', l.product_id,
          'sku', l.sku,
          'product_title', l.product_title,
          'variant_title', l.variant_title,
          'attributes', l.attributes,
          'image_url', l.image_url,
          'unit_price', l.price,
          'quantity', l.quantity,
          'line_total', l.price * l.quantity,
          'available', l.available,
          'active', l.active
        ) order by l.added_at, l.sku)
        from lines l
      ), '[]'::jsonb)
    )
  );
end
$$;
comment on function private.cart_json(uuid) is
  'The cart of a shopper as JSON (lines, unit prices, line totals, subtotal). Runs as the caller, so RLS decides what it sees.';
grant execute on function private.cart_json(uuid) to authenticated, service_role;

create function private.touch_cart(p_session_id uuid)
returns void
language plpgsql set search_path = ''
as $$
begin
  insert into public.carts (session_id) values (p_session_id)
  on conflict (session_id) do update set updated_at = now();
end
$$;
comment on function private.touch_cart(uuid) is
  'Creates the shopper''s cart or slides its expiry. Runs as the caller, under RLS.';
grant execute on function private.touch_cart(uuid) to authenticated, service_role;

create function private.check_line_request(p_variant_id uuid, p_quantity integer, p_min integer)
returns void
language plpgsql stable set search_path = ''
as $$
declare
  max_qty integer := (private.current_settings()).max_line_quantity;
begin
  if p_variant_id is null then
    raise exception 'variant is required' using errcode = 'CKV01';
  end if;
  if p_quantity is null or p_quantity < p_min or p_quantity > max_qty then
    raise exception 'quantity must be between % and %, got %', p_min, max_qty, coalesce(p_quantity::text, 'null')
      using errcode = 'CKQ01',
            detail = jsonb_build_object('variant_id', p_variant_id, 'requested', p_quantity, 'max', max_qty)::text;
  end if;
end
$$;
comment on function private.check_line_request(uuid, integer, integer) is
  'Validates the arguments of a cart RPC before anything is written: CKV01 without a variant, CKQ01 for a quantity outside p_min..max_line_quantity.';
grant execute on function private.check_line_request(uuid, integer, integer) to authenticated, service_role;

create function public.get_cart()
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  uid uuid := private.require_shopper();
begin
  -- Reading slides the expiry too, but does not create an empty cart.
  update public.carts set updated_at = now() where session_id = uid;
  return private.cart_json(uid);
end
$$;
comment on function public.get_cart() is
  'The caller''s cart: lines with unit prices, line totals and available stock, and the subtotal. Slides the cart''s expiry. For authenticated (anonymous included).';
grant execute on function public.get_cart() to authenticated, service_role;

create function public.add_to_cart(p_variant_id uuid, p_quantity integer default 1)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  uid uuid := private.require_shopper();
begin
  perform private.check_line_request(p_variant_id, p_quantity, 1);
  perform private.touch_cart(uid);
  insert into public.cart_items (session_id, variant_id, quantity)
  values (uid, p_variant_id, p_quantity)
  on conflict (session_id, variant_id) do update set quantity = public.cart_items.quantity + excluded.quantity;
  return private.cart_json(uid);
end
$$;
comment on function public.add_to_cart(uuid, integer) is
  'Adds a quantity of a variant to the caller''s cart (merging with an existing line) and returns the cart. Errors CKV01, CKQ01, CKS01, CKM01 write nothing.';
grant execute on function public.add_to_cart(uuid, integer) to authenticated, service_role;

create function public.set_cart_item_quantity(p_variant_id uuid, p_quantity integer)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  uid uuid := private.require_shopper();
begin
  perform private.check_line_request(p_variant_id, p_quantity, 0);
  perform private.touch_cart(uid);
  if p_quantity = 0 then
    delete from public.cart_items where session_id = uid and variant_id = p_variant_id;
  else
    -- Update first: an INSERT ... ON CONFLICT would run the insert check
    -- (stock for the whole new quantity) even when only lowering a line.
    update public.cart_items set quantity = p_quantity where session_id = uid and variant_id = p_variant_id;
    if not found then
      insert into public.cart_items (session_id, variant_id, quantity)
      values (uid, p_variant_id, p_quantity)
      on conflict (session_id, variant_id) do update set quantity = excluded.quantity;
    end if;
  end if;
  return private.cart_json(uid);
end
$$;
comment on function public.set_cart_item_quantity(uuid, integer) is
  'Sets the quantity of a line in the caller''s cart (0 removes it, a missing line is created) and returns the cart.';
grant execute on function public.set_cart_item_quantity(uuid, integer) to authenticated, service_role;

create function public.remove_from_cart(p_variant_id uuid)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  uid uuid := private.require_shopper();
begin
  perform private.touch_cart(uid);
  delete from public.cart_items where session_id = uid and variant_id = p_variant_id;
  return private.cart_json(uid);
end
$$;
comment on function public.remove_from_cart(uuid) is
  'Removes a line from the caller''s cart (no error if it is not there) and returns the cart.';
grant execute on function public.remove_from_cart(uuid) to authenticated, service_role;

create function public.clear_cart()
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  uid uuid := private.require_shopper();
begin
  perform private.touch_cart(uid);
  delete from public.cart_items where session_id = uid;
  return private.cart_json(uid);
end
$$;
comment on function public.clear_cart() is 'Empties the caller''s cart and returns it.';
grant execute on function public.clear_cart() to authenticated, service_role;

-- ===========================================================================
-- supabase/schemas/03_coupons.sql
-- ===========================================================================

-- Coupons: a percentage or a fixed amount off the subtotal, with a minimum
-- subtotal, a validity window and an optional cap on redemptions. A coupon is
-- "held" by every paid order session and every active, unexpired one that
-- used it; begin_checkout counts holders under a lock on the coupon row, so
-- concurrent checkouts can never exceed max_redemptions. The rule lives in
-- one place, private.apply_coupon_rule: the checkout applies it, and the
-- cart's preview shows what it would take off before paying.

-- ---------------------------------------------------------------------------
-- Tables

create table checkout.coupons (
  id uuid primary key default gen_random_uuid(),
  code text not null unique check (code ~ '^[A-Z0-9_-]{3,32}$'),
  kind text not null check (kind in ('percent', 'fixed')),
  value numeric(12, 2) not null check (value > 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  min_subtotal numeric(12, 2) not null default 0 check (min_subtotal >= 0),
  starts_at timestamptz,
  ends_at timestamptz,
  max_redemptions integer check (max_redemptions > 0),
  active boolean not null default true,
  created_at timestamptz not null default now(),
  constraint coupons_percent_below_100 check (kind <> 'percent' or value < 100),
  constraint coupons_fixed_has_currency check (kind <> 'fixed' or currency is not null),
  constraint coupons_window_ordered check (starts_at is null or ends_at is null or ends_at > starts_at)
);
comment on table checkout.coupons is
  'Discount coupons, upper-case codes matched case-insensitively. Not readable by shoppers (codes are secrets); managed by the store owner with service_role or SQL.';

-- No policy: shoppers never read coupons (codes are secrets); begin_checkout
-- and the preview (security definer) validate the code they submit.
alter table checkout.coupons enable row level security;
grant select, insert, update, delete on checkout.coupons to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create trigger coupons_whole_unit_value
  before insert or update of value, currency, kind on checkout.coupons
  for each row execute function private.check_whole_unit_price();

-- ---------------------------------------------------------------------------
-- Routines

create function private.apply_coupon_rule(
  c checkout.coupons,
  p_code text,
  p_subtotal numeric,
  p_currency text,
  p_holders integer
)
returns numeric
language plpgsql stable set search_path = ''
as $$
declare
  v_discount numeric(12, 2);
begin
  if c.id is null or not c.active then
    raise exception 'unknown coupon %', p_code using errcode = 'CKP01', detail = jsonb_build_object('coupon', p_code)::text;
  end if;
  if (c.starts_at is not null and c.starts_at > now()) or (c.ends_at is not null and c.ends_at <= now()) then
    raise exception 'coupon % is not valid now', p_code
      using errcode = 'CKP02', detail = jsonb_build_object('coupon', p_code, 'starts_at', c.starts_at, 'ends_at', c.ends_at)::text;
  end if;
  if p_subtotal < c.min_subtotal then
    raise exception 'coupon % needs a subtotal of at least % %', p_code, c.min_subtotal, p_currency
      using errcode = 'CKP02', detail = jsonb_build_object('coupon', p_code, 'min_subtotal', c.min_subtotal, 'subtotal', p_subtotal)::text;
  end if;
  if c.kind = 'fixed' and c.currency <> p_currency then
    raise exception 'coupon % is in % but the cart is in %', p_code, c.currency, p_currency
      using errcode = 'CKP02', detail = jsonb_build_object('coupon', p_code, 'currency', c.currency)::text;
  end if;
  if c.max_redemptions is not null and p_holders >= c.max_redemptions then
    raise exception 'coupon % has been used up', p_code
      using errcode = 'CKP03', detail = jsonb_build_object('coupon', p_code, 'max_redemptions', c.max_redemptions)::text;
  end if;
  v_discount := case c.kind when 'percent' then round(p_subtotal * c.value / 100, 2) else c.value end;
  if private.is_whole_unit_currency(p_currency) then
    -- MercadoPago charges these currencies in whole units.
    v_discount := round(v_discount);
  end if;
  if v_discount >= p_subtotal then
    raise exception 'coupon % would leave nothing to pay', p_code
      using errcode = 'CKP02', detail = jsonb_build_object('coupon', p_code, 'subtotal', p_subtotal)::text;
  end if;
  return v_discount;
end
$$;
comment on function private.apply_coupon_rule(checkout.coupons, text, numeric, text, integer) is
  'The coupon rule, in one place: the discount a coupon row (NULL when the code is unknown) gives a subtotal in a currency when p_holders sessions already hold it; CKP01 unknown or inactive, CKP02 outside its window, under its minimum, in another currency or leaving nothing to pay, CKP03 used up. Called by checkout.begin_checkout (under the coupon''s lock) and by private.coupon_quote (the preview).';

create function private.coupon_holders(p_coupon_id uuid, p_except uuid[] default '{}')
returns integer
language plpgsql stable set search_path = ''
as $$
begin
  return (
    select count(*)::integer
     from public.order_sessions os
    where os.coupon_id = p_coupon_id
      and os.id <> all (p_except)
      and (os.status = 'paid' or (os.status = 'active' and os.expires_at > now()))
  );
end
$$;
comment on function private.coupon_holders(uuid, uuid[]) is
  'How many order sessions hold a coupon: the paid ones and the active, unexpired ones (but those in p_except). Callers hold the coupon''s row lock.';

create function private.coupon_quote(p_code text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  uid uuid := private.require_shopper();
  v_code text := upper(nullif(btrim(p_code), ''));
  c checkout.coupons;
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  v_discount numeric(12, 2);
  own_sessions uuid[];
begin
  if v_code is null or length(v_code) > 64 then
    raise exception 'coupon code is required' using errcode = 'CKI01';
  end if;
  -- The cart as begin_checkout prices it: summed per variant at today's prices.
  select count(distinct v.currency), min(v.currency), sum(v.price * ci.quantity), sum(ci.quantity)
    into currencies, cur, v_subtotal, v_items
    from public.cart_items ci
    join public.variants v on v.id = ci.variant_id
   where ci.session_id = uid;
  if coalesce(v_items, 0) = 0 then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;
  select * into c from checkout.coupons where coupons.code = v_code;
  -- A checkout would cancel the shopper's own active session, which then no
  -- longer holds the coupon: begin_checkout leaves it out of the count too.
  select coalesce(array_agg(os.id), '{}') into own_sessions
    from public.order_sessions os where os.session_id = uid and os.status = 'active';
  v_discount := private.apply_coupon_rule(
    c, v_code, v_subtotal, cur,
    case when c.id is null or c.max_redemptions is null then 0 else private.coupon_holders(c.id, own_sessions) end);
  return jsonb_build_object(
    'coupon', v_code,
    'kind', c.kind,
    'value', c.value,
    'currency', cur,
    'item_count', v_items,
    'subtotal', v_subtotal,
    'discount', v_discount,
    'total', v_subtotal - v_discount
  );
end
$$;
comment on function private.coupon_quote(text) is
  'The caller''s cart with a coupon applied, read-only: {coupon, kind, value, currency, item_count, subtotal, discount, total}, through private.apply_coupon_rule (what begin_checkout applies). Security definer because shoppers cannot read coupons; it reads only the caller''s cart (auth.uid()). Errors: those of the rule, CKC01 empty cart, CKM01 mixed currencies, CKI01 no code, 42501 no session. Granted to authenticated for public.preview_coupon.';
grant execute on function private.coupon_quote(text) to authenticated, service_role;

create function public.preview_coupon(p_code text)
returns jsonb
language sql stable set search_path = ''
as $$
  select private.coupon_quote(p_code)
$$;
comment on function public.preview_coupon(text) is
  'Shopper RPC: what a coupon would take off the caller''s cart now (discount and total), with the errors checkout would give (CKP01 unknown, CKP02 not applicable, CKP03 used up, CKC01 empty cart). Reads only; the coupon is not reserved until checkout. For authenticated.';
grant execute on function public.preview_coupon(text) to authenticated, service_role;

-- ===========================================================================
-- supabase/schemas/04_order_sessions.sql
-- ===========================================================================

-- Order sessions and reservations: what a checkout creates (never an order).
-- A snapshot of the cart's lines at the prices read from the database, the
-- payer, the shipping address, the totals and a reservation of the stock
-- until expires_at. Shoppers may read their own sessions and never write
-- them; the reservations and the event log are the service's alone.
--
-- A new checkout cancels (replaces) the cart's active session and joins its
-- checkout_group: at most one session of a group may become an order
-- (06_payments_and_orders.sql, private.settle_approved).

-- ---------------------------------------------------------------------------
-- Types

create type public.order_session_status as enum (
  'active',      -- stock reserved, waiting for the payment
  'paid',        -- an order was created from it
  'expired',     -- the reservation ran out without a payment
  'cancelled',   -- replaced by a newer checkout, or released because the preference could not be created
  'refund_owed', -- paid after expiry with no stock left: the payment must be refunded
  'refunded'     -- that refund was made
);
comment on type public.order_session_status is
  'Life cycle of an order session; statuses only move forward (see private.check_order_session_transition).';

-- ---------------------------------------------------------------------------
-- Tables

create table public.order_sessions (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null,
  token text not null unique
    default ('os_' || replace(gen_random_uuid()::text, '-', ''))
    check (token ~ '^[A-Za-z0-9_-]{1,64}$'),
  status public.order_session_status not null default 'active',
  lines jsonb not null check (jsonb_typeof(lines) = 'array' and jsonb_array_length(lines) > 0),
  item_count integer not null check (item_count > 0),
  subtotal numeric(12, 2) not null check (subtotal > 0),
  discount numeric(12, 2) not null default 0 check (discount >= 0),
  total numeric(12, 2) not null check (total > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  coupon_id uuid references checkout.coupons (id) on delete restrict,
  coupon_code text,
  payer jsonb not null check (jsonb_typeof(payer) = 'object'),
  shipping_address jsonb not null check (jsonb_typeof(shipping_address) = 'object'),
  preference_id text,
  payment_id bigint,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  paid_at timestamptz,
  closed_at timestamptz,
  checkout_group uuid not null default gen_random_uuid(),
  next_check_at timestamptz not null default now() + interval '2 minutes',
  checks integer not null default 0 check (checks >= 0),
  preference_expired_at timestamptz,
  client_address text check (client_address ~ '^[0-9a-f]{64}$'),
  constraint order_sessions_total_is_subtotal_minus_discount check (total = subtotal - discount)
);
comment on table public.order_sessions is
  'A checkout in progress: snapshot of the lines (variant, title, unit price, quantity), payer, shipping address, totals and the MercadoPago preference. token is the external_reference sent to MercadoPago. Shoppers read their own (RLS on session_id); only the checkout routines write.';
comment on column public.order_sessions.session_id is
  'The shopper: auth.uid() of the (anonymous) Supabase user who checked out.';
comment on column public.order_sessions.token is
  'Random, unguessable; MercadoPago''s external_reference (at most 64 letters, digits, - and _).';
comment on column public.order_sessions.lines is
  'Snapshot: [{variant_id, sku, title, unit_price, quantity, line_total}] at the prices read when the checkout began.';
comment on column public.order_sessions.checkout_group is
  'The cart checkout this session belongs to: a checkout that replaces an active session joins its group. At most one session of a group may become an order; a payment for another is taken over or refunded (see private.settle_superseded).';
comment on column public.order_sessions.next_check_at is
  'When the reconciliation job (Edge Function reconcile) may next ask MercadoPago about this session; moved forward with back-off by checkout.claim_reconciliation.';
comment on column public.order_sessions.checks is
  'How many times the reconciliation job asked MercadoPago about this session.';
comment on column public.order_sessions.client_address is
  'HMAC-SHA256 of the client address the checkout came from (IPv6 by /64) under private.client_address_secret; never the address itself. Null when the caller''s address was not known (not through create-preference).';
comment on column public.order_sessions.preference_expired_at is
  'When the preference of this cancelled or expired session was expired at MercadoPago (best effort, by the reconcile function); NULL while it may still be payable there.';

create index order_sessions_session_id_idx on public.order_sessions (session_id, created_at desc);
create index order_sessions_active_expires_idx on public.order_sessions (expires_at) where status = 'active';
create index order_sessions_coupon_idx on public.order_sessions (coupon_id) where coupon_id is not null;
create index order_sessions_closed_idx on public.order_sessions (closed_at) where status in ('expired', 'cancelled');
create unique index order_sessions_one_active_per_shopper on public.order_sessions (session_id) where status = 'active';
create index order_sessions_checkout_group_idx on public.order_sessions (checkout_group);
create index order_sessions_reconcile_idx on public.order_sessions (next_check_at)
  where status in ('active', 'expired', 'cancelled');
create index order_sessions_preference_open_idx on public.order_sessions (closed_at)
  where status in ('expired', 'cancelled') and preference_id is not null and preference_expired_at is null;

alter table public.order_sessions enable row level security;
revoke all on public.order_sessions from anon, authenticated, service_role;
grant select on public.order_sessions to authenticated;
grant select, insert, update, delete on public.order_sessions to service_role;

-- Stock held for an order session. A row whose expires_at has passed holds
-- nothing, whether or not the cron has deleted it yet (lazy expiry).
create table checkout.stock_reservations (
  order_session_id uuid not null references public.order_sessions (id) on delete cascade,
  variant_id uuid not null references public.variants (id) on delete restrict,
  quantity integer not null check (quantity > 0),
  expires_at timestamptz not null,
  primary key (order_session_id, variant_id)
);
comment on table checkout.stock_reservations is
  'Units of a variant held for an order session until expires_at. Expired rows hold nothing (lazy expiry); the cron deletes them. Service role only.';

create index stock_reservations_variant_idx on checkout.stock_reservations (variant_id, expires_at) include (quantity);

alter table checkout.stock_reservations enable row level security;
grant select, insert, update, delete on checkout.stock_reservations to service_role;

-- Append-only trace of everything that happened to an order session.
create table checkout.order_session_events (
  id bigint generated always as identity primary key,
  order_session_id uuid not null references public.order_sessions (id) on delete cascade,
  kind text not null check (kind in (
    'created', 'reserved', 'preference_attached', 'payment_seen', 'committed',
    'expired', 'cancelled', 'amount_mismatch', 'refund_owed', 'refunded', 'order_status_changed',
    'taken_over', 'preference_expired', 'refund_failed'
  )),
  payment_id bigint,
  detail jsonb not null default '{}',
  created_at timestamptz not null default clock_timestamp()
);
comment on table checkout.order_session_events is
  'Append-only event log per order session (created, reserved, preference attached, payment seen with its status, committed, expired, cancelled, refund owed...). Service role only; rows are never updated.';

create index order_session_events_session_idx on checkout.order_session_events (order_session_id, id);

alter table checkout.order_session_events enable row level security;
grant select, insert on checkout.order_session_events to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.check_order_session_transition()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  if new.id <> old.id or new.session_id <> old.session_id or new.token <> old.token
     or new.lines <> old.lines or new.total <> old.total or new.currency <> old.currency then
    raise exception 'order session % is immutable except for its status and payment fields', old.id
      using errcode = 'CKI02';
  end if;
  if new.status <> old.status and not (
       (old.status = 'active' and new.status in ('paid', 'expired', 'cancelled', 'refund_owed'))
    or (old.status in ('expired', 'cancelled') and new.status in ('paid', 'refund_owed'))
    or (old.status = 'refund_owed' and new.status = 'refunded')
  ) then
    raise exception 'order session % cannot move from % to %', old.id, old.status, new.status
      using errcode = 'CKI02';
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function private.check_order_session_transition() is
  'Trigger: order sessions are immutable snapshots whose status only moves forward.';
-- Order sessions change owner only through the cart merge
-- (09_accounts_and_merge.sql): it moves them under a transaction-local marker
-- naming exactly the move (anonymous id > account id), and the trigger skips
-- only a row whose session_id changes in that way. Only privileged roles can
-- update the table at all.
create trigger order_sessions_transition
  before update on public.order_sessions
  for each row
  when (old.session_id = new.session_id
        or current_setting('checkout.owner_move', true) is distinct from (old.session_id::text || '>' || new.session_id::text))
  execute function private.check_order_session_transition();

create function private.forbid_event_update()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  raise exception 'order_session_events is append-only' using errcode = 'CKI02';
end
$$;
comment on function private.forbid_event_update() is 'Trigger: the order session event log is append-only.';
create trigger order_session_events_append_only
  before update on checkout.order_session_events
  for each row execute function private.forbid_event_update();

-- variants.reserved follows the reservation rows, so that availability is
-- one row read instead of a sum over every reservation of a hot product.
-- Statement triggers, on insert and delete only: a reservation's variant and
-- quantity never change (stock_reservations_immutable_units), so the counter
-- cannot drift through an update.
create function private.count_reservations()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  counted_by_caller text := nullif(current_setting('checkout.reserving_session', true), '');
begin
  -- Each branch names only the transition tables its event has.
  if tg_op = 'INSERT' then
    if counted_by_caller is not null
       and not exists (select 1 from new_rows n where n.order_session_id::text <> counted_by_caller) then
      return null;
    end if;
    perform 1 from public.variants v
     where v.id in (select n.variant_id from new_rows n where n.order_session_id::text is distinct from counted_by_caller)
     order by v.id for update;
    update public.variants v set reserved = v.reserved + d.quantity
      from (select n.variant_id, sum(n.quantity)::integer as quantity from new_rows n
             where n.order_session_id::text is distinct from counted_by_caller group by n.variant_id) d
     where v.id = d.variant_id;
  else
    perform 1 from public.variants v where v.id in (select o.variant_id from old_rows o) order by v.id for update;
    update public.variants v set reserved = v.reserved - d.quantity
      from (select o.variant_id, sum(o.quantity)::integer as quantity from old_rows o group by o.variant_id) d
     where v.id = d.variant_id;
  end if;
  return null;
end
$$;
comment on function private.count_reservations() is
  'Trigger (after insert, after delete; statement level): keeps variants.reserved equal to the units of its reservation rows. Rows of the order session named in the transaction-local setting checkout.reserving_session are left out: begin_checkout counts those itself.';
create trigger stock_reservations_count_delete
  after delete on checkout.stock_reservations
  referencing old table as old_rows
  for each statement execute function private.count_reservations();
create trigger stock_reservations_count_insert
  after insert on checkout.stock_reservations
  referencing new table as new_rows
  for each statement execute function private.count_reservations();

create function private.forbid_reservation_recount()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  raise exception 'a reservation''s variant and quantity never change: release it and reserve again'
    using errcode = 'CKI02',
          detail = jsonb_build_object('field', case when new.variant_id is distinct from old.variant_id then 'variant_id' else 'quantity' end)::text;
end
$$;
comment on function private.forbid_reservation_recount() is
  'Trigger: a reservation''s variant_id and quantity are immutable, so variants.reserved only moves on insert and delete.';
create trigger stock_reservations_immutable_units
  before update of variant_id, quantity on checkout.stock_reservations
  for each row
  when (new.variant_id is distinct from old.variant_id or new.quantity is distinct from old.quantity)
  execute function private.forbid_reservation_recount();

-- ---------------------------------------------------------------------------
-- Policies

create policy "Shoppers read their own order sessions"
  on public.order_sessions for select to authenticated
  using (session_id = (select auth.uid()));
-- stock_reservations and order_session_events: no policy; only the service
-- role (which bypasses RLS) and the definer routines read them.

-- ---------------------------------------------------------------------------
-- Routines

create function private.order_session_json(s public.order_sessions)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  return (
    select jsonb_build_object(
      'id', s.id,
      'session_id', s.session_id,
      'token', s.token,
      'status', s.status,
      'lines', s.lines,
      'item_count', s.item_count,
      'subtotal', s.subtotal,
      'discount', s.discount,
      'total', s.total,
      'currency', s.currency,
      'coupon_code', s.coupon_code,
      'payer', s.payer,
      'shipping_address', s.shipping_address,
      'preference_id', s.preference_id,
      'payment_id', s.payment_id,
      'expires_at', s.expires_at,
      'created_at', s.created_at,
      'paid_at', s.paid_at
    )
  );
end
$$;
comment on function private.order_session_json(public.order_sessions) is
  'An order session as the JSON the checkout routines return.';
grant execute on function private.order_session_json(public.order_sessions) to service_role;

create function private.log_event(
  p_order_session_id uuid,
  p_kind text,
  p_detail jsonb default '{}',
  p_payment_id bigint default null
)
returns void
language plpgsql set search_path = ''
as $$
begin
  insert into checkout.order_session_events (order_session_id, kind, payment_id, detail)
  values (p_order_session_id, p_kind, p_payment_id, coalesce(p_detail, '{}'::jsonb));
end
$$;
comment on function private.log_event(uuid, text, jsonb, bigint) is
  'Appends an event to an order session''s log. Called by the checkout routines.';
grant execute on function private.log_event(uuid, text, jsonb, bigint) to service_role;

-- One owner per rule: release_stock is the one path that frees reserved units
-- (cancel, expire, commit, cannot fulfil); short_lines the one builder of
-- the "short lines" list for checkouts and payments alike.
create function private.release_stock(p_order_session_ids uuid[])
returns integer
language plpgsql set search_path = ''
as $$
declare
  n integer;
begin
  -- The statement trigger on stock_reservations lowers variants.reserved,
  -- locking the variants by id.
  delete from checkout.stock_reservations where order_session_id = any (p_order_session_ids);
  get diagnostics n = row_count;
  return n;
end
$$;
comment on function private.release_stock(uuid[]) is
  'The one path that frees order sessions'' reserved units (cancel, expire, commit, cannot fulfil). Returns how many reservation rows it deleted.';
grant execute on function private.release_stock(uuid[]) to service_role;

create function private.close_order_session(
  p_order_session_id uuid,
  p_status public.order_session_status,
  p_reason text
)
returns void
language plpgsql set search_path = ''
as $$
begin
  update public.order_sessions
     set status = p_status, closed_at = now()
   where id = p_order_session_id;
  perform private.release_stock(array[p_order_session_id]);
  perform private.log_event(p_order_session_id, p_status::text, jsonb_build_object('reason', p_reason));
end
$$;
comment on function private.close_order_session(uuid, public.order_session_status, text) is
  'Moves an active order session to expired or cancelled and releases its reservation (private.release_stock). The caller holds the session''s row lock.';
grant execute on function private.close_order_session(uuid, public.order_session_status, text) to service_role;

create function private.short_lines(
  p_lines jsonb,
  p_holder uuid default null,
  p_freed uuid[] default '{}',
  p_for_sale boolean default false
)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  return (
    -- A unit is available to a line when nobody else holds it. A line its
    -- session still holds (an unexpired reservation of p_holder) may take any
    -- unit on hand: if the store lowered stock below what was reserved, the
    -- first of the holders to pay gets it. Units held by p_freed sessions
    -- (about to be cancelled) count as free.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', x.variant_id, 'sku', x.sku, 'title', x.title, 'requested', x.requested,
             'available', case when x.sellable then x.available else 0 end,
             'reason', case when x.sellable then 'insufficient_stock' else 'not_for_sale' end) order by x.sku), '[]'::jsonb)
      from (
        select l.variant_id, l.sku, l.title, l.quantity as requested,
               not p_for_sale or coalesce(v.active and p.active, false) as sellable,
               greatest(case
                 when exists (select 1 from checkout.stock_reservations r
                               where r.order_session_id = p_holder and r.variant_id = l.variant_id and r.expires_at > now())
                   then v.stock_on_hand
                 else private.available_stock(l.variant_id) + coalesce((
                   select sum(r.quantity)::integer from checkout.stock_reservations r
                    where r.order_session_id = any (p_freed) and r.variant_id = l.variant_id and r.expires_at > now()), 0)
               end, 0) as available
          from jsonb_to_recordset(p_lines) as l(variant_id uuid, sku text, title text, quantity integer)
          left join public.variants v on v.id = l.variant_id
          left join public.products p on p.id = v.product_id
      ) x
     where not x.sellable or x.requested > x.available
  );
end
$$;
comment on function private.short_lines(jsonb, uuid, uuid[], boolean) is
  'The one builder of the short-lines list: the lines ([{variant_id, sku, title, quantity}]) that cannot be had now, as [{variant_id, sku, title, requested, available, reason}] with reason insufficient_stock or not_for_sale (only when p_for_sale). p_holder''s unexpired reservations may take any unit on hand; p_freed''s count as free. Callers hold the variants'' locks.';
grant execute on function private.short_lines(jsonb, uuid, uuid[], boolean) to service_role;

-- ===========================================================================
-- supabase/schemas/05_checkout.sql
-- ===========================================================================

-- Checkout: from the cart to an order session with its stock reserved, in one
-- transaction. Service role only: the create-preference Edge Function passes
-- the session id taken from a verified JWT, then attaches the MercadoPago
-- preference it created, or releases the session at once if it could not.
--
-- checkout.begin_checkout runs in steps, as apply_payment does, each a
-- private routine with one rule:
--   private.checkout_admission  waits the checkout's turn for its variants;
--   private.checkout_snapshot   the cart's lines at the prices read now, and
--                               "sold out" answered before any variant lock;
--   private.checkout_coupon     the coupon, locked, through the one coupon
--                               rule (private.apply_coupon_rule);
--   private.checkout_reserve    the hot part, last: per variant one
--                               conditional update that locks, checks and
--                               counts, then the reservation rows.
-- begin_checkout itself takes the cart's and the previous session's locks,
-- cancels the session it replaces and writes the new one.
--
-- Admission. Each checkout's conditional update makes a new version of the
-- variant's row, so without turns a crowd on one hot variant raced for each
-- new version: the waiters woke at every commit and queued again behind
-- newcomers, a few waited many times longer than the rest, and the herd cost
-- CPU on every commit. Now the checkouts of one variant are let in in the
-- order they came, at most settings.checkout_slots_per_variant at a time:
-- one first-come-first-served line (a session-level advisory lock, left as
-- soon as the turn comes), then one of a few slots (a transaction-level
-- advisory lock per (variant, slot)). The turns only order the checkouts;
-- the row locks still decide who gets the units. Measured against the
-- alternatives in the performance notes ("Taking turns").

-- ---------------------------------------------------------------------------
-- Tables

create sequence checkout.admission_tickets as bigint cycle;
comment on sequence checkout.admission_tickets is
  'Hands out begin_checkout''s admission slots in turn (private.wait_checkout_turn: ticket mod checkout_slots_per_variant).';

-- ---------------------------------------------------------------------------
-- Routines: the steps (executed only inside begin_checkout, as its owner)

create function private.wait_checkout_turn(p_variant_id uuid, p_slots integer)
returns integer
language plpgsql set search_path = ''
as $$
declare
  k integer := hashtext(p_variant_id::text);
  ticket bigint;
begin
  -- The line: one first-come-first-served queue per variant, a session-level
  -- advisory lock (keys k, -1) so that it can be left as soon as a slot is
  -- held. It is left on every way out of this block, errors and
  -- cancellations included: the only way a session-level lock could outlive
  -- the call (and stay on a pooled connection).
  perform pg_advisory_lock(k, -1);
  begin
    ticket := nextval('checkout.admission_tickets');
    -- A free slot at once; else the slot handed out p_slots tickets ago,
    -- whose holder came in before the others and should leave first.
    for i in 0 .. p_slots - 1 loop
      if pg_try_advisory_xact_lock(k, ((ticket + i) % p_slots)::integer) then
        perform pg_advisory_unlock(k, -1);
        return ((ticket + i) % p_slots)::integer;
      end if;
    end loop;
    perform pg_advisory_xact_lock(k, (ticket % p_slots)::integer);
  exception when others or query_canceled then
    perform pg_advisory_unlock(k, -1);
    raise;
  end;
  perform pg_advisory_unlock(k, -1);
  return (ticket % p_slots)::integer;
end
$$;
comment on function private.wait_checkout_turn(uuid, integer) is
  'begin_checkout''s turn for one variant: waits in the variant''s first-come-first-served line (advisory lock hashtext(id), -1, session-level, left before returning or on any error), then holds one of p_slots slots (advisory lock hashtext(id), slot, until the transaction ends); returns the slot.';

create function private.checkout_admission(p_session_id uuid, p_slots integer)
returns uuid[]
language plpgsql set search_path = ''
as $$
declare
  all_fit boolean;
  admit uuid[];
  slot_variant uuid;
begin
  -- Turns are taken in variant id order, before any other lock, for at most
  -- 8 variants of the cart (those with the fewest units left), so that a
  -- long cart cannot fill the lock table. A cart that already looks short
  -- (on hand less every counted reservation) does not wait: the snapshot
  -- answers "sold out" at once.
  select bool_and(x.fits), array(select unnest((array_agg(x.variant_id order by x.free, x.variant_id))[1:8]) order by 1)
    into all_fit, admit
    from (select ci.variant_id, v.stock_on_hand - v.reserved as free,
                 v.stock_on_hand - v.reserved >= sum(ci.quantity) as fits
            from public.cart_items ci
            join public.variants v on v.id = ci.variant_id
           where ci.session_id = p_session_id
           group by ci.variant_id, v.stock_on_hand, v.reserved) x;
  if not coalesce(all_fit, false) then
    return '{}';
  end if;
  foreach slot_variant in array admit loop
    perform private.wait_checkout_turn(slot_variant, p_slots);
  end loop;
  return admit;
end
$$;
comment on function private.checkout_admission(uuid, integer) is
  'begin_checkout, step 1: waits the checkout''s turn (private.wait_checkout_turn, p_slots at a time) for at most 8 variants of the shopper''s cart, those with the fewest units left, in variant id order; returns them. A cart that looks short, or is empty, waits for nothing (returns {}).';

create function private.raise_not_enough_stock(p_short jsonb)
returns void
language plpgsql set search_path = ''
as $$
begin
  raise exception 'not enough stock: %', (
    select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
      from jsonb_array_elements(p_short) e)
    using errcode = 'CKS01', detail = jsonb_build_object('short', p_short)::text;
end
$$;
comment on function private.raise_not_enough_stock(jsonb) is
  'begin_checkout''s CKS01: "not enough stock" naming each short line, with detail {"short": [...]} (lines as private.short_lines builds them).';

create function private.checkout_snapshot(
  p_session_id uuid,
  p_freed uuid[],
  out lines jsonb,
  out variant_ids uuid[],
  out currency text,
  out subtotal numeric,
  out item_count integer
)
language plpgsql
stable
set search_path = ''
as $$
declare
  snapshot jsonb;
  ids uuid[];
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  all_free boolean;
  short jsonb;
begin
  -- The lines, summed per variant, at the prices read now.
  with items as (
    select ci.variant_id, sum(ci.quantity)::integer as quantity
      from public.cart_items ci
     where ci.session_id = p_session_id
     group by ci.variant_id
  ), priced as (
    select i.variant_id, i.quantity, v.sku, p.title || ' - ' || v.title as title, v.price, v.currency,
           v.active and p.active and v.stock_on_hand - v.reserved >= i.quantity as surely_free
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         count(distinct priced.currency), min(priced.currency), sum(price * quantity), sum(quantity), bool_and(surely_free)
    into snapshot, ids, currencies, cur, v_subtotal, v_items, all_free
    from priced;

  if ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;

  -- Sold out? Read without any lock (the units of the shopper's own active
  -- session, p_freed, count as free): a shopper who cannot have the units is
  -- answered at once instead of queueing behind the buyers for the variant's
  -- lock. The check under the lock (private.checkout_reserve) is the one
  -- that counts. On hand less every reservation counted is a lower bound of
  -- what is free, so the full rule runs only when a line looks short by it.
  short := case when all_free then '[]'::jsonb else private.short_lines(snapshot, p_freed => p_freed, p_for_sale => true) end;
  if jsonb_array_length(short) > 0 then
    perform private.raise_not_enough_stock(short);
  end if;

  lines := snapshot;
  variant_ids := ids;
  currency := cur;
  subtotal := v_subtotal;
  item_count := v_items;
end
$$;
comment on function private.checkout_snapshot(uuid, uuid[]) is
  'begin_checkout, step 2: the shopper''s cart lines summed per variant at the prices read now (lines [{variant_id, sku, title, unit_price, quantity, line_total}] by sku, variant_ids by id, currency, subtotal, item_count). CKC01 empty cart, CKM01 mixed currencies, CKS01 (private.raise_not_enough_stock) when a line cannot be had now, read without a lock; p_freed''s units (the sessions being replaced) count as free.';

create function private.checkout_coupon(
  p_code text,
  p_subtotal numeric,
  p_currency text,
  p_replaced uuid[],
  out coupon_id uuid,
  out coupon_code text,
  out discount numeric
)
language plpgsql
set search_path = ''
as $$
declare
  v_code text := upper(nullif(btrim(p_code), ''));
  c checkout.coupons;
  v_discount numeric(12, 2) := 0;
begin
  -- The coupon, locked so that concurrent checkouts count its holders one at
  -- a time (the sessions being replaced do not count); the rule itself lives
  -- in private.apply_coupon_rule, which the cart's coupon preview applies too.
  if v_code is not null then
    select * into c from checkout.coupons where coupons.code = v_code for update;
    v_discount := private.apply_coupon_rule(
      c, v_code, p_subtotal, p_currency,
      case when c.id is null or c.max_redemptions is null then 0 else private.coupon_holders(c.id, p_replaced) end);
  end if;
  coupon_id := c.id;
  coupon_code := case when c.id is null then null else v_code end;
  discount := v_discount;
end
$$;
comment on function private.checkout_coupon(text, numeric, text, uuid[]) is
  'begin_checkout, step 3: the coupon a code names (trimmed, upper case), locked, and the discount it gives the subtotal (private.apply_coupon_rule: CKP01 unknown, CKP02 not applicable, CKP03 used up, the p_replaced sessions not counted as holders). No code: no coupon, discount 0.';

create function private.checkout_reserve(p_order_session_id uuid, p_lines jsonb, p_expires_at timestamptz)
returns void
language plpgsql set search_path = ''
as $$
declare
  line record;
  line_short jsonb;
  short jsonb := '[]';
begin
  -- Per variant, by id (so that concurrent checkouts cannot deadlock), one
  -- conditional update that locks the row, checks and counts at once. A line
  -- it refuses is looked at again with the full rule (reservations expired
  -- but not yet released are free; not for sale), under the lock if it fits:
  -- every short line, or none. The update takes the row's FOR NO KEY UPDATE
  -- lock (other shoppers' cart inserts may still take their foreign-key
  -- share lock meanwhile).
  for line in
    select x.variant_id, x.sku, x.title, x.quantity
      from jsonb_to_recordset(p_lines) as x(variant_id uuid, sku text, title text, quantity integer)
     order by x.variant_id
  loop
    update public.variants v set reserved = v.reserved + line.quantity
     where v.id = line.variant_id and v.active and v.stock_on_hand - v.reserved >= line.quantity;
    if not found then
      -- Short by the full rule without the lock: refused at once, without
      -- queueing a second time. Free by it: made sure of under the lock.
      line_short := private.short_lines(jsonb_build_array(to_jsonb(line)), p_for_sale => true);
      if jsonb_array_length(line_short) = 0 then
        perform 1 from public.variants v where v.id = line.variant_id for no key update;
        line_short := private.short_lines(jsonb_build_array(to_jsonb(line)), p_for_sale => true);
        if jsonb_array_length(line_short) = 0 then
          update public.variants v set reserved = v.reserved + line.quantity where v.id = line.variant_id;
        end if;
      end if;
      short := short || line_short;
    end if;
  end loop;
  if jsonb_array_length(short) > 0 then
    select jsonb_agg(e order by e ->> 'sku') into short from jsonb_array_elements(short) e;
    perform private.raise_not_enough_stock(short);
  end if;

  -- The reservation rows, already counted above: the counter trigger
  -- (private.count_reservations) leaves this session's rows alone. Their
  -- foreign-key check finds the variants locked by this transaction, so it
  -- waits for nobody.
  perform set_config('checkout.reserving_session', p_order_session_id::text, true);
  insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select p_order_session_id, x.variant_id, x.quantity, p_expires_at
    from jsonb_to_recordset(p_lines) as x(variant_id uuid, quantity integer);
  perform set_config('checkout.reserving_session', '', true);
end
$$;
comment on function private.checkout_reserve(uuid, jsonb, timestamptz) is
  'begin_checkout, step 4, the hot part, last: reserves the lines ([{variant_id, sku, title, quantity}]) for an order session until p_expires_at. Per variant by id, one conditional update that locks, checks and counts variants.reserved; then the reservation rows (the counter trigger leaves them to it). CKS01 (private.raise_not_enough_stock) when any line is short under the lock: nothing is reserved.';

create function checkout.begin_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text default null
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  prev_id uuid;
  prev_ids uuid[];
  v_group uuid;
  snap record;
  coupon record;
  s public.order_sessions;
  v_result jsonb;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_payer) is distinct from 'object'
     or coalesce(p_payer ->> 'email', '') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'payer must be an object with a valid email' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_shipping_address) is distinct from 'object' then
    raise exception 'shipping address must be an object' using errcode = 'CKI01';
  end if;

  -- Locks, always in this order everywhere: the admission line and slots
  -- (only begin_checkout takes them), the shopper's cart, order sessions, the
  -- coupon, then variants by id. The variant locks serialise checkouts of a
  -- hot product, so everything that can be done before them is: they are
  -- taken last, by the update that checks and counts, and held only for
  -- that and the reservation rows.

  -- 1. Admission: this checkout's turn for its variants.
  perform private.checkout_admission(p_session_id, cfg.checkout_slots_per_variant);

  -- One checkout at a time per shopper: lock the cart.
  perform 1 from public.carts where session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- A shopper has at most one active order session: the previous one is
  -- cancelled and its stock released before this one reserves. The new
  -- session joins its checkout group (04_order_sessions.sql).
  select coalesce(array_agg(id order by id), '{}'), min(checkout_group::text)::uuid into prev_ids, v_group
    from (select id, checkout_group from public.order_sessions
           where session_id = p_session_id and status = 'active'
           order by id
             for update) prev;

  -- 2. The snapshot; "sold out" answered here, before any variant lock.
  snap := private.checkout_snapshot(p_session_id, prev_ids);

  -- 3. The coupon.
  coupon := private.checkout_coupon(p_coupon_code, snap.subtotal, snap.currency, prev_ids);

  -- Cancel the previous session. Its release updates its variants, so they
  -- are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (snap.variant_ids)
        or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- The order session and its events (written before the variant locks, to
  -- hold those briefly; an error below rolls them back).
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group
  ) values (
    p_session_id, snap.lines, snap.item_count, snap.subtotal, coupon.discount, snap.subtotal - coupon.discount, snap.currency,
    coupon.coupon_id, coupon.coupon_code, p_payer, p_shipping_address, now() + cfg.reservation_ttl,
    coalesce(v_group, gen_random_uuid())
  )
  returning * into s;
  insert into checkout.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object('total', s.total, 'currency', s.currency, 'coupon', s.coupon_code,
                                         'replaces', to_jsonb(prev_ids))),
    (s.id, 'reserved', jsonb_build_object('lines', (
       select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
         from jsonb_to_recordset(snap.lines) as x(sku text, quantity integer)), 'expires_at', s.expires_at));

  v_result := private.order_session_json(s);

  -- 4. The reservation, last.
  perform private.checkout_reserve(s.id, snap.lines, s.expires_at);

  return v_result;
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl, in steps: waits its turn for each variant (private.checkout_admission: first come first served, checkout_slots_per_variant at a time; a cart that looks short does not wait), locks the cart, snapshots the lines at the prices read now and answers "sold out" before any variant lock (private.checkout_snapshot), applies the coupon (private.checkout_coupon), cancels the previous active session (the new one joins its checkout_group), writes the order session, then reserves: per variant by id one conditional update that locks, checks and counts, and the reservation rows (private.checkout_reserve). Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}, built by private.short_lines), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up.';
grant execute on function checkout.begin_checkout(uuid, jsonb, jsonb, text) to service_role;

create function checkout.attach_preference(p_order_session_id uuid, p_preference_id text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  s public.order_sessions;
begin
  if p_preference_id is null or btrim(p_preference_id) = '' then
    raise exception 'preference id is required' using errcode = 'CKI01';
  end if;
  select * into s from public.order_sessions where id = p_order_session_id for update;
  if not found then
    raise exception 'unknown order session %', p_order_session_id using errcode = 'CKO01';
  end if;
  if s.preference_id = p_preference_id then
    return private.order_session_json(s);
  end if;
  if s.preference_id is not null then
    raise exception 'order session % already has preference %', s.id, s.preference_id using errcode = 'CKO02';
  end if;
  if s.status <> 'active' then
    raise exception 'order session % is %', s.id, s.status using errcode = 'CKO02';
  end if;
  update public.order_sessions set preference_id = p_preference_id where id = s.id returning * into s;
  perform private.log_event(s.id, 'preference_attached', jsonb_build_object('preference_id', p_preference_id));
  return private.order_session_json(s);
end
$$;
comment on function checkout.attach_preference(uuid, text) is
  'Service role only. Records the MercadoPago preference created for an active order session (idempotent for the same id). CKO01 unknown session, CKO02 not active or another preference.';
grant execute on function checkout.attach_preference(uuid, text) to service_role;

create function checkout.release_session(
  p_order_session_id uuid,
  p_reason text default 'released'
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  s public.order_sessions;
begin
  select * into s from public.order_sessions where id = p_order_session_id for update;
  if not found then
    raise exception 'unknown order session %', p_order_session_id using errcode = 'CKO01';
  end if;
  if s.status = 'active' then
    perform private.close_order_session(s.id, 'cancelled', coalesce(p_reason, 'released'));
    select * into s from public.order_sessions where id = p_order_session_id;
  end if;
  return private.order_session_json(s);
end
$$;
comment on function checkout.release_session(uuid, text) is
  'Service role only. Cancels an active order session at once and frees its stock (used when the MercadoPago preference cannot be created). Idempotent.';
grant execute on function checkout.release_session(uuid, text) to service_role;

create function checkout.find_order_session(p_token text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  return (
    select private.order_session_json(s) from public.order_sessions s where s.token = p_token
  );
end
$$;
comment on function checkout.find_order_session(text) is
  'Service role only. The order session with this token (MercadoPago external_reference), or NULL.';
grant execute on function checkout.find_order_session(text) to service_role;

-- ===========================================================================
-- supabase/schemas/06_payments_and_orders.sql
-- ===========================================================================

-- Payments and orders. Orders exist only for paid order sessions. Payments
-- fetched from MercadoPago (by the webhook, the buyer's return or the
-- reconcile job) converge on one idempotent routine, checkout.apply_payment;
-- unique constraints make a second order impossible even if a caller is
-- wrong. Nothing is lost: every approved payment ends as an order or as a
-- refund owed (checkout.payment_refunds).
--
-- apply_payment is one rule per routine:
--   private.check_payment        validates its argument;
--   private.record_payment       the payment_events row, once per status;
--   private.settle_known_payment a payment already answered, a wrong amount,
--                                a second payment;
--   private.settle_approved      an approved payment: superseded? taken over?
--                                stock? then commit or cannot fulfil
--                                (private.cannot_fulfil, 07_refunds_and_reconciliation.sql);
--   private.commit_order         the order, the stock decrement, the cart;
--   private.follow_payment       refunds, chargebacks and mediations move the
--                                order's status.
-- No exception path on commit: every shortfall is found under the variant
-- locks before the decrement and becomes a recorded refund owed, so an
-- approved payment never becomes a 500 that MercadoPago retries forever.
--
-- Superseded checkouts. When a payment arrives for a session of a checkout
-- group (04_order_sessions.sql):
--   * another session of the group already became an order: this payment is
--     refunded (reason superseded), whichever session was paid first;
--   * a newer session of the group is still active (unpaid): the payment
--     takes over. The newer session is cancelled and its stock released, and
--     this one is fulfilled as a late payment (re-reserved if the stock is
--     there, else refunded out_of_stock and the newer session left alone).
--     The buyer paid for that snapshot; refunding it and asking them to pay
--     again would lose the sale, and the newer session can no longer be paid
--     twice because a payment for it now finds the group paid.

-- ---------------------------------------------------------------------------
-- Types

create type public.order_status as enum ('paid', 'in_mediation', 'refunded', 'charged_back');
comment on type public.order_status is
  'An order follows its payment: paid, then possibly in mediation, refunded or charged back.';

-- ---------------------------------------------------------------------------
-- Tables

create sequence checkout.order_number_seq start 1001;
comment on sequence checkout.order_number_seq is 'Feeds the human-friendly order numbers (ORD-001001, ...).';
grant usage on sequence checkout.order_number_seq to service_role;

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  order_number text not null unique default ('ORD-' || lpad(nextval('checkout.order_number_seq')::text, 6, '0')),
  order_session_id uuid not null references public.order_sessions (id) on delete restrict,
  session_id uuid not null,
  payment_id bigint not null,
  status public.order_status not null default 'paid',
  subtotal numeric(12, 2) not null,
  discount numeric(12, 2) not null,
  total numeric(12, 2) not null,
  currency text not null,
  coupon_code text,
  payer jsonb not null,
  shipping_address jsonb not null,
  payment_type text,
  payment_method text,
  paid_late boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint orders_one_per_session unique (order_session_id),
  constraint orders_one_per_payment unique (payment_id)
);
comment on table public.orders is
  'Orders, created only from a paid order session by checkout.apply_payment: one per session and one per payment. Shoppers read their own; status follows the payment (refunds, chargebacks).';
comment on column public.orders.paid_late is
  'The payment was approved after the reservation expired and the stock was re-reserved.';

create index orders_session_id_idx on public.orders (session_id, created_at desc);

alter table public.orders enable row level security;
revoke all on public.orders from anon, authenticated, service_role;
grant select on public.orders to authenticated;
grant select, insert, update on public.orders to service_role;

create table public.order_lines (
  order_id uuid not null references public.orders (id) on delete cascade,
  line_no smallint not null,
  variant_id uuid references public.variants (id) on delete set null,
  sku text not null,
  title text not null,
  unit_price numeric(12, 2) not null,
  quantity integer not null check (quantity > 0),
  line_total numeric(12, 2) not null,
  primary key (order_id, line_no)
);
comment on table public.order_lines is
  'The lines of an order, copied from the order session''s snapshot. Shoppers read the lines of their own orders.';

create index order_lines_variant_id_idx on public.order_lines (variant_id);

alter table public.order_lines enable row level security;
revoke all on public.order_lines from anon, authenticated, service_role;
grant select on public.order_lines to authenticated;
grant select, insert, update on public.order_lines to service_role;

-- Every payment state we have seen, once per (payment id, status).
create table checkout.payment_events (
  id bigint generated always as identity primary key,
  payment_id bigint not null,
  status text not null,
  status_detail text,
  order_session_id uuid references public.order_sessions (id) on delete restrict,
  external_reference text,
  transaction_amount numeric(12, 2),
  currency text,
  payment_type text,
  payment_method text,
  payload jsonb not null,
  received_at timestamptz not null default now(),
  constraint payment_events_once_per_status unique (payment_id, status)
);
comment on table checkout.payment_events is
  'Each MercadoPago payment status we applied, recorded once per (payment id, status) with the payment as fetched. Service role only.';

create index payment_events_order_session_idx on checkout.payment_events (order_session_id);
create index payment_events_approved_idx on checkout.payment_events (payment_id) where status = 'approved';

alter table checkout.payment_events enable row level security;
grant select, insert, update on checkout.payment_events to service_role;

-- Payments that were approved but cannot become an order: they must be
-- refunded, and are retried until MercadoPago confirms it.
create table checkout.payment_refunds (
  id uuid primary key default gen_random_uuid(),
  payment_id bigint not null unique,
  order_session_id uuid references public.order_sessions (id) on delete restrict,
  amount numeric(12, 2) not null,
  currency text not null,
  reason text not null check (reason in (
    'out_of_stock', 'amount_mismatch', 'duplicate_payment', 'coupon_used_up', 'stock_lowered', 'superseded')),
  status text not null default 'owed' check (status in ('owed', 'refunded')),
  mp_refund_id text,
  created_at timestamptz not null default now(),
  refunded_at timestamptz,
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  last_error text
);
comment on table checkout.payment_refunds is
  'Approved payments owed back to the buyer (paid after expiry with no stock, wrong amount or currency, a second payment for a paid session) and whether the refund was made. Service role only.';
comment on column checkout.payment_refunds.reason is
  'Why the payment is owed back: out_of_stock (paid late, no stock), stock_lowered (paid on time, but the store lowered stock below the reservation), coupon_used_up, superseded (another session of the same cart checkout became the order), amount_mismatch, duplicate_payment.';
comment on column checkout.payment_refunds.attempts is
  'Refund calls made to MercadoPago for this payment (by the webhook or the reconcile function).';
comment on column checkout.payment_refunds.next_attempt_at is
  'When the reconcile function may next try the refund (exponential back-off, capped at 6 hours).';
comment on column checkout.payment_refunds.last_error is 'What MercadoPago answered to the last failed refund attempt.';

create index payment_refunds_order_session_idx on checkout.payment_refunds (order_session_id);
create index payment_refunds_owed_idx on checkout.payment_refunds (created_at) where status = 'owed';
create index payment_refunds_due_idx on checkout.payment_refunds (next_attempt_at) where status = 'owed';

alter table checkout.payment_refunds enable row level security;
grant select, insert, update on checkout.payment_refunds to service_role;

-- The buyer's return asks MercadoPago about a payment id before it knows
-- whose payment it is (the id is what MercadoPago's redirect carries). So
-- that a client holding any shopper token cannot spend the store's
-- MercadoPago rate limit with random ids, each shopper has a budget of
-- lookups per hour (checkout.note_return_lookup; CKH04, 429, past it). Every
-- sign-up is a fresh shopper with a fresh budget, so the whole store's
-- lookups have a ceiling per minute too (checkout.store_return_lookups,
-- detail.scope = 'store'); a buyer turned away still gets the order: the
-- webhook and reconcile confirm the payment without this budget.
create table checkout.return_lookups (
  session_id uuid primary key references auth.users (id) on delete cascade,
  window_start timestamptz not null,
  lookups integer not null check (lookups >= 1)
);
comment on table checkout.return_lookups is
  'Per shopper: the payment lookups payment-status made at MercadoPago in the current hour (fixed windows). One row per shopper, gone with the user. Service role only.';

alter table checkout.return_lookups enable row level security;
grant select, insert, update, delete on checkout.return_lookups to service_role;

create table checkout.store_return_lookups (
  only_row boolean primary key default true check (only_row),
  window_start timestamptz not null,
  lookups integer not null check (lookups >= 1)
);
comment on table checkout.store_return_lookups is
  'The payment lookups payment-status made at MercadoPago for the whole store in the current minute (fixed windows): one row. Service role only.';

alter table checkout.store_return_lookups enable row level security;
grant select, insert, update, delete on checkout.store_return_lookups to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.check_order_transition()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  if new.order_session_id <> old.order_session_id or new.payment_id <> old.payment_id or new.total <> old.total
     or new.order_number <> old.order_number or new.session_id <> old.session_id then
    raise exception 'order % is immutable except for its status', old.order_number using errcode = 'CKI02';
  end if;
  if new.status <> old.status and not private.order_status_may_move(old.status, new.status) then
    raise exception 'order % cannot move from % to %', old.order_number, old.status, new.status using errcode = 'CKI02';
  end if;
  new.updated_at := now();
  return new;
end
$$;
comment on function private.check_order_transition() is
  'Trigger: orders are immutable but for a status that only moves forward.';
-- Orders change owner only through the cart merge, as order sessions do
-- (04_order_sessions.sql, order_sessions_transition).
create trigger orders_transition
  before update on public.orders
  for each row
  when (old.session_id = new.session_id
        or current_setting('checkout.owner_move', true) is distinct from (old.session_id::text || '>' || new.session_id::text))
  execute function private.check_order_transition();

-- ---------------------------------------------------------------------------
-- Policies

create policy "Shoppers read their own orders"
  on public.orders for select to authenticated
  using (session_id = (select auth.uid()));
create policy "Shoppers read the lines of their own orders"
  on public.order_lines for select to authenticated
  using (exists (select 1 from public.orders o where o.id = order_id and o.session_id = (select auth.uid())));

-- ---------------------------------------------------------------------------
-- Routines

create function private.order_status_may_move(p_from public.order_status, p_to public.order_status)
returns boolean
language sql immutable set search_path = ''
as $$
  select (p_from = 'paid' and p_to in ('in_mediation', 'refunded', 'charged_back'))
      or (p_from = 'in_mediation' and p_to in ('paid', 'refunded', 'charged_back'))
$$;
comment on function private.order_status_may_move(public.order_status, public.order_status) is
  'An order''s status moves forward only: paid to in_mediation, refunded or charged_back; a mediation ends paid, refunded or charged back; refunded and charged_back are final.';
grant execute on function private.order_status_may_move(public.order_status, public.order_status) to service_role;

create function private.order_json(o public.orders)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  return (
    select jsonb_build_object(
      'id', o.id,
      'order_number', o.order_number,
      'order_session_id', o.order_session_id,
      'session_id', o.session_id,
      'payment_id', o.payment_id,
      'status', o.status,
      'subtotal', o.subtotal,
      'discount', o.discount,
      'total', o.total,
      'currency', o.currency,
      'coupon_code', o.coupon_code,
      'payer', o.payer,
      'shipping_address', o.shipping_address,
      'paid_late', o.paid_late,
      'created_at', o.created_at,
      'lines', coalesce((
        select jsonb_agg(jsonb_build_object(
          'variant_id', l.variant_id, 'sku', l.sku, 'title', l.title,
          'unit_price', l.unit_price, 'quantity', l.quantity, 'line_total', l.line_total) order by l.line_no)
        from public.order_lines l where l.order_id = o.id
      ), '[]'::jsonb)
    )
  );
end
$$;
comment on function private.order_json(public.orders) is 'An order with its lines, as the checkout routines return it.';
grant execute on function private.order_json(public.orders) to authenticated, service_role;

create function public.get_my_orders()
returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(jsonb_agg(private.order_json(o) order by o.created_at desc), '[]'::jsonb)
  from public.orders o
  where o.session_id = (select auth.uid())
$$;
comment on function public.get_my_orders() is
  'The caller''s orders, newest first, with their lines. Runs as the caller under RLS. For authenticated.';
grant execute on function public.get_my_orders() to authenticated, service_role;

create function private.check_payment(p_payment jsonb)
returns void
language plpgsql immutable set search_path = ''
as $$
declare
  pid bigint;
  amount numeric;
  st text := p_payment ->> 'status';
begin
  if jsonb_typeof(p_payment) is distinct from 'object' then
    raise exception 'payment must be a JSON object' using errcode = 'CKI01';
  end if;
  begin
    pid := (p_payment ->> 'id')::bigint;
    amount := (p_payment ->> 'transaction_amount')::numeric;
  exception when others then
    raise exception 'payment id must be an integer and transaction_amount a number' using errcode = 'CKI01';
  end;
  if pid is null or pid <= 0 then
    raise exception 'payment id must be a positive integer' using errcode = 'CKI01';
  end if;
  if st is null or st not in ('pending', 'approved', 'authorized', 'in_process', 'in_mediation',
                              'rejected', 'cancelled', 'refunded', 'charged_back') then
    raise exception 'unknown payment status %', coalesce(st, 'null') using errcode = 'CKI01';
  end if;
  if st = 'approved' and amount is null then
    raise exception 'an approved payment needs transaction_amount' using errcode = 'CKI01';
  end if;
end
$$;
comment on function private.check_payment(jsonb) is
  'Validates a payment as apply_payment receives it: an object with a positive integer id, a known status, and a numeric transaction_amount when approved. CKI01 otherwise.';
grant execute on function private.check_payment(jsonb) to service_role;

create function private.record_payment(s public.order_sessions, p_payment jsonb)
returns boolean
language plpgsql set search_path = ''
as $$
declare
  seen_first boolean;
begin
  insert into checkout.payment_events (
    payment_id, status, status_detail, order_session_id, external_reference,
    transaction_amount, currency, payment_type, payment_method, payload
  ) values (
    (p_payment ->> 'id')::bigint, p_payment ->> 'status', p_payment ->> 'status_detail', s.id, p_payment ->> 'external_reference',
    (p_payment ->> 'transaction_amount')::numeric, p_payment ->> 'currency_id',
    p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_payment
  )
  on conflict (payment_id, status) do nothing
  returning true into seen_first;
  if seen_first and s.id is not null then
    perform private.log_event(s.id, 'payment_seen', jsonb_build_object(
      'status', p_payment ->> 'status', 'status_detail', p_payment ->> 'status_detail',
      'amount', (p_payment ->> 'transaction_amount')::numeric, 'currency', p_payment ->> 'currency_id'),
      (p_payment ->> 'id')::bigint);
  end if;
  return coalesce(seen_first, false);
end
$$;
comment on function private.record_payment(public.order_sessions, jsonb) is
  'Records a payment status once per (payment id, status) in payment_events (order_session_id NULL when it matches no session: shown by checkout.stats and checkout.audit), and logs payment_seen. True the first time.';
grant execute on function private.record_payment(public.order_sessions, jsonb) to service_role;

create function private.settle_known_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  o public.orders;
  r checkout.payment_refunds;
begin
  select * into o from public.orders where order_session_id = s.id;
  if o.id is not null then
    if o.payment_id = pid then
      if o.status = 'in_mediation' then
        -- A mediation settled in the store's favour: the payment is approved again.
        update public.orders set status = 'paid' where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', 'paid'), pid);
      end if;
      -- The same approval again (MercadoPago repeats itself, even hours
      -- later): the same answer, nothing changes.
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'already_paid', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
  end if;
  select * into r from checkout.payment_refunds where payment_id = pid;
  if found then
    -- Seen before and already owed back: answer as the first time.
    return jsonb_build_object('order_session_id', s.id,
      'outcome', case r.reason when 'amount_mismatch' then 'amount_mismatch' else 'refund_owed' end,
      'payment_id', pid, 'session_status', s.status, 'refund', private.owe_refund(s, pid, amount, cur, r.reason));
  end if;
  if s.status in ('refund_owed', 'refunded') then
    -- Another payment for a session that was already paid without stock.
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
  end if;
  if amount <> s.total or cur is distinct from s.currency then
    perform private.log_event(s.id, 'amount_mismatch', jsonb_build_object(
      'expected', s.total, 'expected_currency', s.currency, 'paid', amount, 'paid_currency', cur), pid);
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'amount_mismatch', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'amount_mismatch'));
  end if;
  return null;
end
$$;
comment on function private.settle_known_payment(public.order_sessions, jsonb) is
  'An approved payment that cannot start an order: the one already applied (same answer), a second payment for a session with an order or a refund (duplicate_payment), one seen before (same answer), a wrong amount or currency (amount_mismatch). NULL when none applies.';
grant execute on function private.settle_known_payment(public.order_sessions, jsonb) to service_role;

create function private.commit_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders;
begin
  -- The caller checked the stock under the variant locks (short_lines), so
  -- the decrement cannot take stock_on_hand below zero.
  update public.variants v
     set stock_on_hand = v.stock_on_hand - (l ->> 'quantity')::integer, updated_at = now()
    from jsonb_array_elements(s.lines) l
   where v.id = (l ->> 'variant_id')::uuid;
  perform private.release_stock(array[s.id]);

  insert into public.orders (
    order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
    payer, shipping_address, payment_type, payment_method, paid_late
  ) values (
    s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
    s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_late
  ) returning * into o;

  insert into public.order_lines (order_id, line_no, variant_id, sku, title, unit_price, quantity, line_total)
  select o.id, ord::smallint, (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title',
         (l ->> 'unit_price')::numeric, (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
    from jsonb_array_elements(s.lines) with ordinality as t(l, ord);

  update public.order_sessions set status = 'paid', payment_id = pid, paid_at = now(), closed_at = now()
   where id = s.id returning * into s;

  -- The bought units leave the cart; anything added since stays.
  delete from public.cart_items ci
   using jsonb_array_elements(s.lines) l
   where ci.session_id = s.session_id and ci.variant_id = (l ->> 'variant_id')::uuid
     and ci.quantity <= (l ->> 'quantity')::integer;
  update public.cart_items ci
     set quantity = ci.quantity - (l ->> 'quantity')::integer
    from jsonb_array_elements(s.lines) l
   where ci.session_id = s.session_id and ci.variant_id = (l ->> 'variant_id')::uuid;

  perform private.log_event(s.id, 'committed', jsonb_build_object(
    'order_id', o.id, 'order_number', o.order_number, 'paid_late', p_late), pid);
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_created', 'payment_id', pid, 'session_status', s.status,
                            'order', private.order_json(o));
end
$$;
comment on function private.commit_order(public.order_sessions, jsonb, boolean) is
  'Creates the one order of a session whose stock was checked under the variant locks: decrements stock_on_hand, releases the reservation, copies the lines, marks the session paid and removes the bought units from the cart.';
grant execute on function private.commit_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.settle_approved(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  answer jsonb := private.settle_known_payment(s, p_payment);
  late boolean := not (s.status = 'active' and s.expires_at > now());
  rivals uuid[] := '{}';
  rival uuid;
  c checkout.coupons;
  short jsonb;
begin
  if answer is not null then
    return answer;
  end if;

  if late then
    -- Another session of this cart checkout became the order: this payment
    -- is the second one for the same goods.
    if exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                where g.checkout_group = s.checkout_group and g.id <> s.id) then
      return private.cannot_fulfil(s, pid, amount, cur, 'superseded');
    end if;
    -- A newer session of the group still waiting for its payment is taken
    -- over (cancelled) if this one can be fulfilled.
    select coalesce(array_agg(g.id order by g.id), '{}') into rivals
      from (select id from public.order_sessions
             where checkout_group = s.checkout_group and id <> s.id and status = 'active'
             order by id
               for update) g;
    -- A late payment's coupon redemption may have gone to someone else
    -- meanwhile (the coupon is locked before the variants, as in begin_checkout).
    if s.coupon_id is not null then
      select * into c from checkout.coupons where id = s.coupon_id for update;
      if c.max_redemptions is not null and private.coupon_holders(c.id, array[s.id] || rivals) >= c.max_redemptions then
        return private.cannot_fulfil(s, pid, amount, cur, 'coupon_used_up');
      end if;
    end if;
  end if;

  perform 1 from public.variants v
   where v.id in (select (l ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) l)
      or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (rivals))
   order by v.id
     for update;
  short := private.short_lines(s.lines, case when late then null else s.id end, rivals);
  if jsonb_array_length(short) > 0 then
    return private.cannot_fulfil(s, pid, amount, cur, case when late then 'out_of_stock' else 'stock_lowered' end,
                                 jsonb_build_object('short', short));
  end if;

  foreach rival in array rivals loop
    perform private.close_order_session(rival, 'cancelled', 'taken over by a payment for an earlier checkout');
    perform private.log_event(s.id, 'taken_over', jsonb_build_object('cancelled', rival), pid);
  end loop;
  return private.commit_order(s, p_payment, late);
end
$$;
comment on function private.settle_approved(public.order_sessions, jsonb) is
  'An approved payment for a session: a known or wrong payment (settle_known_payment); a late one whose checkout group already has an order (superseded) or whose coupon was used up meanwhile; otherwise the stock is checked under the variant locks (short_lines) and the order committed, taking over a newer unpaid session of the group, or the payment is refunded (out_of_stock late, stock_lowered on time). Never raises for a shortfall.';
grant execute on function private.settle_approved(public.order_sessions, jsonb) to service_role;

create function private.follow_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  st text := p_payment ->> 'status';
  refund_id text := nullif(p_payment ->> 'refund_id', '');
  o public.orders;
begin
  select * into o from public.orders where order_session_id = s.id;
  if st in ('refunded', 'charged_back', 'in_mediation') then
    if o.id is not null and o.payment_id = pid then
      -- Forward only: a stale in_mediation after a refund changes nothing.
      if private.order_status_may_move(o.status, st::public.order_status) then
        update public.orders set status = st::public.order_status where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', st), pid);
      end if;
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_updated', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    if st = 'refunded' and exists (
      select 1 from checkout.payment_refunds
       where payment_id = pid and (status = 'owed' or (mp_refund_id is null and refund_id is not null))
    ) then
      return checkout.record_refund(pid, refund_id);
    end if;
  end if;
  -- pending, in_process, authorized, rejected, cancelled: recorded; an
  -- active session stays active so the buyer can pay again until it expires.
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'recorded', 'payment_id', pid, 'status', st, 'session_status', s.status,
                            'order', case when o.id is null then null else private.order_json(o) end);
end
$$;
comment on function private.follow_payment(public.order_sessions, jsonb) is
  'A payment that is not approved: refunded, charged_back and in_mediation move the order''s status forward; refunded settles a refund owed, or fills in MercadoPago''s refund id (p_payment ->> ''refund_id'') of one recorded without it; anything else is only recorded.';
grant execute on function private.follow_payment(public.order_sessions, jsonb) to service_role;

create function checkout.apply_payment(p_payment jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  ref text;
  s public.order_sessions;
  owner uuid;
  locked uuid;
begin
  perform private.check_payment(p_payment);
  ref := p_payment ->> 'external_reference';

  -- Locks in begin_checkout's order: the shopper's cart, the order session,
  -- then (in settle_approved) the coupon and the variants by id. Every caller
  -- for the same session queues here. A merge may move the session to
  -- another owner while this waits for the cart: then the new owner's cart
  -- is locked as well.
  loop
    select os.session_id into owner from public.order_sessions os where os.token = ref;
    exit when owner is null or owner is not distinct from locked;
    perform 1 from public.carts cart where cart.session_id = owner for update;
    locked := owner;
  end loop;
  select * into s from public.order_sessions where token = ref for update;

  perform private.record_payment(s, p_payment);
  if s.id is null then
    return jsonb_build_object('order_session_id', null, 'outcome', 'unknown_session',
                              'payment_id', (p_payment ->> 'id')::bigint, 'status', p_payment ->> 'status');
  end if;
  if p_payment ->> 'status' = 'approved' then
    return private.settle_approved(s, p_payment);
  end if;
  return private.follow_payment(s, p_payment);
end
$$;
comment on function checkout.apply_payment(jsonb) is
  'Service role only. Applies a payment as fetched from MercadoPago (id, status, status_detail, transaction_amount, currency_id, external_reference, payment_type_id, ...), idempotent and safe under concurrent calls; the webhook, the buyer''s return and the reconcile job all call it. Locks the cart of the order session''s current owner (again if a cart merge moved the session while it waited), then the order session, records the payment, then: approved goes to private.settle_approved (one order, or a refund owed: never an error for a shortfall); other statuses to private.follow_payment. A payment matching no session is recorded (outcome unknown_session) and shown by stats and audit. Returns {outcome, payment_id, session_status, order?, refund?}.';
grant execute on function checkout.apply_payment(jsonb) to service_role;

create function checkout.note_return_lookup(p_session_id uuid)
returns integer
language plpgsql security definer set search_path = ''
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
grant execute on function checkout.note_return_lookup(uuid) to service_role;

-- ===========================================================================
-- supabase/schemas/07_refunds_and_reconciliation.sql
-- ===========================================================================

-- Refunds and reconciliation: every approved payment reaches a final state.
-- A payment that cannot become an order is owed back (checkout.payment_refunds,
-- 06_payments_and_orders.sql) and refunded until MercadoPago confirms it;
-- notifications that never arrived are asked for. Service role only.
--
-- The reconcile Edge Function (edge/reconcile, every minute) does three
-- things, each claiming its work here first so that two runs never do the
-- same item and a run that dies mid-way is retried later:
--   1. sessions that could have been paid without us hearing of it
--      (claim_reconciliation): it searches MercadoPago's payments by
--      external_reference and applies each one with checkout.apply_payment,
--      the webhook's routine;
--   2. refunds owed (claim_refunds): it asks MercadoPago to refund, with the
--      same idempotency key every time, and records the answer
--      (record_refund, or note_refund_failure and back off);
--   3. preferences of cancelled sessions that MercadoPago would still accept
--      (claim_preference_expiry): it expires them there, then
--      mark_preference_expired.
-- checkout.audit() (13_housekeeping.sql) lists any broken money or stock
-- invariant.

-- ---------------------------------------------------------------------------
-- Routines

create function private.owe_refund(
  s public.order_sessions,
  p_payment_id bigint,
  p_amount numeric,
  p_currency text,
  p_reason text,
  p_detail jsonb default '{}'
)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  r checkout.payment_refunds;
begin
  insert into checkout.payment_refunds (payment_id, order_session_id, amount, currency, reason)
  values (p_payment_id, s.id, coalesce(p_amount, 0), coalesce(p_currency, s.currency), p_reason)
  on conflict (payment_id) do nothing
  returning * into r;
  if r.id is null then
    select * into r from checkout.payment_refunds where payment_id = p_payment_id;
  else
    perform private.log_event(s.id, 'refund_owed',
      jsonb_build_object('reason', p_reason, 'amount', p_amount, 'currency', p_currency) || coalesce(p_detail, '{}'), p_payment_id);
  end if;
  return jsonb_build_object(
    'payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
    'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id);
end
$$;
comment on function private.owe_refund(public.order_sessions, bigint, numeric, text, text, jsonb) is
  'Records (once per payment) that an approved payment must be refunded, and why; logs refund_owed with p_detail. The refund itself is made by the functions (webhook, return, reconcile).';
grant execute on function private.owe_refund(public.order_sessions, bigint, numeric, text, text, jsonb) to service_role;

create function private.cannot_fulfil(
  s public.order_sessions,
  p_payment_id bigint,
  p_amount numeric,
  p_currency text,
  p_reason text,
  p_detail jsonb default '{}'
)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  closed public.order_sessions;
begin
  perform private.release_stock(array[s.id]);
  update public.order_sessions set status = 'refund_owed', payment_id = p_payment_id, paid_at = now(), closed_at = now()
   where id = s.id returning * into closed;
  return jsonb_build_object('order_session_id', closed.id, 'outcome', 'refund_owed', 'payment_id', p_payment_id,
                            'session_status', closed.status,
                            'refund', private.owe_refund(closed, p_payment_id, p_amount, p_currency, p_reason, p_detail))
         || coalesce(p_detail, '{}');
end
$$;
comment on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) is
  'The one "cannot fulfil" path for an approved payment of the right amount: releases the session''s stock, moves it to refund_owed and records the refund owed (out_of_stock, stock_lowered, coupon_used_up, superseded). The caller holds the session''s lock.';
grant execute on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) to service_role;

-- A refund can be recorded twice from two sides: the function that made it
-- (with MercadoPago's refund id) and the `refunded` notification that
-- follows (with the id of the payment's latest refund, or without one), in
-- either order. The second fills in a missing id.
create function checkout.record_refund(p_payment_id bigint, p_mp_refund_id text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  r checkout.payment_refunds;
  s public.order_sessions;
begin
  select * into r from checkout.payment_refunds where payment_id = p_payment_id for update;
  if not found then
    raise exception 'no refund is owed for payment %', p_payment_id using errcode = 'CKO01';
  end if;
  if r.status = 'owed' then
    update checkout.payment_refunds
       set status = 'refunded', mp_refund_id = coalesce(p_mp_refund_id, mp_refund_id), refunded_at = now(), last_error = null
     where id = r.id returning * into r;
    select * into s from public.order_sessions where id = r.order_session_id for update;
    if s.status = 'refund_owed' and s.payment_id = p_payment_id then
      update public.order_sessions set status = 'refunded' where id = s.id returning * into s;
    end if;
    perform private.log_event(r.order_session_id, 'refunded',
      jsonb_build_object('amount', r.amount, 'currency', r.currency, 'mp_refund_id', r.mp_refund_id, 'reason', r.reason), p_payment_id);
  else
    if r.mp_refund_id is null and p_mp_refund_id is not null then
      update checkout.payment_refunds set mp_refund_id = p_mp_refund_id where id = r.id returning * into r;
    end if;
    select * into s from public.order_sessions where id = r.order_session_id;
  end if;
  return jsonb_build_object('order_session_id', r.order_session_id, 'outcome', 'refund_recorded', 'payment_id', p_payment_id, 'session_status', s.status,
    'refund', jsonb_build_object('payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
                                 'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id));
end
$$;
comment on function checkout.record_refund(bigint, text) is
  'Service role only. Records that an owed refund was made in MercadoPago (idempotent; a later call with MercadoPago''s refund id fills it in when the first had none); a session paid without stock moves to refunded.';
grant execute on function checkout.record_refund(bigint, text) to service_role;

create function checkout.claim_refunds(p_limit integer default 20)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
begin
  with due as (
    select r.id from checkout.payment_refunds r
     where r.status = 'owed' and r.next_attempt_at <= now()
     order by r.next_attempt_at
     limit greatest(least(p_limit, 200), 1)
       for update skip locked
  ), claimed as (
    update checkout.payment_refunds r
       set attempts = r.attempts + 1,
           next_attempt_at = now() + least(interval '1 minute' * power(2, least(r.attempts, 20)), interval '6 hours')
      from due where r.id = due.id
    returning r.payment_id, r.order_session_id, r.amount, r.currency, r.reason, r.attempts
  )
  select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) into claimed from claimed c;
  return claimed;
end
$$;
comment on function checkout.claim_refunds(integer) is
  'Service role only (reconcile function). Claims up to p_limit refunds owed whose next attempt is due, counting the attempt and moving the next one forward (1 minute doubling, at most 6 hours). Returns [{payment_id, order_session_id, amount, currency, reason, attempts}].';
grant execute on function checkout.claim_refunds(integer) to service_role;

create function checkout.note_refund_failure(p_payment_id bigint, p_error text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  r checkout.payment_refunds;
begin
  update checkout.payment_refunds
     set last_error = left(coalesce(p_error, 'unknown error'), 500)
   where payment_id = p_payment_id and status = 'owed'
  returning * into r;
  if not found then
    return null;
  end if;
  if r.order_session_id is not null then
    perform private.log_event(r.order_session_id, 'refund_failed',
      jsonb_build_object('attempts', r.attempts, 'error', r.last_error, 'next_attempt_at', r.next_attempt_at), p_payment_id);
  end if;
  return jsonb_build_object('payment_id', r.payment_id, 'attempts', r.attempts, 'next_attempt_at', r.next_attempt_at, 'last_error', r.last_error);
end
$$;
comment on function checkout.note_refund_failure(bigint, text) is
  'Service role only. Records why a refund attempt failed (MercadoPago refused or was unreachable); the refund stays owed and is retried at next_attempt_at.';
grant execute on function checkout.note_refund_failure(bigint, text) to service_role;

create function checkout.claim_reconciliation(
  p_window interval default interval '48 hours',
  p_limit integer default 50
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
begin
  -- Active sessions, and sessions closed within the window, with a
  -- preference (so a payment was possible) and no approved payment applied.
  -- Each claim moves next_check_at forward: 1, 2, 4 ... minutes, at most 6
  -- hours apart, so a long window costs few calls.
  with due as (
    select s.id from public.order_sessions s
     where s.status in ('active', 'expired', 'cancelled')
       and s.preference_id is not null
       and s.next_check_at <= now()
       and (s.status = 'active' or s.closed_at > now() - p_window)
       and not exists (select 1 from checkout.payment_events pe where pe.order_session_id = s.id and pe.status = 'approved')
     order by s.next_check_at
     limit greatest(least(p_limit, 500), 1)
       for update skip locked
  ), claimed as (
    update public.order_sessions s
       set checks = s.checks + 1,
           next_check_at = now() + least(interval '1 minute' * power(2, least(s.checks, 20)), interval '6 hours')
      from due where s.id = due.id
    returning s.id, s.token, s.status, s.checks
  )
  select coalesce(jsonb_agg(jsonb_build_object('order_session_id', c.id, 'token', c.token, 'status', c.status, 'checks', c.checks)), '[]'::jsonb)
    into claimed from claimed c;
  return claimed;
end
$$;
comment on function checkout.claim_reconciliation(interval, integer) is
  'Service role only (reconcile function). Claims up to p_limit order sessions that could have been paid without a notification reaching us (active, or expired/cancelled within p_window, with a preference and no approved payment applied) and moves their next check forward with exponential back-off (1 minute doubling, at most 6 hours). Returns [{order_session_id, token, status, checks}].';
grant execute on function checkout.claim_reconciliation(interval, integer) to service_role;

create function checkout.claim_preference_expiry(p_limit integer default 50)
returns jsonb
language sql security definer set search_path = ''
as $$
  -- An expired session's preference lapsed with it (expiration_date_to is
  -- the reservation's end); a cancelled one's is still payable until then.
  select coalesce(jsonb_agg(jsonb_build_object('order_session_id', x.id, 'preference_id', x.preference_id, 'status', x.status)), '[]'::jsonb)
    from (select s.id, s.preference_id, s.status from public.order_sessions s
           where s.status in ('expired', 'cancelled') and s.preference_id is not null
             and s.preference_expired_at is null and s.expires_at > now()
           order by s.closed_at
           limit greatest(least(p_limit, 500), 1)) x
$$;
comment on function checkout.claim_preference_expiry(integer) is
  'Service role only (reconcile function). Cancelled or expired sessions whose MercadoPago preference may still be paid (its expiration_date_to, the reservation''s end, has not passed) and has not been expired at MercadoPago yet. Returns [{order_session_id, preference_id, status}].';
grant execute on function checkout.claim_preference_expiry(integer) to service_role;

create function checkout.mark_preference_expired(p_order_session_id uuid)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  update public.order_sessions set preference_expired_at = now()
   where id = p_order_session_id and preference_expired_at is null;
  if found then
    perform private.log_event(p_order_session_id, 'preference_expired', '{}'::jsonb);
  end if;
end
$$;
comment on function checkout.mark_preference_expired(uuid) is
  'Service role only. Records that the session''s preference was expired at MercadoPago (idempotent).';
grant execute on function checkout.mark_preference_expired(uuid) to service_role;

-- ---------------------------------------------------------------------------
-- Schedule: the reconcile Edge Function every minute, on hosted Supabase:
-- pg_cron calls it through pg_net, as Supabase documents for scheduled
-- functions (https://supabase.com/docs/guides/functions/schedule-functions).
-- The project URL and the service role key are read from Vault at each run,
-- so neither is written here:
--
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service role key>', 'service_role_key');
--
-- The job is created only where pg_net is installed (hosted Supabase, or
-- `create extension pg_net` first; then run this block again). Elsewhere it is
-- skipped with a notice: the local stack (npm start) calls the same function
-- on the same schedule itself, and the tests call it directly.

do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    perform cron.schedule('checkout-reconcile', '* * * * *', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url') || '/functions/v1/reconcile',
        headers := jsonb_build_object(
          'Content-Type', 'application/json',
          'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets where name = 'service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 55000)
    $job$);
  else
    raise notice 'pg_net is not installed: the checkout-reconcile cron job was not created (the local stack schedules reconcile itself)';
  end if;
end
$$;

-- ===========================================================================
-- supabase/schemas/08_fair_stock.sql
-- ===========================================================================

-- Fair stock: nobody can hoard. One anonymous shopper could hold every unit
-- of the store and keep it by checking out again every few minutes. Caps on
-- what one shopper may hold, and bounds on renewals, enforced by triggers on
-- the tables begin_checkout and the cart RPC write, so a rule holds whoever
-- writes the rows (settings in 00_foundation.sql):
--
--   CKH01  a line holds more units of one variant than max_units_per_variant
--          (cart and checkout); detail {max, lines: [{variant_id, sku, requested}]}
--   CKH02  a checkout holds more units than max_units_per_checkout;
--          detail {max, requested}
--   CKH03  the shopper let max_unpaid_expiries reservations expire unpaid
--          within unpaid_expiry_window: no new reservation until retry_after;
--          detail {expired_unpaid, max, window_seconds, retry_after}
--
-- Renewal: a checkout that replaces one whose hold is still running keeps
-- that hold's expiry (whatever its lines: a rule on "the same lines" only
-- would be dodged by alternating two carts), so re-checking out never
-- extends a hold; once it lapses unpaid it counts towards CKH03.
--
-- Per client address too, since a shopper is one anonymous sign-in (four
-- anonymous sessions from one address held all 86 units of the demo catalog
-- for 15 minutes): the unpaid, unexpired checkouts from one client address
-- may hold at most max_units_per_address units together (CKH05).
-- checkout.begin_client_checkout is begin_checkout for a request from a
-- client (create-preference, which reads the address the gateway reports):
-- begin_checkout, then, under a lock per address taken after
-- begin_checkout's own and held only for the count, the count. The database
-- keeps no address: an order session records a keyed hash of it
-- (HMAC-SHA256 under private.client_address_secret, a random key made once
-- per database), enough to count one address's holds and useless for
-- finding whose it was; it goes with the session when old sessions are
-- trimmed. An IPv6 address counts by its /64, an IPv4-mapped one as IPv4.

-- ---------------------------------------------------------------------------
-- Tables

create table private.client_address_secret (
  only_row boolean primary key default true check (only_row),
  secret bytea not null default extensions.gen_random_bytes(32)
);
insert into private.client_address_secret default values;
comment on table private.client_address_secret is
  'The key of the client address hashes in order_sessions.client_address (random, made once per database). Nobody but the migration owner reads it.';

-- No grant, no policy: only the owner (the definer routines) reads it.
alter table private.client_address_secret enable row level security;

create index order_sessions_client_address_idx on public.order_sessions (client_address) include (item_count, expires_at)
  where status = 'active' and client_address is not null;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.check_fair_hold()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  over jsonb;
  prev_expires timestamptz;
  expiries timestamptz[];
begin
  -- 1. Caps on what one checkout holds (the shopper has at most one active
  --    session, so these are per shopper).
  select jsonb_agg(jsonb_build_object('variant_id', x.variant_id, 'sku', x.sku, 'requested', x.quantity) order by x.sku)
    into over
    from jsonb_to_recordset(new.lines) as x(variant_id uuid, sku text, quantity integer)
   where x.quantity > cfg.max_units_per_variant;
  if over is not null then
    raise exception 'at most % units of one product per shopper: %', cfg.max_units_per_variant, (
      select string_agg(format('%s (requested %s)', e ->> 'sku', e ->> 'requested'), ', ') from jsonb_array_elements(over) e)
      using errcode = 'CKH01', detail = jsonb_build_object('max', cfg.max_units_per_variant, 'lines', over)::text;
  end if;
  if new.item_count > cfg.max_units_per_checkout then
    raise exception 'at most % units per checkout, % requested', cfg.max_units_per_checkout, new.item_count
      using errcode = 'CKH02', detail = jsonb_build_object('max', cfg.max_units_per_checkout, 'requested', new.item_count)::text;
  end if;

  -- 2. A shopper who let too many reservations lapse unpaid waits.
  select array_agg(u.expired_at order by u.expired_at desc) into expiries
    from private.unpaid_expiries(new.session_id, now() - cfg.unpaid_expiry_window) u;
  if coalesce(cardinality(expiries), 0) >= cfg.max_unpaid_expiries then
    raise exception 'too many reservations expired unpaid (% in %); try again after %',
      cardinality(expiries), cfg.unpaid_expiry_window, expiries[cfg.max_unpaid_expiries] + cfg.unpaid_expiry_window
      using errcode = 'CKH03',
            detail = jsonb_build_object(
              'expired_unpaid', cardinality(expiries),
              'max', cfg.max_unpaid_expiries,
              'window_seconds', extract(epoch from cfg.unpaid_expiry_window)::integer,
              'retry_after', expiries[cfg.max_unpaid_expiries] + cfg.unpaid_expiry_window)::text;
  end if;

  -- 3. Renewal: replacing a hold that is still running (a session
  --    cancelled, by a new checkout or a release, before its expiry) keeps
  --    its expiry, unless the shopper has paid since.
  select max(s.expires_at) into prev_expires
    from public.order_sessions s
   where s.session_id = new.session_id
     and s.status = 'cancelled'
     and s.expires_at > now()
     and not exists (
       select 1 from public.order_sessions p
        where p.session_id = new.session_id
          and p.status in ('paid', 'refund_owed', 'refunded')
          and p.created_at >= s.created_at);
  if prev_expires is not null then
    new.expires_at := least(new.expires_at, prev_expires);
  end if;
  return new;
end
$$;
comment on function private.check_fair_hold() is
  'Trigger on new order sessions: CKH01 over max_units_per_variant, CKH02 over max_units_per_checkout, CKH03 after max_unpaid_expiries unpaid expiries within unpaid_expiry_window; a checkout replacing a still-running hold keeps its expiry.';
create trigger order_sessions_fair_hold
  before insert on public.order_sessions
  for each row execute function private.check_fair_hold();

create function private.check_cart_hold()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  max_units integer := (private.current_settings()).max_units_per_variant;
begin
  -- Only a line that is new or grows: lowering is always allowed.
  if tg_op = 'UPDATE' and new.quantity <= old.quantity then
    return new;
  end if;
  if new.quantity > max_units then
    raise exception 'at most % units of one product per shopper, % requested', max_units, new.quantity
      using errcode = 'CKH01',
            detail = jsonb_build_object('max', max_units, 'lines', jsonb_build_array(jsonb_build_object(
              'variant_id', new.variant_id,
              'sku', (select v.sku from public.variants v where v.id = new.variant_id),
              'requested', new.quantity)))::text;
  end if;
  return new;
end
$$;
comment on function private.check_cart_hold() is
  'Trigger on cart lines (after cart_items_check): a line may not grow beyond max_units_per_variant (CKH01), so the shopper learns the cap in the cart rather than at checkout.';
-- Named to fire after cart_items_check (triggers fire in name order).
create trigger cart_items_hold_cap
  before insert or update on public.cart_items
  for each row execute function private.check_cart_hold();

-- ---------------------------------------------------------------------------
-- Routines

create function private.unpaid_expiries(p_session_id uuid, p_since timestamptz)
returns table (expired_at timestamptz)
language plpgsql stable set search_path = ''
as $$
begin
  return query
    -- Expired unpaid: expired (by the cron), or cancelled or still active
    -- after expires_at passed (lazy expiry; a new checkout cancels those).
    -- Paid sessions, late ones included, have left these statuses.
    select s.expires_at
      from public.order_sessions s
     where s.session_id = p_session_id
       and s.status in ('active', 'expired', 'cancelled')
       and s.expires_at > p_since
       and s.expires_at <= now()
       and s.expires_at <= coalesce(s.closed_at, now())
     order by s.expires_at desc;
end
$$;
comment on function private.unpaid_expiries(uuid, timestamptz) is
  'The expiry times of a shopper''s order sessions that expired unpaid since p_since, newest first. Used by the fair-stock trigger.';

create function private.client_address_key(p_address text)
returns text
language plpgsql stable set search_path = ''
as $$
declare
  a inet;
  counted text;
begin
  begin
    a := p_address::inet;
  exception when others then
    return null;
  end;
  if a is null or (family(a) = 4 and masklen(a) <> 32) or (family(a) = 6 and masklen(a) <> 128) then
    return null;
  end if;
  if family(a) = 6 and host(a) ~* '^::ffff:[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' then
    a := substr(host(a), 8)::inet;
  end if;
  counted := host(a);
  if family(a) = 6 then
    counted := network(set_masklen(a, 64))::text;
  end if;
  return encode(extensions.hmac(convert_to(counted, 'UTF8'), (select s.secret from private.client_address_secret s), 'sha256'), 'hex');
end
$$;
comment on function private.client_address_key(text) is
  'The key an address counts under: HMAC-SHA256 (hex) of the IPv4 address, or of the IPv6 /64, under private.client_address_secret; null for anything that is not one address.';

create function checkout.begin_client_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text,
  p_client_address text,
  p_marketing_opt_in boolean
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  k text := private.client_address_key(p_client_address);
  r jsonb := checkout.begin_checkout(p_session_id, p_payer, p_shipping_address, p_coupon_code);
  s_id uuid := (r ->> 'id')::uuid;
  held integer;
  soonest timestamptz;
begin
  if p_marketing_opt_in then
    perform email.request_marketing_opt_in(p_payer ->> 'email', p_session_id, s_id);
  end if;
  if k is null then
    return r;
  end if;
  -- One address's checkouts count one at a time; each statement below reads
  -- afresh, so it sees every checkout from the address committed before it
  -- got the lock (a bigint key: never one of the admission's int4 pairs).
  perform pg_advisory_xact_lock(('x' || left(k, 16))::bit(64)::bigint);
  update public.order_sessions set client_address = k where id = s_id;
  select coalesce(sum(s.item_count), 0), min(s.expires_at) into held, soonest
    from public.order_sessions s
   where s.client_address = k and s.status = 'active' and s.expires_at > now() and s.id <> s_id;
  if held + (r ->> 'item_count')::integer > cfg.max_units_per_address then
    raise exception 'checkouts from this address already hold % units (at most %), this one asks for %',
      held, cfg.max_units_per_address, r ->> 'item_count'
      using errcode = 'CKH05',
            detail = jsonb_build_object(
              'max', cfg.max_units_per_address,
              'held', held,
              'requested', (r ->> 'item_count')::integer,
              'retry_after', soonest)::text;
  end if;
  return r;
end
$$;
comment on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) is
  'Service role only (create-preference). checkout.begin_checkout for a client request from p_client_address: the order session records the address''s key (private.client_address_key), and the unpaid, unexpired checkouts from that address may hold at most max_units_per_address units together; with p_marketing_opt_in, the payer''s email is asked to confirm the marketing box (email.request_marketing_opt_in). Errors: those of begin_checkout; CKH05 over the address''s cap (detail {"max", "held", "requested", "retry_after": when the soonest of its holds ends}; nothing written). An address that is not one (null, garbage) is not capped.';
grant execute on function checkout.begin_client_checkout(uuid, jsonb, jsonb, text, text, boolean) to service_role;

-- Monitoring: who holds the most.
create function checkout.top_holders(p_limit integer default 10)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(h order by (h ->> 'units')::integer desc, h ->> 'session_id'), '[]'::jsonb)
    from (
      select jsonb_build_object(
               'session_id', s.session_id,
               'units', sum(r.quantity)::integer,
               'variants', count(distinct r.variant_id)::integer,
               'expires_at', max(r.expires_at),
               'unpaid_expiries_last_window', (
                 select count(*)::integer
                   from private.unpaid_expiries(s.session_id, now() - (private.current_settings()).unpaid_expiry_window))
             ) as h
        from checkout.stock_reservations r
        join public.order_sessions s on s.id = r.order_session_id
       where r.expires_at > now()
       group by s.session_id
       order by sum(r.quantity) desc, s.session_id
       limit greatest(least(coalesce(p_limit, 10), 100), 1)
    ) top
$$;
comment on function checkout.top_holders(integer) is
  'Service role only. The shoppers holding the most unexpired reserved units (at most p_limit, 1..100): session id, units, variants, when their hold ends, and their unpaid expiries in the current window.';
grant execute on function checkout.top_holders(integer) to service_role;

-- ===========================================================================
-- supabase/schemas/09_accounts_and_merge.sql
-- ===========================================================================

-- Accounts and merge: the cart follows the shopper. Sign-up needs nothing
-- here: converting an anonymous user keeps its id. When a shopper with an
-- anonymous cart logs in to an existing account (Supabase replaces the
-- anonymous user by the account's), checkout.merge_carts moves what the
-- anonymous user had into the account: cart lines (by the store's
-- cart_merge_strategy), order sessions and orders. The Edge Function
-- merge-cart proves both identities (the account's JWT and a fresh access
-- token of the anonymous user) and calls it as service_role.
--
-- The merge requires the anonymous user's live Auth session: after it signs
-- out (POST /auth/v1/logout deletes its auth.sessions row) its access token
-- stays valid until it expires, so checkout.merge_carts takes the token's
-- session_id claim and refuses (CKU03, the function answers 401) unless that
-- session exists, belongs to the anonymous user and has not timed out; a
-- deleted account is CKU03 too.
--
-- Order sessions and orders change owner only here: their transition
-- triggers refuse a new session_id except under the transaction-local marker
-- checkout.owner_move naming exactly this move (04_order_sessions.sql,
-- 06_payments_and_orders.sql).
--
-- One checkout group per cart across a merge, so that a merged cart is never
-- paid twice (an anonymous checkout the merge cancelled stays payable in the
-- old MercadoPago tab until reconcile expires its preference):
--   * the merge joins the group of the checkout it cancels to the account's
--     open group (the group of the account's checkout in progress, else of an
--     earlier merge still without an order), and records it in
--     cart_merges.checkout_group;
--   * every checkout of the account joins that group until one of its
--     sessions becomes an order (trigger order_sessions_join_merged_group,
--     whoever inserts the session);
--   * so a payment for any session that held those lines is judged against
--     the account's checkouts by the rule that already exists
--     (private.settle_approved): one order, the other payments refunded as
--     superseded, or the old tab taking over a newer unpaid checkout;
--   * checkout.audit() reports two_orders_one_merged_cart from the event log,
--     not the groups, so it also sees a database where they were never joined.

-- ---------------------------------------------------------------------------
-- Tables

create table checkout.cart_merges (
  anonymous_id uuid primary key,
  account_id uuid not null,
  strategy text not null,
  report jsonb,
  merged_at timestamptz not null default now(),
  checkout_group uuid,
  constraint cart_merges_two_users check (anonymous_id <> account_id)
);
comment on table checkout.cart_merges is
  'One row per anonymous user merged into an account, with the report the merge returned: what makes a retry, or a concurrent second merge, return the same report and change nothing. Service role only.';
comment on column checkout.cart_merges.checkout_group is
  'The account''s checkout group that the checkout this merge cancelled joined; the account''s next checkouts join it until one of its sessions becomes an order (private.merged_checkout_group). NULL when the anonymous user had no checkout in progress.';

create index cart_merges_account_idx on checkout.cart_merges (account_id);

-- No policy: only the service role (which bypasses RLS) and the definer
-- routine below use it.
alter table checkout.cart_merges enable row level security;
grant select on checkout.cart_merges to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.join_merged_checkout_group()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  merged uuid;
begin
  -- Only accounts that merged a checkout in progress have a row; for
  -- everyone else this is one index probe that finds nothing.
  merged := private.merged_checkout_group(new.session_id);
  if merged is not null then
    new.checkout_group := merged;
  end if;
  return new;
end
$$;
comment on function private.join_merged_checkout_group() is
  'Trigger (before insert on order_sessions): a checkout of an account that merged an anonymous checkout in progress joins that checkout''s group (private.merged_checkout_group), so that at most one of them becomes an order.';
create trigger order_sessions_join_merged_group
  before insert on public.order_sessions
  for each row execute function private.join_merged_checkout_group();

-- ---------------------------------------------------------------------------
-- Routines

create function private.merged_checkout_group(p_account_id uuid)
returns uuid
language plpgsql stable set search_path = ''
as $$
begin
  return (
    select m.checkout_group
      from checkout.cart_merges m
     where m.account_id = p_account_id
       and m.checkout_group is not null
       and not exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                        where g.checkout_group = m.checkout_group)
     order by m.merged_at desc
     limit 1);
end
$$;
comment on function private.merged_checkout_group(uuid) is
  'The checkout group a checkout of this account joins because a merge cancelled an anonymous checkout whose MercadoPago preference may still be paid: the latest merge''s group that has no order yet; NULL when there is none.';
grant execute on function private.merged_checkout_group(uuid) to service_role;

create function private.merge_cart_lines(p_anonymous_id uuid, p_account_id uuid, p_strategy text)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  -- A cart line's ceiling: max_line_quantity, and the fair-stock cap on what
  -- one shopper may hold of a product (max_units_per_variant).
  max_qty integer := least(cfg.max_line_quantity, cfg.max_units_per_variant);
  account_has_lines boolean;
  anonymous_has_lines boolean;
  account_currency text;
  changes jsonb := '[]'::jsonb;
  moved integer := 0;
  l record;
  room integer;
  take integer;
  reason text;
begin
  account_has_lines := exists (select 1 from public.cart_items where session_id = p_account_id);
  anonymous_has_lines := exists (select 1 from public.cart_items where session_id = p_anonymous_id);

  if p_strategy = 'keep_account' and account_has_lines then
    -- The account's cart wins; every anonymous line is dropped.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', ci.variant_id, 'sku', v.sku, 'title', p.title || ' - ' || v.title, 'from', 'anonymous',
             'requested', ci.quantity, 'quantity', 0, 'reason', 'kept_account_cart') order by v.sku), '[]'::jsonb)
      into changes
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
     where ci.session_id = p_anonymous_id;
    return jsonb_build_object('changes', changes, 'moved', 0);
  end if;

  if p_strategy = 'replace' and anonymous_has_lines and account_has_lines then
    -- The account's lines give way to the anonymous ones.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', ci.variant_id, 'sku', v.sku, 'title', p.title || ' - ' || v.title, 'from', 'account',
             'requested', ci.quantity, 'quantity', 0, 'reason', 'replaced') order by v.sku), '[]'::jsonb)
      into changes
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
     where ci.session_id = p_account_id
       and not exists (select 1 from public.cart_items a where a.session_id = p_anonymous_id and a.variant_id = ci.variant_id);
    delete from public.cart_items where session_id = p_account_id;
  end if;

  -- merge (and keep_account into an empty cart, replace after clearing):
  -- each anonymous line adds what fits, in a fixed order.
  for l in
    select ci.variant_id, ci.quantity, v.sku, p.title || ' - ' || v.title as title, v.currency,
           v.active and p.active as for_sale, greatest(private.available_stock(v.id), 0) as available,
           coalesce(acc.quantity, 0) as account_quantity
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
      left join public.cart_items acc on acc.session_id = p_account_id and acc.variant_id = ci.variant_id
     where ci.session_id = p_anonymous_id
     order by ci.added_at, v.sku
  loop
    select min(v.currency) into account_currency
      from public.cart_items ci join public.variants v on v.id = ci.variant_id
     where ci.session_id = p_account_id;
    reason := null;
    take := 0;
    if not l.for_sale then
      reason := 'not_for_sale';
    elsif account_currency is not null and account_currency <> l.currency then
      reason := 'currency_mismatch';
    else
      room := greatest(least(max_qty, l.available) - l.account_quantity, 0);
      take := least(l.quantity, room);
      if take < l.quantity then
        reason := case when l.account_quantity + l.quantity > max_qty and max_qty <= l.available
                       then 'max_line_quantity' else 'insufficient_stock' end;
      end if;
      if take > 0 then
        insert into public.cart_items (session_id, variant_id, quantity)
        values (p_account_id, l.variant_id, take)
        on conflict (session_id, variant_id) do update set quantity = public.cart_items.quantity + excluded.quantity;
        moved := moved + 1;
      end if;
    end if;
    if reason is not null then
      changes := changes || jsonb_build_object(
        'variant_id', l.variant_id, 'sku', l.sku, 'title', l.title, 'from', 'anonymous',
        'requested', l.quantity, 'quantity', take, 'reason', reason,
        'available', l.available, 'max_line_quantity', max_qty, 'account_quantity', l.account_quantity);
    end if;
  end loop;
  return jsonb_build_object('changes', changes, 'moved', moved);
end
$$;
comment on function private.merge_cart_lines(uuid, uuid, text) is
  'Moves the anonymous cart''s lines into the account''s by a strategy (merge, keep_account, replace), each line capped at what is available and at the per-line ceiling (least of max_line_quantity and max_units_per_variant, reported as max_line_quantity); returns {changes: [every line capped or dropped, with its reason], moved}. Called by checkout.merge_carts, which holds both carts'' locks.';

create function private.merge_replay(p_done checkout.cart_merges, p_account_id uuid)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  if p_done.account_id <> p_account_id then
    raise exception 'the anonymous user % was already merged into another account', p_done.anonymous_id
      using errcode = 'CKU02', detail = jsonb_build_object('anonymous_id', p_done.anonymous_id)::text;
  end if;
  return p_done.report || jsonb_build_object('already_merged', true, 'cart', private.cart_json(p_account_id));
end
$$;
comment on function private.merge_replay(checkout.cart_merges, uuid) is
  'The answer to a merge that already happened: its report and the account''s cart now, or CKU02 when it went to another account. Called by checkout.merge_carts.';

create function checkout.merge_carts(
  p_anonymous_id uuid,
  p_account_id uuid,
  p_anonymous_session_id uuid
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  strategy text := (private.current_settings()).cart_merge_strategy;
  done checkout.cart_merges;
  claimed boolean;
  first_id uuid;
  second_id uuid;
  active_id uuid;
  cancelled_ids uuid[] := '{}';
  cancelled_token text;
  open_groups uuid[];
  target uuid;
  lines jsonb;
  moved_sessions integer;
  moved_orders integer;
  v_report jsonb;
begin
  if p_anonymous_id is null or p_account_id is null then
    raise exception 'both users are required' using errcode = 'CKI01';
  end if;
  -- 0. The anonymous token must belong to a live Auth session: signed out
  --    (the row deleted), timed out, or its user deleted, nothing moves.
  --    Checked before anything, a replay included.
  if p_anonymous_session_id is null or not exists (
       select 1 from auth.sessions s
        where s.id = p_anonymous_session_id and s.user_id = p_anonymous_id
          and (s.not_after is null or s.not_after > now())) then
    raise exception 'the anonymous user''s Auth session is signed out or unknown' using errcode = 'CKU03',
      detail = jsonb_build_object('anonymous_id', p_anonymous_id, 'session_id', p_anonymous_session_id)::text,
      hint = 'Merge with a fresh access token of an anonymous user who is still signed in.';
  end if;
  if not exists (select 1 from auth.users u where u.id = p_account_id) then
    raise exception 'the account % no longer exists', p_account_id using errcode = 'CKU03',
      detail = jsonb_build_object('account_id', p_account_id)::text, hint = 'Sign in again.';
  end if;
  -- A retry after the merge returns its report.
  select * into done from checkout.cart_merges m where m.anonymous_id = p_anonymous_id;
  if found then
    return private.merge_replay(done, p_account_id);
  end if;
  if p_anonymous_id = p_account_id then
    raise exception 'cannot merge a user into itself' using errcode = 'CKU01',
      detail = jsonb_build_object('user_id', p_account_id)::text;
  end if;
  if not exists (select 1 from auth.users u where u.id = p_anonymous_id and u.is_anonymous) then
    raise exception 'user % is not an anonymous user', p_anonymous_id using errcode = 'CKU01',
      detail = jsonb_build_object('anonymous_id', p_anonymous_id)::text;
  end if;
  if not exists (select 1 from auth.users u where u.id = p_account_id and not u.is_anonymous) then
    raise exception 'user % is not a permanent account', p_account_id using errcode = 'CKU01',
      detail = jsonb_build_object('account_id', p_account_id)::text;
  end if;

  -- 1. Once per anonymous user. The primary key serialises concurrent
  --    merges of the same anonymous user: the second waits for the first
  --    and then returns its report.
  insert into checkout.cart_merges (anonymous_id, account_id, strategy)
  values (p_anonymous_id, p_account_id, strategy)
  on conflict (anonymous_id) do nothing;
  get diagnostics claimed = row_count;
  if not claimed then
    select * into done from checkout.cart_merges m where m.anonymous_id = p_anonymous_id;
    return private.merge_replay(done, p_account_id);
  end if;

  -- 2. Both carts, locked in id order (created if missing so that there is a
  --    row to lock), then, as everywhere, order sessions before variants.
  --    Payments lock the cart of their session's owner first, so with both
  --    carts locked no payment of either shopper is being applied.
  first_id := least(p_anonymous_id, p_account_id);
  second_id := greatest(p_anonymous_id, p_account_id);
  insert into public.carts (session_id) values (first_id) on conflict (session_id) do update set updated_at = now();
  insert into public.carts (session_id) values (second_id) on conflict (session_id) do update set updated_at = now();

  -- 3. The anonymous user's checkout in progress is cancelled and its stock
  --    released, through the one release routine. (checkout.audit() finds
  --    these sessions by this reason.)
  for active_id in
    select id from public.order_sessions where session_id = p_anonymous_id and status = 'active' order by id
  loop
    select (checkout.release_session(active_id, 'merged into an account') ->> 'token') into cancelled_token;
    cancelled_ids := cancelled_ids || active_id;
  end loop;

  -- 3b. One checkout group per cart. The cancelled checkout's preference can
  --     still be paid at MercadoPago, and its lines are now the account's:
  --     its group (unless it already has an order) joins the account's open
  --     group (its checkout in progress, else an earlier merge's), or
  --     becomes it, and the account's next checkouts join it
  --     (order_sessions_join_merged_group). Whichever session is paid first
  --     becomes the order; a payment for another is refunded as superseded
  --     (private.settle_approved).
  select coalesce(array_agg(distinct s.checkout_group), '{}') into open_groups
    from public.order_sessions s
   where s.id = any (cancelled_ids)
     and not exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                      where g.checkout_group = s.checkout_group);
  if cardinality(open_groups) > 0 then
    select s.checkout_group into target
      from public.order_sessions s
     where s.session_id = p_account_id and s.status = 'active'
       and not exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                        where g.checkout_group = s.checkout_group);
    target := coalesce(target, private.merged_checkout_group(p_account_id), open_groups[1]);
    update public.order_sessions set checkout_group = target
     where checkout_group = any (open_groups) and checkout_group <> target;
    update checkout.cart_merges m set checkout_group = target where m.anonymous_id = p_anonymous_id;
  end if;

  -- 4. The lines.
  lines := private.merge_cart_lines(p_anonymous_id, p_account_id, strategy);
  delete from public.carts where session_id = p_anonymous_id;

  -- 5. Its order sessions and orders follow it (get_my_orders shows them).
  perform set_config('checkout.owner_move', p_anonymous_id::text || '>' || p_account_id::text, true);
  update public.order_sessions set session_id = p_account_id, updated_at = now() where session_id = p_anonymous_id;
  get diagnostics moved_sessions = row_count;
  update public.orders set session_id = p_account_id, updated_at = now() where session_id = p_anonymous_id;
  get diagnostics moved_orders = row_count;
  perform set_config('checkout.owner_move', '', true);

  v_report := jsonb_build_object(
    'anonymous_id', p_anonymous_id,
    'account_id', p_account_id,
    'strategy', strategy,
    'changes', lines -> 'changes',
    'lines_moved', (lines ->> 'moved')::integer,
    'cancelled_order_session', cancelled_token,
    'order_sessions_moved', moved_sessions,
    'orders_moved', moved_orders
  );
  update checkout.cart_merges m set report = v_report where m.anonymous_id = p_anonymous_id;
  return v_report || jsonb_build_object('already_merged', false, 'cart', private.cart_json(p_account_id));
end
$$;
comment on function checkout.merge_carts(uuid, uuid, uuid) is
  'Service role only (the merge-cart Edge Function, after verifying both tokens; p_anonymous_session_id is the anonymous token''s session_id claim, which must name a live auth.sessions row of that user). Moves an anonymous user''s cart into a permanent account''s by the store''s cart_merge_strategy, cancels the anonymous checkout in progress (its stock released; its checkout group joins the account''s, so that one order at most comes of the merged cart), and moves its order sessions and orders to the account; atomic and idempotent (a retry or a concurrent merge returns the same report with already_merged true). Returns {strategy, changes: [lines capped or dropped: variant_id, sku, title, from, requested, quantity, reason], lines_moved, cancelled_order_session, order_sessions_moved, orders_moved, already_merged, cart}. Errors: CKI01 bad input, CKU03 the anonymous Auth session is signed out or unknown (or the account is gone), CKU01 not an anonymous user and a distinct permanent account, CKU02 already merged into another account.';
grant execute on function checkout.merge_carts(uuid, uuid, uuid) to service_role;

-- ===========================================================================
-- supabase/schemas/10_analytics.sql
-- ===========================================================================

-- Abandoned-cart analytics: the funnel (carts created -> carts with items ->
-- checkout begun -> paid), the revenue left behind and recovered, the top
-- abandoned products and why checkouts ended. Service role only, exposed
-- through the order-sessions-admin and admin functions.
--
-- Carts are purged after cart_ttl idle and old order sessions are trimmed, so
-- the history the funnel needs is kept here:
--   analytics.cart_facts          one row per cart ever created (created, first
--                                 item, checkout begun, paid, last reminder,
--                                 and what it held when it was deleted);
--   analytics.daily_funnel        one row per finished day (pg_cron, hourly);
--   analytics.abandoned_products  units and value per variant and day left in
--                                 deleted carts (written as they are deleted)
--                                 and in expired order sessions (by the rollup).
-- Triggers keep the facts as they happen; what a cart still held when it is
-- deleted is written by checkout.purge_carts for its batch
-- (13_housekeeping.sql), and by a BEFORE DELETE trigger for any other
-- deletion (a cart going with its user).
--
-- Every figure counts events on the day they happened, in the store's time
-- zone (settings.analytics_time_zone): a day's row never changes once the day
-- is over, so the rollup of finished days is final and a range is the sum of
-- its days. Today (and any day not rolled up yet) is computed live from
-- indexed facts.

-- ---------------------------------------------------------------------------
-- Tables

create table analytics.cart_facts (
  session_id uuid not null,
  created_at timestamptz not null,
  first_item_at timestamptz,
  checkout_at timestamptz,
  paid_at timestamptz,
  reminded_at timestamptz,
  purged_at timestamptz,
  abandoned_units integer check (abandoned_units >= 0),
  abandoned_value numeric(12, 2) check (abandoned_value >= 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  primary key (session_id, created_at)
);
comment on table analytics.cart_facts is
  'One row per cart ever created, kept after the purge deletes the cart: when it was created, got its first item, began its first checkout, was first paid, was last reminded by email, and what it still held (units, value at the prices of that moment) when it was deleted. Written by triggers; service_role reads it.';
comment on column analytics.cart_facts.reminded_at is
  'When a recovery email for this cart was last sent (set by the email sender).';

create index cart_facts_created_at_idx on analytics.cart_facts (created_at);
create index cart_facts_first_item_at_idx on analytics.cart_facts (first_item_at) where first_item_at is not null;
create index cart_facts_checkout_at_idx on analytics.cart_facts (checkout_at) where checkout_at is not null;
create index cart_facts_paid_at_idx on analytics.cart_facts (paid_at) where paid_at is not null;
create index cart_facts_purged_at_idx on analytics.cart_facts (purged_at) where purged_at is not null;

alter table analytics.cart_facts enable row level security;
grant select, insert, update, delete on analytics.cart_facts to service_role;

create table analytics.daily_funnel (
  day date primary key,
  carts_created integer not null,
  carts_with_items integer not null,
  checkouts_begun integer not null,
  carts_paid integer not null,
  orders integer not null,
  revenue jsonb not null,
  abandoned_carts integer not null,
  abandoned_cart_value jsonb not null,
  expired_sessions integer not null,
  expired_session_value jsonb not null,
  recovered_orders integer not null,
  recovered_revenue jsonb not null,
  outcomes jsonb not null,
  computed_at timestamptz not null default now()
);
comment on table analytics.daily_funnel is
  'The funnel of one finished day (see analytics.compute_day), written by analytics.rollup from pg_cron. Money columns are {currency: amount}.';

alter table analytics.daily_funnel enable row level security;
grant select, insert, update, delete on analytics.daily_funnel to service_role;

create table analytics.abandoned_products (
  day date not null,
  source text not null check (source in ('cart', 'checkout')),
  variant_id uuid not null,
  sku text not null,
  title text not null,
  currency text not null,
  carts integer not null check (carts >= 0),
  units integer not null check (units >= 0),
  value numeric(14, 2) not null check (value >= 0),
  primary key (day, source, variant_id)
);
comment on table analytics.abandoned_products is
  'Units and value per variant and day left behind: source cart = lines of carts deleted that day (purged after cart_ttl, at the prices of that moment, written by the purge or the delete trigger); source checkout = lines of order sessions that expired that day (written by analytics.rollup).';

alter table analytics.abandoned_products enable row level security;
grant select, insert, update, delete on analytics.abandoned_products to service_role;

-- Indexes the live part of the report reads by day.
create index orders_created_at_idx on public.orders (created_at);
create index order_sessions_closed_at_idx on public.order_sessions (closed_at) where closed_at is not null;

-- ---------------------------------------------------------------------------
-- Triggers that record the facts as they happen. Security definer (the cart
-- triggers run as the shopper, who may not see analytics).

create function analytics.record_cart_created()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  insert into analytics.cart_facts (session_id, created_at)
  values (new.session_id, new.created_at)
  on conflict do nothing;
  return null;
end
$$;
comment on function analytics.record_cart_created() is 'Trigger: a new cart gets its analytics fact row.';
create trigger carts_record_fact
  after insert on public.carts
  for each row execute function analytics.record_cart_created();

create function analytics.record_first_item()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  update analytics.cart_facts f
     set first_item_at = now()
    from public.carts c
   where c.session_id = new.session_id
     and f.session_id = c.session_id and f.created_at = c.created_at
     and f.first_item_at is null;
  return null;
end
$$;
comment on function analytics.record_first_item() is
  'Trigger: the first line ever added to a cart stamps its fact row (later lines write nothing).';
create trigger cart_items_record_first_item
  after insert on public.cart_items
  for each row execute function analytics.record_first_item();

create function analytics.record_checkout()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  update analytics.cart_facts f
     set checkout_at = now()
    from public.carts c
   where c.session_id = new.session_id
     and f.session_id = c.session_id and f.created_at = c.created_at
     and f.checkout_at is null;
  return null;
end
$$;
comment on function analytics.record_checkout() is 'Trigger: a cart''s first order session stamps its fact row.';
create trigger order_sessions_record_checkout
  after insert on public.order_sessions
  for each row execute function analytics.record_checkout();

create function analytics.record_paid()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  update analytics.cart_facts f
     set paid_at = now()
    from public.carts c
   where c.session_id = new.session_id
     and f.session_id = c.session_id and f.created_at = c.created_at
     and f.paid_at is null;
  return null;
end
$$;
comment on function analytics.record_paid() is 'Trigger: a cart''s first order stamps its fact row.';
create trigger orders_record_paid
  after insert on public.orders
  for each row execute function analytics.record_paid();

-- Whatever deletes a cart, what it still held is kept first. The purge
-- records its whole batch in the statement that deletes it; any other
-- deletion (an anonymous user removed, which cascades; a delete by hand) goes
-- through this row trigger BEFORE DELETE, which still sees the cart's lines
-- (the cascade to cart_items runs after it). The trigger alone would do for
-- the purge too, at about ten times the purge's cost per cart (bench), so the
-- purge sets analytics.cart_purge and the trigger skips.
create function analytics.record_cart_deleted()
returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  tz text := (private.current_settings()).analytics_time_zone;
begin
  -- checkout.purge_carts records its whole batch in one statement.
  if current_setting('analytics.cart_purge', true) = 'on' then
    return old;
  end if;
  -- What the cart still held, at the prices of this moment (an aggregate
  -- without group by: one row, zeros for an empty cart).
  insert into analytics.cart_facts as f (session_id, created_at, purged_at, abandoned_units, abandoned_value, currency)
  select old.session_id, old.created_at, now(), coalesce(sum(ci.quantity), 0), coalesce(sum(ci.quantity * v.price), 0), min(v.currency)
    from public.cart_items ci
    join public.variants v on v.id = ci.variant_id
   where ci.session_id = old.session_id
  on conflict (session_id, created_at) do update
     set purged_at = excluded.purged_at, abandoned_units = excluded.abandoned_units,
         abandoned_value = excluded.abandoned_value, currency = excluded.currency;

  insert into analytics.abandoned_products as a (day, source, variant_id, sku, title, currency, carts, units, value)
  select (now() at time zone tz)::date, 'cart', v.id, v.sku, p.title || ' - ' || v.title, v.currency, 1, ci.quantity, ci.quantity * v.price
    from public.cart_items ci
    join public.variants v on v.id = ci.variant_id
    join public.products p on p.id = v.product_id
   where ci.session_id = old.session_id
  on conflict (day, source, variant_id) do update
     set carts = a.carts + 1, units = a.units + excluded.units, value = a.value + excluded.value;
  return old;
end
$$;
comment on function analytics.record_cart_deleted() is
  'Trigger: before a cart is deleted other than by checkout.purge_carts (which records its batch itself), e.g. with its anonymous user, records in analytics.cart_facts and analytics.abandoned_products what it still held.';
create trigger carts_record_deleted
  before delete on public.carts
  for each row execute function analytics.record_cart_deleted();

-- ---------------------------------------------------------------------------
-- Routines

create function analytics.money(p_amounts jsonb[])
returns jsonb
language sql immutable set search_path = ''
as $$
  select coalesce(jsonb_object_agg(k, total), '{}'::jsonb)
    from (select e.key as k, sum(e.value::numeric) as total
            from unnest(p_amounts) m, jsonb_each_text(m) e
           group by e.key) x
$$;
comment on function analytics.money(jsonb[]) is 'Adds {currency: amount} objects per currency.';
grant execute on function analytics.money(jsonb[]) to service_role;

create function analytics.compute_day(p_day date)
returns analytics.daily_funnel
language plpgsql stable security definer set search_path = ''
as $$
declare
  tz text := (private.current_settings()).analytics_time_zone;
  d0 timestamptz := p_day::timestamp at time zone tz;
  d1 timestamptz := (p_day + 1)::timestamp at time zone tz;
  r analytics.daily_funnel;
begin
  r.day := p_day;
  r.computed_at := now();
  select count(*) into r.carts_created from analytics.cart_facts where created_at >= d0 and created_at < d1;
  select count(*) into r.carts_with_items from analytics.cart_facts where first_item_at >= d0 and first_item_at < d1;
  select count(*) into r.checkouts_begun from analytics.cart_facts where checkout_at >= d0 and checkout_at < d1;
  select count(*) into r.carts_paid from analytics.cart_facts where paid_at >= d0 and paid_at < d1;
  select count(*) into r.abandoned_carts
    from analytics.cart_facts where purged_at >= d0 and purged_at < d1 and abandoned_units > 0;
  select coalesce(jsonb_object_agg(currency, v), '{}'::jsonb) into r.abandoned_cart_value
    from (select currency, sum(abandoned_value) as v from analytics.cart_facts
           where purged_at >= d0 and purged_at < d1 and abandoned_units > 0 group by currency) x;

  -- Orders and the revenue recovered: an order whose shopper was sent a
  -- recovery email in the 7 days before it.
  select coalesce(sum(n), 0), coalesce(jsonb_object_agg(currency, v), '{}'::jsonb),
         coalesce(sum(rn), 0), coalesce(jsonb_object_agg(currency, rv) filter (where rn > 0), '{}'::jsonb)
    into r.orders, r.revenue, r.recovered_orders, r.recovered_revenue
    from (select o.currency, count(*) as n, sum(o.total) as v,
                 count(*) filter (where rec.hit) as rn, coalesce(sum(o.total) filter (where rec.hit), 0) as rv
            from public.orders o
            cross join lateral (
              select exists (
                select 1 from analytics.cart_facts f
                 where f.session_id = o.session_id and f.created_at <= o.created_at
                   and f.reminded_at <= o.created_at and f.reminded_at > o.created_at - interval '7 days'
              ) as hit
            ) rec
           where o.created_at >= d0 and o.created_at < d1
           group by o.currency) x;

  select coalesce(sum(n), 0), coalesce(jsonb_object_agg(currency, v), '{}'::jsonb)
    into r.expired_sessions, r.expired_session_value
    from (select s.currency, count(*) as n, sum(s.total) as v
            from public.order_sessions s
           where s.closed_at >= d0 and s.closed_at < d1 and s.status = 'expired'
           group by s.currency) x;

  -- Why checkouts ended, from the session and its event log.
  select coalesce(jsonb_object_agg(outcome, n), '{}'::jsonb) into r.outcomes
    from (select outcome, count(*) as n
            from (select case
                           when s.status = 'paid' then 'paid'
                           when s.status in ('refund_owed', 'refunded') then coalesce(
                             (select pr.reason from checkout.payment_refunds pr
                               where pr.order_session_id = s.id order by pr.created_at limit 1), 'refund_owed')
                           when exists (select 1 from checkout.order_session_events e
                                         where e.order_session_id = s.id and e.kind = 'payment_seen'
                                           and e.detail ->> 'status' = 'rejected') then 'rejected_payment'
                           else s.status::text
                         end as outcome
                    from public.order_sessions s
                   where s.closed_at >= d0 and s.closed_at < d1 and s.status <> 'active') c
           group by outcome) x;
  return r;
end
$$;
comment on function analytics.compute_day(date) is
  'Service role only. The funnel of one day in the store''s time zone, counting events on the day they happened: carts created, carts that got their first item, carts that began their first checkout, carts first paid, orders and revenue, carts purged with items (abandoned) and their value, order sessions expired and their value, orders recovered by a recovery email sent in the 7 days before, and why checkouts closed that day (paid, expired, cancelled, rejected_payment, out_of_stock, coupon_used_up...).';
grant execute on function analytics.compute_day(date) to service_role;

create function analytics.today()
returns date
language sql stable set search_path = ''
as $$
  select (now() at time zone (private.current_settings()).analytics_time_zone)::date
$$;
comment on function analytics.today() is 'Today in the store''s analytics time zone.';
grant execute on function analytics.today() to service_role;

create function analytics.rollup(p_days integer default 2)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  tz text := (private.current_settings()).analytics_time_zone;
  today date := analytics.today();
  first_day date;
  d date;
  n integer := 0;
begin
  -- The last p_days finished days, and every older day missing from the
  -- table (from the oldest fact, at most 400 days back): a first run, or one
  -- that found no data yet, is caught up by the next.
  first_day := greatest(coalesce((select (min(created_at) at time zone tz)::date from analytics.cart_facts), today - 1), today - 400);
  for d in select g::date from generate_series(first_day, today - 1, interval '1 day') g
            where g::date >= today - greatest(p_days, 1)
               or not exists (select 1 from analytics.daily_funnel f where f.day = g::date)
            order by 1
  loop
    insert into analytics.daily_funnel select c.* from analytics.compute_day(d) c
    on conflict (day) do update set
      carts_created = excluded.carts_created, carts_with_items = excluded.carts_with_items,
      checkouts_begun = excluded.checkouts_begun, carts_paid = excluded.carts_paid,
      orders = excluded.orders, revenue = excluded.revenue,
      abandoned_carts = excluded.abandoned_carts, abandoned_cart_value = excluded.abandoned_cart_value,
      expired_sessions = excluded.expired_sessions, expired_session_value = excluded.expired_session_value,
      recovered_orders = excluded.recovered_orders, recovered_revenue = excluded.recovered_revenue,
      outcomes = excluded.outcomes, computed_at = excluded.computed_at;

    -- Lines of the order sessions that expired that day.
    delete from analytics.abandoned_products where day = d and source = 'checkout';
    insert into analytics.abandoned_products (day, source, variant_id, sku, title, currency, carts, units, value)
    select d, 'checkout', (l ->> 'variant_id')::uuid, min(l ->> 'sku'), min(l ->> 'title'), min(s.currency),
           count(distinct s.id), sum((l ->> 'quantity')::integer), sum((l ->> 'line_total')::numeric)
      from public.order_sessions s, jsonb_array_elements(s.lines) l
     where s.closed_at >= d::timestamp at time zone tz and s.closed_at < (d + 1)::timestamp at time zone tz
       and s.status = 'expired'
     group by (l ->> 'variant_id')::uuid;
    n := n + 1;
  end loop;
  return n;
end
$$;
comment on function analytics.rollup(integer) is
  'Service role only (pg_cron, hourly). Writes analytics.daily_funnel and the checkout rows of analytics.abandoned_products for the last p_days finished days and every older day missing from the table (back to the oldest cart fact, at most 400 days). Returns how many days it wrote.';
grant execute on function analytics.rollup(integer) to service_role;

create function analytics.check_range(p_from date, p_to date)
returns void
language plpgsql immutable set search_path = ''
as $$
begin
  if p_from is null or p_to is null or p_from > p_to or p_to - p_from > 366 then
    raise exception 'the date range must have from <= to and span at most 367 days'
      using errcode = 'CKI01',
            detail = jsonb_build_object('from', p_from, 'to', p_to, 'max_days', 367)::text;
  end if;
end
$$;
comment on function analytics.check_range(date, date) is
  'Raises CKI01 (400) for a missing, reversed or longer than 367 days range.';
grant execute on function analytics.check_range(date, date) to service_role;

create function analytics.rate(p_lost numeric, p_of numeric)
returns numeric
language sql immutable set search_path = ''
as $$
  select case when p_of > 0 then round(greatest(p_lost, 0) / p_of, 4) end
$$;
comment on function analytics.rate(numeric, numeric) is
  'p_lost / p_of rounded to 4 decimals; null when nothing entered the step.';
grant execute on function analytics.rate(numeric, numeric) to service_role;

create function analytics.funnel(p_from date, p_to date)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  today date;
  result jsonb;
begin
  perform analytics.check_range(p_from, p_to);
  today := analytics.today();
  with days as (
    -- Finished days from the rollup; today and any day missing from it live.
    select f.* from analytics.daily_funnel f
     where f.day between p_from and p_to and f.day < today
    union all
    -- (a lateral call: `(f(x)).*` would run f once per column)
    select c.*
      from generate_series(p_from, least(p_to, today), interval '1 day') d
     cross join lateral analytics.compute_day(d::date) c
     where d::date >= today
        or not exists (select 1 from analytics.daily_funnel f where f.day = d::date)
  ), total as (
    select coalesce(sum(carts_created), 0) as carts_created, coalesce(sum(carts_with_items), 0) as carts_with_items,
           coalesce(sum(checkouts_begun), 0) as checkouts_begun, coalesce(sum(carts_paid), 0) as carts_paid,
           coalesce(sum(orders), 0) as orders, analytics.money(array_agg(revenue)) as revenue,
           coalesce(sum(abandoned_carts), 0) as abandoned_carts, analytics.money(array_agg(abandoned_cart_value)) as abandoned_cart_value,
           coalesce(sum(expired_sessions), 0) as expired_sessions, analytics.money(array_agg(expired_session_value)) as expired_session_value,
           coalesce(sum(recovered_orders), 0) as recovered_orders, analytics.money(array_agg(recovered_revenue)) as recovered_revenue,
           analytics.money(array_agg(outcomes)) as outcomes
      from days
  )
  select jsonb_build_object(
    'from', p_from, 'to', p_to, 'time_zone', (private.current_settings()).analytics_time_zone,
    'total', to_jsonb(t) || jsonb_build_object('abandonment_rate', jsonb_build_object(
      'cart', analytics.rate(t.carts_created - t.carts_with_items, t.carts_created),
      'checkout', analytics.rate(t.carts_with_items - t.checkouts_begun, t.carts_with_items),
      'payment', analytics.rate(t.checkouts_begun - t.carts_paid, t.checkouts_begun),
      'overall', analytics.rate(t.carts_with_items - t.carts_paid, t.carts_with_items))),
    'days', coalesce((select jsonb_agg(to_jsonb(d) - 'computed_at' || jsonb_build_object('abandonment_rate', jsonb_build_object(
                        'cart', analytics.rate(d.carts_created - d.carts_with_items, d.carts_created),
                        'checkout', analytics.rate(d.carts_with_items - d.checkouts_begun, d.carts_with_items),
                        'payment', analytics.rate(d.checkouts_begun - d.carts_paid, d.checkouts_begun),
                        'overall', analytics.rate(d.carts_with_items - d.carts_paid, d.carts_with_items)))
                      order by d.day) from days d), '[]'::jsonb))
    into result
    from total t;
  return result;
end
$$;
comment on function analytics.funnel(date, date) is
  'Service role only. The funnel for the days p_from..p_to (store time zone, at most 367 days): per day and in total, carts created, with items, checkouts begun, paid, orders and revenue, abandonment rate per step (cart: created without items; checkout: items without checkout; payment: checkout without payment; events counted on their own day, so a single day may show a rate of 0 where later steps caught up earlier days), value left in purged carts and expired order sessions, revenue recovered by recovery emails, checkout outcomes. Finished days come from analytics.daily_funnel, today live. CKI01 for a bad range.';
grant execute on function analytics.funnel(date, date) to service_role;

create function analytics.abandoned_products_report(
  p_from date,
  p_to date,
  p_limit integer default 20
)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  today date;
  tz text := (private.current_settings()).analytics_time_zone;
  result jsonb;
begin
  perform analytics.check_range(p_from, p_to);
  if p_limit is null or p_limit < 1 or p_limit > 200 then
    raise exception 'limit must be between 1 and 200' using errcode = 'CKI01', detail = jsonb_build_object('limit', p_limit)::text;
  end if;
  today := analytics.today();
  with rows as (
    select a.source, a.variant_id, a.sku, a.title, a.currency, a.carts, a.units, a.value
      from analytics.abandoned_products a
     where a.day between p_from and p_to and (a.source = 'cart' or a.day < today)
    union all
    -- Today's expired order sessions, live (the rollup writes finished days).
    select 'checkout', (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title', s.currency, 1,
           (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
      from public.order_sessions s, jsonb_array_elements(s.lines) l
     where today between p_from and p_to
       and s.closed_at >= today::timestamp at time zone tz and s.status = 'expired'
  ), per_variant as (
    select variant_id, min(sku) as sku, min(title) as title, min(currency) as currency,
           sum(units) filter (where source = 'cart') as cart_units,
           sum(units) filter (where source = 'checkout') as checkout_units,
           sum(units) as units, sum(value) as value, sum(carts) as carts
      from rows group by variant_id
  )
  select jsonb_build_object('from', p_from, 'to', p_to, 'products', coalesce(jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'currency', currency, 'carts', carts,
           'units', units, 'in_carts', coalesce(cart_units, 0), 'in_checkouts', coalesce(checkout_units, 0),
           'value', value) order by value desc, units desc, sku), '[]'::jsonb))
    into result
    from (select * from per_variant order by value desc, units desc, sku limit p_limit) top;
  return result;
end
$$;
comment on function analytics.abandoned_products_report(date, date, integer) is
  'Service role only. The p_limit variants with the most value left behind in p_from..p_to: units in carts purged with items (at the prices of the purge) and in order sessions that expired, ordered by value. CKI01 for a bad range or limit.';
grant execute on function analytics.abandoned_products_report(date, date, integer) to service_role;

create function analytics.checkout_outcomes(p_from date, p_to date)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  with f as (select analytics.funnel(p_from, p_to) as j)
  select jsonb_build_object(
    'from', p_from, 'to', p_to,
    'total', f.j -> 'total' -> 'outcomes',
    'days', coalesce((select jsonb_agg(jsonb_build_object('day', d -> 'day', 'outcomes', d -> 'outcomes')) from jsonb_array_elements(f.j -> 'days') d), '[]'::jsonb))
  from f
$$;
comment on function analytics.checkout_outcomes(date, date) is
  'Service role only. Why the order sessions closed in p_from..p_to ended, in total and per day: paid, expired, cancelled, rejected_payment (expired or cancelled after a rejected payment), out_of_stock and the other refund reasons. CKI01 for a bad range.';
grant execute on function analytics.checkout_outcomes(date, date) to service_role;

-- ---------------------------------------------------------------------------
-- Schedules

-- Hourly: the last two finished days are rewritten each time, so a day is
-- final an hour after it ends even if a transaction ran late.
select cron.schedule('analytics-rollup', '7 * * * *', 'select analytics.rollup(2)');

-- ===========================================================================
-- supabase/schemas/11_email_outbox.sql
-- ===========================================================================

-- Emails: an outbox the send-emails Edge Function drains through the email
-- provider (Resend). Two kinds:
--   cart_reminder       a cart abandoned by a shopper whose email is known,
--                       written by pg_cron (email.detect_abandoned_carts),
--                       exactly once per cart and idle period, at most
--                       settings.reminder_max_per_cart per cart;
--   order_confirmation  one per order, written by a trigger in the
--                       transaction that creates the order.
-- Shoppers opt out of reminders through a signed one-click link
-- (email.unsubscribes). Service role only.
--
-- Consent before marketing, so that nobody can make the store mail a
-- stranger by typing their address at checkout. A reminder goes only to an
-- address its owner confirmed:
--   * the account's email, once Supabase Auth has confirmed it
--     (auth.users.email_confirmed_at), or
--   * an address whose owner ticked the marketing box at checkout AND clicked
--     the link of the confirmation email it was sent (double opt-in),
-- and never to one that unsubscribed since (the RFC 8058 one-click link). The
-- order confirmation is transactional and still goes to the payer. Modelled
-- on Shopify's email_marketing_consent (state, opt_in_level,
-- consent_updated_at): email.marketing_consents holds each address's state,
-- email.consent_events every step, and email.marketing_consent() answers in
-- Shopify's terms for the dashboard. One confirmation email per address per
-- day at most, whoever asks: the box cannot be used to mail a stranger over
-- and over.

-- ---------------------------------------------------------------------------
-- Tables

create table email.outbox (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('cart_reminder', 'order_confirmation', 'marketing_opt_in')),
  session_id uuid not null,
  recipient text not null check (recipient ~ '^[^@\s]+@[^@\s]+$' and length(recipient) <= 254),
  cart_created_at timestamptz,
  idle_since timestamptz,
  order_id uuid references public.orders (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  provider_id text,
  last_error jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint outbox_reminder_names_its_cart check (kind <> 'cart_reminder' or (cart_created_at is not null and idle_since is not null)),
  constraint outbox_confirmation_names_its_order check (kind <> 'order_confirmation' or order_id is not null)
);
comment on table email.outbox is
  'Emails to send. A reminder names its cart (session_id, cart_created_at) and the idle period (idle_since = the cart''s last activity); a confirmation names its order; a marketing_opt_in asks its recipient to confirm the box ticked at checkout. status: pending -> sending (claimed, leased until claimed_until) -> sent | pending again (retryable failure, after next_attempt_at) | failed (permanent) | skipped (no longer applies: bought, emptied, opted out, no consent). The row id is the provider''s idempotency key. Service role only.';

create unique index outbox_one_reminder_per_idle_period on email.outbox (session_id, cart_created_at, idle_since) where kind = 'cart_reminder';
create unique index outbox_one_confirmation_per_order on email.outbox (order_id) where kind = 'order_confirmation';
create index outbox_due_idx on email.outbox (next_attempt_at) where status in ('pending', 'sending');
create index outbox_session_idx on email.outbox (session_id, created_at);
create index outbox_opt_in_idx on email.outbox (recipient, created_at) where kind = 'marketing_opt_in';

-- No policies: only the service role (which bypasses RLS) and the definer
-- routines below touch the outbox and the opt-outs.
alter table email.outbox enable row level security;
grant select, insert, update, delete on email.outbox to service_role;

create table email.unsubscribes (
  email text primary key check (email = lower(email)),
  created_at timestamptz not null default now()
);
comment on table email.unsubscribes is
  'Addresses (lower case) that opted out of recovery emails through the one-click link. Order confirmations are still sent. Service role only.';

alter table email.unsubscribes enable row level security;
grant select, insert, update, delete on email.unsubscribes to service_role;

create table email.marketing_consents (
  email text primary key check (email = lower(email) and email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 254),
  state text not null check (state in ('pending', 'subscribed', 'unsubscribed')),
  source text not null check (source in ('checkout', 'confirmation_link', 'unsubscribe_link')),
  session_id uuid,
  order_session_id uuid,
  requested_at timestamptz,
  confirmed_at timestamptz,
  unsubscribed_at timestamptz,
  consent_updated_at timestamptz not null default now(),
  constraint marketing_consents_subscribed_was_confirmed check (state <> 'subscribed' or confirmed_at is not null)
);
comment on table email.marketing_consents is
  'Marketing consent per address (lower case), as the shopper gave it at checkout: pending (the box was ticked, the confirmation link not yet clicked), subscribed (clicked: a confirmed opt-in), unsubscribed (the one-click link). source says where the last change came from; session_id and order_session_id which shopper and checkout asked. Service role only.';

create table email.consent_events (
  id bigint generated always as identity primary key,
  email text not null,
  event text not null check (event in ('opt_in_requested', 'opt_in_confirmed', 'unsubscribed')),
  session_id uuid,
  order_session_id uuid,
  created_at timestamptz not null default now()
);
comment on table email.consent_events is
  'Every step of an address''s marketing consent, when and for which shopper and checkout: the box ticked at checkout, the confirmation link clicked, the unsubscribe link used. Append-only; service role only.';
create index consent_events_email_idx on email.consent_events (email, id);

grant select, insert, update on email.marketing_consents to service_role;
grant select, insert on email.consent_events to service_role;
alter table email.marketing_consents enable row level security;
alter table email.consent_events enable row level security;
-- No policies: only the service role (which bypasses RLS) and the definer
-- routines below touch them.

-- ---------------------------------------------------------------------------
-- Triggers

create function email.enqueue_order_confirmation()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if coalesce(new.payer ->> 'email', '') ~ '^[^@\s]+@[^@\s]+$' then
    insert into email.outbox (kind, session_id, recipient, order_id)
    values ('order_confirmation', new.session_id, lower(new.payer ->> 'email'), new.id)
    on conflict (order_id) where kind = 'order_confirmation' do nothing;
  end if;
  return null;
end
$$;
comment on function email.enqueue_order_confirmation() is
  'Trigger: a new order puts its confirmation email in the outbox, in the same transaction (exactly one per order).';
create trigger orders_enqueue_confirmation
  after insert on public.orders
  for each row execute function email.enqueue_order_confirmation();

-- ---------------------------------------------------------------------------
-- Routines

create function email.shopper_email(p_session_id uuid)
returns text
language sql stable security definer set search_path = ''
as $$
  -- The account's email once the shopper signed up; else the payer email of
  -- their latest checkout.
  select lower(coalesce(
    (select u.email from auth.users u where u.id = p_session_id and not u.is_anonymous and u.email is not null and u.email <> ''),
    (select s.payer ->> 'email' from public.order_sessions s where s.session_id = p_session_id order by s.created_at desc limit 1)
  ))
$$;
comment on function email.shopper_email(uuid) is
  'Service role only. The email a shopper can be reached at: the account email after sign-up, else the payer email of their latest order session; null when unknown.';
grant execute on function email.shopper_email(uuid) to service_role;

create function email.is_unsubscribed(p_email text)
returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (select 1 from email.unsubscribes u where u.email = lower(p_email))
$$;
comment on function email.is_unsubscribed(text) is
  'Service role only. Whether an address opted out of recovery emails.';
grant execute on function email.is_unsubscribed(text) to service_role;

create function email.is_cart_abandoned(p_session_id uuid, p_cart_updated_at timestamptz)
returns boolean
language sql stable security definer set search_path = ''
as $$
  -- Has items, no checkout in progress, and not bought since its last
  -- activity (a purchase removes the bought lines in the order's transaction).
  select exists (select 1 from public.cart_items ci where ci.session_id = p_session_id)
     and not exists (select 1 from public.order_sessions s
                      where s.session_id = p_session_id and s.status = 'active' and s.expires_at > now())
     and not exists (select 1 from public.orders o
                      where o.session_id = p_session_id and o.created_at >= p_cart_updated_at)
$$;
comment on function email.is_cart_abandoned(uuid, timestamptz) is
  'Service role only. A cart still counts as abandoned: it has lines, no checkout in progress, and no order since its last activity.';
grant execute on function email.is_cart_abandoned(uuid, timestamptz) to service_role;

-- Consent (see the header): who may get a reminder, and the double opt-in.
create function email.has_marketing_consent(p_session_id uuid, p_email text)
returns boolean
language sql stable security definer set search_path = ''
as $$
  select not email.is_unsubscribed(p_email) and (
    exists (select 1 from auth.users u
             where u.id = p_session_id and not coalesce(u.is_anonymous, false)
               and lower(u.email) = lower(p_email) and u.email_confirmed_at is not null)
    or exists (select 1 from email.marketing_consents c where c.email = lower(p_email) and c.state = 'subscribed'))
$$;
comment on function email.has_marketing_consent(uuid, text) is
  'Service role only. Whether cart reminders may go to p_email for shopper p_session_id: it is the shopper''s account email and Auth confirmed it, or its owner confirmed the checkout opt-in; and it has not unsubscribed since.';
grant execute on function email.has_marketing_consent(uuid, text) to service_role;

create function email.marketing_consent(p_session_id uuid, p_email text)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select case
    when un.email is not null then
      jsonb_build_object('state', 'unsubscribed', 'opt_in_level', null, 'source', 'unsubscribe_link', 'consent_updated_at', un.created_at)
    when c.state = 'subscribed' then
      jsonb_build_object('state', 'subscribed', 'opt_in_level', 'confirmed_opt_in', 'source', 'checkout', 'consent_updated_at', c.confirmed_at)
    when u.email_confirmed_at is not null then
      jsonb_build_object('state', 'subscribed', 'opt_in_level', 'confirmed_opt_in', 'source', 'account', 'consent_updated_at', u.email_confirmed_at)
    when c.state = 'pending' then
      jsonb_build_object('state', 'pending', 'opt_in_level', null, 'source', 'checkout', 'consent_updated_at', c.requested_at)
    else jsonb_build_object('state', 'not_subscribed', 'opt_in_level', null, 'source', null, 'consent_updated_at', null)
  end || jsonb_build_object('email', lower(p_email))
    from (select 1) one
    left join email.unsubscribes un on un.email = lower(p_email)
    left join email.marketing_consents c on c.email = lower(p_email)
    left join auth.users u on u.id = p_session_id and not coalesce(u.is_anonymous, false) and lower(u.email) = lower(p_email)
$$;
comment on function email.marketing_consent(uuid, text) is
  'Service role only. The marketing consent of p_email for shopper p_session_id, in Shopify''s terms: {email, state: subscribed | pending | unsubscribed | not_subscribed, opt_in_level: confirmed_opt_in | null, source: account | checkout | unsubscribe_link | null, consent_updated_at}. What the dashboard shows.';
grant execute on function email.marketing_consent(uuid, text) to service_role;

create function email.request_marketing_opt_in(
  p_email text,
  p_session_id uuid,
  p_order_session_id uuid
)
returns text
language plpgsql security definer set search_path = ''
as $$
declare
  e text := lower(btrim(p_email));
begin
  if e is null or e !~ '^[^@\s]+@[^@\s]+$' or length(e) > 254 or p_session_id is null then
    raise exception 'an email and a shopper are required' using errcode = 'CKI01';
  end if;
  insert into email.consent_events (email, event, session_id, order_session_id) values (e, 'opt_in_requested', p_session_id, p_order_session_id);
  if email.has_marketing_consent(p_session_id, e) then
    return 'subscribed';
  end if;
  -- Not subscribed (or unsubscribed since): pending until the link is clicked.
  insert into email.marketing_consents (email, state, source, session_id, order_session_id, requested_at, consent_updated_at)
  values (e, 'pending', 'checkout', p_session_id, p_order_session_id, now(), now())
  on conflict (email) do update
    set state = 'pending', source = 'checkout', session_id = excluded.session_id, order_session_id = excluded.order_session_id,
        requested_at = now(), consent_updated_at = now();
  -- The confirmation email: at most one a day per address, whoever asks.
  if not exists (select 1 from email.outbox o
                  where o.kind = 'marketing_opt_in' and o.recipient = e and o.created_at > now() - interval '1 day') then
    insert into email.outbox (kind, session_id, recipient) values ('marketing_opt_in', p_session_id, e);
  end if;
  return 'pending';
end
$$;
comment on function email.request_marketing_opt_in(text, uuid, uuid) is
  'Service role only (checkout.begin_client_checkout, when the shopper ticks the box). Records the request (email.consent_events), makes the address pending unless it already has consent, and queues the confirmation email (at most one a day per address). Returns the address''s state: pending or subscribed. CKI01 without a valid email or a shopper.';
grant execute on function email.request_marketing_opt_in(text, uuid, uuid) to service_role;

create function email.confirm_marketing_opt_in(p_email text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  e text := lower(btrim(p_email));
  c email.marketing_consents;
begin
  if e is null or e !~ '^[^@\s]+@[^@\s]+$' or length(e) > 254 then
    raise exception 'an email is required' using errcode = 'CKI01';
  end if;
  insert into email.marketing_consents as mc (email, state, source, confirmed_at, consent_updated_at)
  values (e, 'subscribed', 'confirmation_link', now(), now())
  on conflict (email) do update
    set state = 'subscribed', source = 'confirmation_link', confirmed_at = now(), consent_updated_at = now()
  returning * into c;
  -- A new, confirmed consent overrides an earlier unsubscribe.
  delete from email.unsubscribes where email = e;
  insert into email.consent_events (email, event, session_id, order_session_id) values (e, 'opt_in_confirmed', c.session_id, c.order_session_id);
  return jsonb_build_object('email', e, 'state', c.state, 'confirmed_at', c.confirmed_at);
end
$$;
comment on function email.confirm_marketing_opt_in(text) is
  'Service role only (the signed link of the confirmation email, after its signature and expiry are checked). The address is subscribed (a confirmed opt-in), an earlier unsubscribe is lifted, and the step recorded. Idempotent. CKI01 without a valid email.';
grant execute on function email.confirm_marketing_opt_in(text) to service_role;

create function email.detect_abandoned_carts(p_limit integer default 1000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  st private.settings := private.current_settings();
  n integer;
begin
  if st.reminder_max_per_cart = 0 then
    return 0;
  end if;
  -- expires_at is updated_at + cart_ttl (the trigger sets both), so the
  -- carts idle between reminder_idle and reminder_idle + reminder_window are
  -- one range of carts_expires_at_idx.
  -- Every condition is in the scan, before the limit, so carts that cannot
  -- be reminded (no email, no consent, already reminded for this idle period)
  -- never take the places of those that can.
  with candidates as (
    select c.session_id, c.created_at, c.updated_at, e.recipient
      from public.carts c
     cross join lateral (select email.shopper_email(c.session_id) as recipient) e
     where c.expires_at <= now() - st.reminder_idle + st.cart_ttl
       and c.expires_at > now() - st.reminder_idle - st.reminder_window + st.cart_ttl
       and c.updated_at <= now() - st.reminder_idle
       and e.recipient is not null
       and email.has_marketing_consent(c.session_id, e.recipient)
       and not exists (select 1 from email.outbox o
                        where o.kind = 'cart_reminder' and o.session_id = c.session_id
                          and o.cart_created_at = c.created_at and o.idle_since = c.updated_at)
       and (select count(*) from email.outbox o
             where o.kind = 'cart_reminder' and o.session_id = c.session_id and o.cart_created_at = c.created_at) < st.reminder_max_per_cart
       and email.is_cart_abandoned(c.session_id, c.updated_at)
     order by c.expires_at
     limit greatest(p_limit, 1)
  )
  insert into email.outbox (kind, session_id, recipient, cart_created_at, idle_since)
  select 'cart_reminder', c.session_id, c.recipient, c.created_at, c.updated_at
    from candidates c
  on conflict (session_id, cart_created_at, idle_since) where kind = 'cart_reminder' do nothing;
  get diagnostics n = row_count;
  return n;
end
$$;
comment on function email.detect_abandoned_carts(integer) is
  'Service role only (pg_cron). Writes a cart_reminder outbox row for each cart with items idle for reminder_idle (and at most reminder_window more) whose shopper''s email is known and consented to reminders (email.has_marketing_consent: a confirmed account email or a confirmed checkout opt-in, not unsubscribed), not bought or in checkout since, with fewer than reminder_max_per_cart reminders: exactly one per cart and idle period (a unique index makes concurrent runs converge). Returns how many rows it wrote.';
grant execute on function email.detect_abandoned_carts(integer) to service_role;

create function email.message_data(o email.outbox)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select case o.kind
    when 'cart_reminder' then (
      select jsonb_build_object(
        'lines', coalesce(jsonb_agg(jsonb_build_object(
                   'variant_id', v.id, 'sku', v.sku, 'title', p.title, 'variant_title', v.title,
                   'image_url', p.image_url, 'quantity', ci.quantity, 'unit_price', v.price,
                   'line_total', ci.quantity * v.price, 'currency', v.currency) order by ci.added_at, v.sku), '[]'::jsonb),
        'total', coalesce(sum(ci.quantity * v.price), 0),
        'currency', coalesce(min(v.currency), 'ARS'))
        from public.cart_items ci
        join public.variants v on v.id = ci.variant_id
        join public.products p on p.id = v.product_id
       where ci.session_id = o.session_id)
    when 'marketing_opt_in' then jsonb_build_object('email', o.recipient)
    else (
      select jsonb_build_object(
        'order_number', ord.order_number, 'total', ord.total, 'subtotal', ord.subtotal, 'discount', ord.discount,
        'currency', ord.currency, 'shipping_address', ord.shipping_address, 'payer', ord.payer, 'created_at', ord.created_at,
        'lines', coalesce((select jsonb_agg(jsonb_build_object(
                   'sku', l.sku, 'title', l.title, 'image_url', p.image_url, 'quantity', l.quantity,
                   'unit_price', l.unit_price, 'line_total', l.line_total, 'currency', ord.currency) order by l.line_no)
                   from public.order_lines l
                   left join public.variants v on v.id = l.variant_id
                   left join public.products p on p.id = v.product_id
                  where l.order_id = ord.id), '[]'::jsonb))
        from public.orders ord where ord.id = o.order_id)
  end
$$;
comment on function email.message_data(email.outbox) is
  'Service role only. What an email shows: a reminder''s cart lines at today''s prices with images and total; a confirmation''s order number, lines, total and shipping address; a marketing opt-in''s address.';
grant execute on function email.message_data(email.outbox) to service_role;

create function email.reminder_obsolete(o email.outbox)
returns text
language sql stable security definer set search_path = ''
as $$
  select case
    when email.is_unsubscribed(o.recipient) then 'unsubscribed'
    when not email.has_marketing_consent(o.session_id, o.recipient) then 'no_consent'
    when c.session_id is null or c.created_at <> o.cart_created_at then 'cart_gone'
    when c.updated_at > o.idle_since then 'cart_active_again'
    when not email.is_cart_abandoned(c.session_id, o.idle_since) then 'bought_emptied_or_in_checkout'
  end
    from (select 1) one
    left join public.carts c on c.session_id = o.session_id
$$;
comment on function email.reminder_obsolete(email.outbox) is
  'Service role only. Why a queued reminder no longer applies (unsubscribed, no_consent, cart_gone, cart_active_again, bought_emptied_or_in_checkout), or null when it still does.';
grant execute on function email.reminder_obsolete(email.outbox) to service_role;

create function email.claim(
  p_limit integer default 20,
  p_lease interval default interval '2 minutes'
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
  skipped integer;
begin
  if p_limit is null or p_limit < 1 or p_limit > 500 or p_lease is null or p_lease < interval '5 seconds' then
    raise exception 'limit must be 1..500 and the lease at least 5 seconds' using errcode = 'CKI01',
      detail = jsonb_build_object('limit', p_limit, 'lease', p_lease)::text;
  end if;
  -- Reminders that no longer apply are skipped, not sent.
  with due as (
    select o.id from email.outbox o
     where o.status in ('pending', 'sending') and o.next_attempt_at <= now()
       and (o.status = 'pending' or o.claimed_until < now())
     order by o.next_attempt_at, o.id
     limit p_limit
       for update skip locked
  ), stale as (
    update email.outbox o
       set status = 'skipped', updated_at = now(), claimed_until = null,
           last_error = jsonb_build_object('reason', email.reminder_obsolete(o))
      from due
     where o.id = due.id and o.kind = 'cart_reminder' and email.reminder_obsolete(o) is not null
    returning o.id
  ), taken as (
    update email.outbox o
       set status = 'sending', attempts = o.attempts + 1, claimed_until = now() + p_lease, updated_at = now()
      from due
     where o.id = due.id and o.id not in (select id from stale)
    returning o.*
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', t.id, 'kind', t.kind, 'recipient', t.recipient, 'session_id', t.session_id,
           'cart_created_at', t.cart_created_at, 'created_at', t.created_at, 'attempts', t.attempts,
           'idempotency_key', 'outbox-' || t.id,
           'data', email.message_data(t)) order by t.id), '[]'::jsonb)
    into claimed
    from taken t;
  return claimed;
end
$$;
comment on function email.claim(integer, interval) is
  'Service role only. Claims up to p_limit due outbox rows (FOR UPDATE SKIP LOCKED: parallel senders never take the same row), leasing each for p_lease (a sender that dies leaves it due again), and returns them with their idempotency key and what to render. Reminders that no longer apply (opted out, bought, emptied, in checkout) become skipped instead. CKI01 for a bad limit or lease.';
grant execute on function email.claim(integer, interval) to service_role;

create function email.mark_sent(p_id bigint, p_provider_id text)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  o email.outbox;
begin
  update email.outbox set status = 'sent', provider_id = p_provider_id, sent_at = now(), claimed_until = null,
         last_error = null, updated_at = now()
   where id = p_id and status in ('sending', 'pending')
  returning * into o;
  if o.kind = 'cart_reminder' then
    update analytics.cart_facts set reminded_at = now()
     where session_id = o.session_id and created_at = o.cart_created_at;
  end if;
end
$$;
comment on function email.mark_sent(bigint, text) is
  'Service role only. The provider accepted the email: the row is sent (a sent row never goes back), and a reminded cart''s analytics fact records it.';
grant execute on function email.mark_sent(bigint, text) to service_role;

create function email.mark_failed(p_id bigint, p_error jsonb, p_retry boolean)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  o email.outbox;
begin
  -- Retryable (429, 5xx, network): back off 1, 2, 4 ... minutes, at most
  -- an hour, up to 10 attempts; permanent (other 4xx): failed for good.
  update email.outbox
     set status = case when p_retry and attempts < 10 then 'pending' else 'failed' end,
         next_attempt_at = case when p_retry then now() + least(interval '1 minute' * power(2, greatest(attempts - 1, 0)), interval '1 hour')
                                else next_attempt_at end,
         claimed_until = null, last_error = coalesce(p_error, '{}'::jsonb), updated_at = now()
   where id = p_id and status = 'sending'
  returning * into o;
  return jsonb_build_object('id', p_id, 'status', o.status, 'next_attempt_at', o.next_attempt_at, 'attempts', o.attempts);
end
$$;
comment on function email.mark_failed(bigint, jsonb, boolean) is
  'Service role only. The provider refused or could not be reached: retryable failures go back to pending after a backoff (at most 10 attempts), permanent ones are failed and recorded. Returns the new status.';
grant execute on function email.mark_failed(bigint, jsonb, boolean) to service_role;

create function email.unsubscribe(p_email text)
returns void
language sql security definer set search_path = ''
as $$
  insert into email.unsubscribes (email) values (lower(p_email)) on conflict do nothing;
  insert into email.marketing_consents as c (email, state, source, unsubscribed_at, consent_updated_at)
  values (lower(p_email), 'unsubscribed', 'unsubscribe_link', now(), now())
  on conflict (email) do update set state = 'unsubscribed', source = 'unsubscribe_link', unsubscribed_at = now(), consent_updated_at = now();
  insert into email.consent_events (email, event) values (lower(p_email), 'unsubscribed');
  update email.outbox set status = 'skipped', last_error = '{"reason": "unsubscribed"}'::jsonb, updated_at = now()
   where recipient = lower(p_email) and kind = 'cart_reminder' and status = 'pending';
$$;
comment on function email.unsubscribe(text) is
  'Service role only (the signed one-click link). Withdraws an address''s consent to recovery emails (email.unsubscribes, its consent state, the step recorded) and skips those still pending. Order confirmations still go out.';
grant execute on function email.unsubscribe(text) to service_role;

create function email.restore_cart(
  p_from_session uuid,
  p_from_cart_created_at timestamptz,
  p_to_session uuid
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  c public.carts;
  added integer := 0;
  skipped jsonb := '[]'::jsonb;
  l record;
  qty integer;
begin
  select * into c from public.carts where session_id = p_from_session;
  if not found or c.created_at <> p_from_cart_created_at then
    raise exception 'that cart no longer exists' using errcode = 'CKO01',
      detail = jsonb_build_object('reason', 'cart_gone')::text;
  end if;
  if p_to_session = p_from_session then
    update public.carts set updated_at = now() where session_id = p_to_session;
    return jsonb_build_object('restored', 0, 'skipped', '[]'::jsonb, 'same_cart', true);
  end if;
  insert into public.carts (session_id) values (p_to_session)
  on conflict (session_id) do update set updated_at = now();
  -- Each line is copied (the larger quantity wins when both carts hold it),
  -- within what is available; a line that cannot be added is reported.
  for l in select ci.variant_id, ci.quantity, v.sku from public.cart_items ci join public.variants v on v.id = ci.variant_id
            where ci.session_id = p_from_session order by ci.added_at, v.sku loop
    begin
      qty := least(l.quantity, greatest(private.available_stock(l.variant_id), 0));
      if qty < 1 then
        skipped := skipped || jsonb_build_object('sku', l.sku, 'reason', 'out_of_stock');
        continue;
      end if;
      insert into public.cart_items (session_id, variant_id, quantity) values (p_to_session, l.variant_id, qty)
      on conflict (session_id, variant_id) do update set quantity = greatest(public.cart_items.quantity, excluded.quantity);
      added := added + 1;
    exception when sqlstate 'CKV01' or sqlstate 'CKS01' or sqlstate 'CKM01' or sqlstate 'CKQ01' or sqlstate 'CKH01' then
      skipped := skipped || jsonb_build_object('sku', l.sku, 'reason', sqlerrm);
    end;
  end loop;
  return jsonb_build_object('restored', added, 'skipped', skipped, 'same_cart', false);
end
$$;
comment on function email.restore_cart(uuid, timestamptz, uuid) is
  'Service role only (the signed restore link, after its signature and expiry are checked). Copies the lines of the reminded cart (p_from_session, identified with its created_at so a later cart of the same shopper is not taken) into the caller''s cart, within available stock; a line that cannot be added is reported in skipped. CKO01 when that cart is gone.';
grant execute on function email.restore_cart(uuid, timestamptz, uuid) to service_role;

-- ---------------------------------------------------------------------------
-- Schedules. Detection runs inside the database everywhere. Sending calls the
-- send-emails Edge Function: on hosted Supabase through pg_net (created here
-- only when pg_net is installed; it reads the project URL and the service
-- role key from Vault secrets named project_url and service_role_key, as
-- Supabase documents for scheduled functions); the local stack calls the same
-- function on the same schedule itself.

select cron.schedule('email-detect-abandoned-carts', '*/5 * * * *', 'select email.detect_abandoned_carts(1000)');

do $do$
begin
  if exists (select 1 from pg_extension where extname = 'pg_net') then
    perform cron.schedule('email-send', '* * * * *', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url') || '/functions/v1/send-emails',
        headers := jsonb_build_object('Content-Type', 'application/json',
                                      'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets where name = 'service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 25000)
    $job$);
  end if;
end
$do$;

-- ===========================================================================
-- supabase/schemas/12_admin.sql
-- ===========================================================================

-- The store owner's dashboard: store staff, and the routines behind the admin
-- Edge Function (`admin`).
--
-- Who is staff: a Supabase Auth user whose app_metadata holds
-- `"store_role": "staff"`. app_metadata is writable only with the service
-- role (never by the user), and Supabase Auth copies it into every access
-- token, so the Edge Function sees it in the verified JWT. Set it with
-- admin.set_staff(email, true) (`npm run staff:add`) or with the Auth Admin
-- API (auth.admin.updateUserById(id, {app_metadata: {store_role: 'staff'}})).
--
-- Staff only through a verified email, so that nobody can take over the
-- owner's account before it exists (sign up with owner@... first, wait for
-- staff:add): admin.set_staff refuses (CKA02) an account whose email is not
-- confirmed, and granting the role signs out every session of the account
-- (as GoTrue's global sign-out does), so no session opened before the grant
-- can be refreshed into a staff token. With email confirmation off (local
-- stacks) every sign-up is confirmed at once: `npm run staff:add` also
-- refuses an existing account it did not create unless told --existing.
--
-- Client input never answers 500: admin.adjust_stock checks the sum against
-- integer's range before adding (CKI01 naming delta, with the largest delta
-- that still fits).
--
-- Every routine here takes the verified JWT's claims as its first argument and
-- checks them (admin.require_staff): the claims must say staff AND the user
-- must still be staff in auth.users, so a revoked member of staff loses access
-- at once, not when the token expires. Only service_role may execute them: a
-- browser never reaches them except through the Edge Function.

-- ---------------------------------------------------------------------------
-- Tables

create table admin.stock_adjustments (
  id bigint generated always as identity primary key,
  variant_id uuid not null references public.variants (id) on delete cascade,
  delta integer not null check (delta <> 0),
  on_hand_before integer not null check (on_hand_before >= 0),
  on_hand_after integer not null check (on_hand_after >= 0),
  reserved_then integer not null check (reserved_then >= 0),
  reason text not null check (length(btrim(reason)) between 3 and 500),
  staff_id uuid not null,
  staff_email text,
  created_at timestamptz not null default now(),
  constraint stock_adjustments_after_is_before_plus_delta check (on_hand_after = on_hand_before + delta)
);
comment on table admin.stock_adjustments is
  'Every change of stock on hand made from the dashboard: by how much, from what to what, the units reserved at that moment, why, and by whom. Append-only; service role only.';

create index stock_adjustments_variant_idx on admin.stock_adjustments (variant_id, id desc);
create index stock_adjustments_created_idx on admin.stock_adjustments (created_at desc);

-- No policy: only service_role (which bypasses RLS) reads or writes it.
alter table admin.stock_adjustments enable row level security;
grant select, insert on admin.stock_adjustments to service_role;

-- The order list pages newest first by keyset (created_at, id), and searches
-- by payer email prefix; the dashboard reads orders and sessions by day. The
-- included columns let the dashboard's sums read the indexes alone.
create index orders_created_at_id_idx on public.orders (created_at desc, id desc) include (status, total, currency);
create index orders_payer_email_idx on public.orders (lower(payer ->> 'email') text_pattern_ops, created_at desc);
create index order_sessions_created_at_idx on public.order_sessions (created_at) include (status);

-- ---------------------------------------------------------------------------
-- Routines

create function admin.is_staff(p_claims jsonb)
returns boolean
language sql stable security definer set search_path = ''
as $$
  select coalesce(
    p_claims ->> 'role' = 'authenticated'
    and coalesce((p_claims ->> 'is_anonymous')::boolean, false) = false
    and p_claims -> 'app_metadata' ->> 'store_role' = 'staff'
    and exists (
      select 1 from auth.users u
       where u.id::text = p_claims ->> 'sub'
         and u.raw_app_meta_data ->> 'store_role' = 'staff'
         and not coalesce(u.is_anonymous, false)
    ),
    false)
$$;
comment on function admin.is_staff(jsonb) is
  'Service role only. True when the verified JWT claims are a permanent (non-anonymous) user whose app_metadata.store_role is staff, and auth.users still says so.';
grant execute on function admin.is_staff(jsonb) to service_role;

create function admin.require_staff(p_claims jsonb)
returns void
language plpgsql stable security definer set search_path = ''
as $$
begin
  if not admin.is_staff(p_claims) then
    raise exception 'store staff only'
      using errcode = 'CKA01',
            detail = jsonb_build_object('reason', 'not_staff')::text,
            hint = 'Sign in as a user whose app_metadata.store_role is staff (npm run staff:add).';
  end if;
end
$$;
comment on function admin.require_staff(jsonb) is
  'Service role only. Raises CKA01 (not store staff; the admin function answers 403) unless admin.is_staff(p_claims).';
grant execute on function admin.require_staff(jsonb) to service_role;

create function admin.me(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return (select jsonb_build_object('id', u.id, 'email', u.email, 'role', 'staff')
            from auth.users u where u.id::text = p_claims ->> 'sub');
end
$$;
comment on function admin.me(jsonb) is
  'Service role only (GET /admin/me). The signed-in member of staff, {id, email, role}, as auth.users says now; CKA01 (403) when the claims are not staff''s or the database no longer says so.';
grant execute on function admin.me(jsonb) to service_role;

create function admin.set_staff(p_email text, p_staff boolean default true)
returns jsonb
language plpgsql security definer set search_path = ''
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
grant execute on function admin.set_staff(text, boolean) to service_role;

create function admin.check_input(p_ok boolean, p_field text, p_message text)
returns void
language plpgsql immutable security definer set search_path = ''
as $$
begin
  if not coalesce(p_ok, false) then
    raise exception '%', p_message using errcode = 'CKI01', detail = jsonb_build_object('field', p_field)::text;
  end if;
end
$$;
comment on function admin.check_input(boolean, text, text) is
  'Service role only. Raises CKI01 (invalid input) naming the field unless p_ok.';
grant execute on function admin.check_input(boolean, text, text) to service_role;

create function admin.period_figures(p_from timestamptz, p_to timestamptz)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  with o as (
    select o.currency, o.total, o.status from public.orders o where o.created_at >= p_from and o.created_at < p_to
  ), kept as (
    select o.currency, sum(o.total) as revenue, count(*) as n, round(avg(o.total), 2) as average
      from o where o.status in ('paid', 'in_mediation') group by o.currency
  ), s as (
    select count(*) filter (where s.status = 'paid') as paid,
           count(*) filter (where s.status <> 'active') as closed,
           count(*) as created
      from public.order_sessions s where s.created_at >= p_from and s.created_at < p_to
  )
  select jsonb_build_object(
    'orders', (select count(*) from o),
    'orders_kept', (select coalesce(sum(n), 0) from kept),
    'revenue', (select coalesce(jsonb_object_agg(k.currency, k.revenue), '{}'::jsonb) from kept k),
    'average_order', (select coalesce(jsonb_object_agg(k.currency, k.average), '{}'::jsonb) from kept k),
    'checkouts', s.created,
    'checkouts_paid', s.paid,
    'conversion_rate', case when s.closed > 0 then round(s.paid::numeric / s.closed, 4) end
  )
  from s
$$;
comment on function admin.period_figures(timestamptz, timestamptz) is
  'Service role only. Orders and checkouts created in [p_from, p_to): orders, revenue and average order per currency (paid and in-mediation orders; refunded and charged back ones are not revenue), checkouts, and conversion (paid / checkouts no longer active).';
grant execute on function admin.period_figures(timestamptz, timestamptz) to service_role;

create function admin.dashboard(
  p_claims jsonb,
  p_from date,
  p_to date,
  p_tz text default 'America/Argentina/Buenos_Aires'
)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  v_from timestamptz;
  v_to timestamptz;
  v_today date;
begin
  perform admin.require_staff(p_claims);
  -- (pg_timezone_names reads the zone files from disk on every call: ask
  -- the parser instead.)
  begin
    perform now() at time zone p_tz;
  exception when invalid_parameter_value then
    perform admin.check_input(false, 'tz', 'unknown time zone');
  end;
  perform admin.check_input(p_tz is not null, 'tz', 'a time zone is required');
  perform admin.check_input(p_from is not null and p_to is not null, 'from', 'from and to are required dates (YYYY-MM-DD)');
  perform admin.check_input(p_from <= p_to, 'to', 'to must not be before from');
  perform admin.check_input(p_to - p_from < 366, 'to', 'the range is at most 366 days');
  v_from := p_from::timestamp at time zone p_tz;
  v_to := (p_to + 1)::timestamp at time zone p_tz;
  v_today := (now() at time zone p_tz)::date;
  return jsonb_build_object(
    'generated_at', now(),
    'tz', p_tz,
    'today', jsonb_build_object('date', v_today)
      || admin.period_figures(v_today::timestamp at time zone p_tz, (v_today + 1)::timestamp at time zone p_tz),
    'range', jsonb_build_object('from', p_from, 'to', p_to) || admin.period_figures(v_from, v_to),
    'per_day', (
      select jsonb_agg(jsonb_build_object(
               'day', d.day,
               'orders', coalesce(x.orders, 0),
               'revenue', coalesce(x.revenue, '{}'::jsonb),
               'checkouts', coalesce(y.checkouts, 0),
               'checkouts_paid', coalesce(y.paid, 0)) order by d.day)
        from generate_series(p_from, p_to, interval '1 day') g(day_ts)
        cross join lateral (select g.day_ts::date as day) d
        left join (
          select per.day, sum(per.n) as orders, jsonb_object_agg(per.currency, per.revenue) filter (where per.revenue is not null) as revenue
            from (select (o.created_at at time zone p_tz)::date as day, o.currency, count(*) as n,
                         sum(o.total) filter (where o.status in ('paid', 'in_mediation')) as revenue
                    from public.orders o where o.created_at >= v_from and o.created_at < v_to
                   group by 1, 2) per
           group by per.day
        ) x on x.day = d.day
        left join (
          select (s.created_at at time zone p_tz)::date as day, count(*) as checkouts, count(*) filter (where s.status = 'paid') as paid
            from public.order_sessions s where s.created_at >= v_from and s.created_at < v_to group by 1
        ) y on y.day = d.day
    ),
    'sessions_by_outcome', (
      select jsonb_object_agg(st, coalesce(c.n, 0))
        from unnest(enum_range(null::public.order_session_status)::text[]) st
        left join (
          select s.status::text as status, count(*) as n
            from public.order_sessions s where s.created_at >= v_from and s.created_at < v_to group by s.status
        ) c on c.status = st
    ),
    'live', jsonb_build_object(
      'active_checkouts', (select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at > now()),
      'reserved_units', (select coalesce(sum(r.quantity), 0) from checkout.stock_reservations r where r.expires_at > now()),
      'refunds_owed', (select count(*) from checkout.payment_refunds pr where pr.status = 'owed')
    )
  );
end
$$;
comment on function admin.dashboard(jsonb, date, date, text) is
  'Service role only, staff claims required. Today''s and a date range''s figures (orders, revenue, average order, checkouts, conversion), orders and revenue per day, order sessions created in the range by outcome, and live counts; days in time zone p_tz. At most 366 days.';
grant execute on function admin.dashboard(jsonb, date, date, text) to service_role;

create function admin.order_summary(o public.orders)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object(
    'id', o.id, 'order_number', o.order_number, 'status', o.status, 'total', o.total, 'currency', o.currency,
    'payment_id', o.payment_id::text, 'email', o.payer ->> 'email',
    'name', btrim(coalesce(o.payer ->> 'name', '') || ' ' || coalesce(o.payer ->> 'surname', '')),
    'paid_late', o.paid_late, 'created_at', o.created_at,
    'items', (select coalesce(sum(l.quantity), 0) from public.order_lines l where l.order_id = o.id))
$$;
comment on function admin.order_summary(public.orders) is 'Service role only. One row of the dashboard''s order list.';
grant execute on function admin.order_summary(public.orders) to service_role;

create function admin.orders(
  p_claims jsonb,
  p_search text default null,
  p_before_created_at timestamptz default null,
  p_before_id uuid default null,
  p_limit integer default 50
)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  q text := nullif(btrim(coalesce(p_search, '')), '');
  digits text;
  v_filter text;
  v_result jsonb;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_limit between 1 and 200, 'limit', 'limit must be between 1 and 200');
  perform admin.check_input((p_before_created_at is null) = (p_before_id is null), 'cursor', 'the cursor is incomplete');
  perform admin.check_input(q is null or length(q) <= 254, 'q', 'the search is too long');
  digits := substring(q from '^(?:ORD-?)?0*(\d{1,18})$');
  -- One index per kind of search; EXECUTE plans each call with its values,
  -- so the email prefix uses its index (a generic plan could not).
  v_filter := case
    when q is null then 'true'
    when digits is not null then '(o.order_number = ''ORD-'' || lpad($2, 6, ''0'') or o.payment_id = $2::bigint)'
    else '(lower(o.payer ->> ''email'') ~>=~ lower($1) and lower(o.payer ->> ''email'') ~<~ (lower($1) || chr(1114111)))'
  end;
  execute format($q$
    with page as (
      select x.o, row_number() over (order by (x.o).created_at desc, (x.o).id desc) as rn
        from (select o from public.orders o
               where %s and ($3::timestamptz is null or (o.created_at, o.id) < ($3, $4))
               order by o.created_at desc, o.id desc
               limit $5 + 1) x
    )
    select jsonb_build_object(
      'orders', coalesce(jsonb_agg(admin.order_summary(p.o) order by p.rn) filter (where p.rn <= $5), '[]'::jsonb),
      'next', case when count(*) > $5
                   then (array_agg(jsonb_build_object('created_at', (p.o).created_at, 'id', (p.o).id)) filter (where p.rn = $5))[1] end)
      from page p
  $q$, v_filter)
  into v_result
  using q, digits, p_before_created_at, p_before_id, p_limit;
  return v_result;
end
$$;
comment on function admin.orders(jsonb, text, timestamptz, uuid, integer) is
  'Service role only, staff claims required. A page of orders, newest first, after the keyset cursor (created_at, id) of the previous page''s last row; optionally searched by order number (ORD-001234 or 1234), MercadoPago payment id (digits) or payer email (case-insensitive prefix). Returns {orders, next} where next is the cursor of the following page or null.';
grant execute on function admin.orders(jsonb, text, timestamptz, uuid, integer) to service_role;

create function admin.order_detail(p_claims jsonb, p_order text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  o public.orders;
  ref text := btrim(coalesce(p_order, ''));
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(
    ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' or ref ~ '^ORD-\d{1,19}$',
    'order', 'the order must be an order id (uuid) or an order number (ORD-001234)');
  if ref ~ '^ORD-' then
    select * into o from public.orders x where x.order_number = ref;
  else
    select * into o from public.orders x where x.id = ref::uuid;
  end if;
  if not found then
    raise exception 'no such order' using errcode = 'CKO01', detail = jsonb_build_object('order', ref)::text;
  end if;
  return private.order_json(o) || jsonb_build_object(
    'payment_id', o.payment_id::text,
    'payment_type', o.payment_type,
    'payment_method', o.payment_method,
    'updated_at', o.updated_at,
    -- May the payer's address get cart reminders (11_email_outbox.sql)?
    'marketing_consent', email.marketing_consent(o.session_id, o.payer ->> 'email'),
    'payments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pe.payment_id::text, 'status', pe.status, 'status_detail', pe.status_detail,
        'amount', pe.transaction_amount, 'currency', pe.currency, 'payment_type', pe.payment_type,
        'payment_method', pe.payment_method, 'received_at', pe.received_at) order by pe.received_at, pe.id), '[]'::jsonb)
        from checkout.payment_events pe
       where pe.order_session_id = o.order_session_id or pe.payment_id = o.payment_id
    ),
    'refunds', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'reason', pr.reason,
        'status', pr.status, 'mp_refund_id', pr.mp_refund_id, 'created_at', pr.created_at, 'refunded_at', pr.refunded_at)
        order by pr.created_at), '[]'::jsonb)
        from checkout.payment_refunds pr where pr.order_session_id = o.order_session_id
    ),
    'session', (
      select jsonb_build_object('id', s.id, 'token', s.token, 'status', s.status, 'created_at', s.created_at,
                                'expires_at', s.expires_at, 'paid_at', s.paid_at, 'preference_id', s.preference_id)
        from public.order_sessions s where s.id = o.order_session_id
    ),
    'events', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', e.id, 'kind', e.kind, 'payment_id', e.payment_id::text, 'detail', e.detail, 'created_at', e.created_at) order by e.id), '[]'::jsonb)
        from checkout.order_session_events e where e.order_session_id = o.order_session_id
    )
  );
end
$$;
comment on function admin.order_detail(jsonb, text) is
  'Service role only, staff claims required. One order by id or order number: its lines, payer, shipping address, MercadoPago payment id, the payment statuses seen (status history), refunds, the order session''s event log, and whether the payer''s address may get cart reminders (marketing_consent, email.marketing_consent). CKI01 for a malformed reference, CKO01 for an unknown one.';
grant execute on function admin.order_detail(jsonb, text) to service_role;

create function admin.attention(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  -- The audit (checkout.audit(), every invariant over every row) is not
  -- here: this is polled every few seconds; admin.audit runs it on demand.
  return jsonb_build_object(
    'refunds_owed', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'reason', pr.reason,
        'created_at', pr.created_at, 'order_session_id', pr.order_session_id, 'email', s.payer ->> 'email',
        'attempts', pr.attempts, 'next_attempt_at', pr.next_attempt_at, 'last_error', pr.last_error) order by pr.created_at), '[]'::jsonb)
        from checkout.payment_refunds pr left join public.order_sessions s on s.id = pr.order_session_id
       where pr.status = 'owed'
    ),
    'late_payments', (
      select coalesce(jsonb_agg(x.j order by x.at desc), '[]'::jsonb) from (
        select jsonb_build_object('kind', 'order_created_late', 'order_number', o.order_number, 'order_id', o.id,
                                  'payment_id', o.payment_id::text, 'amount', o.total, 'currency', o.currency, 'at', o.created_at) as j,
               o.created_at as at
          from public.orders o where o.paid_late
         union all
        select jsonb_build_object('kind', 'paid_out_of_stock', 'payment_id', pr.payment_id::text, 'amount', pr.amount,
                                  'currency', pr.currency, 'status', pr.status, 'at', pr.created_at), pr.created_at
          from checkout.payment_refunds pr where pr.reason = 'out_of_stock'
         order by 2 desc limit 100
      ) x
    ),
    'amount_mismatches', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'status', pr.status,
        'expected', s.total, 'expected_currency', s.currency, 'at', pr.created_at) order by pr.created_at desc), '[]'::jsonb)
        from checkout.payment_refunds pr left join public.order_sessions s on s.id = pr.order_session_id
       where pr.reason = 'amount_mismatch'
    ),
    'unmatched_payments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pe.payment_id::text, 'amount', pe.transaction_amount, 'currency', pe.currency,
        'external_reference', pe.external_reference, 'at', pe.received_at) order by pe.received_at desc), '[]'::jsonb)
        from checkout.payment_events pe where pe.order_session_id is null and pe.status = 'approved'
    )
  );
end
$$;
comment on function admin.attention(jsonb) is
  'Service role only, staff claims required. Money that needs the owner: refunds owed (with the reconcile function''s attempts and last error), late payments (orders created after expiry, payments that found no stock), amount or currency mismatches, approved payments matching no checkout.';
grant execute on function admin.attention(jsonb) to service_role;

create function admin.refund_to_retry(p_claims jsonb, p_payment_id text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  r checkout.payment_refunds;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_payment_id ~ '^\d{1,18}$', 'payment_id', 'the payment id must be a MercadoPago payment id (digits)');
  select * into r from checkout.payment_refunds pr where pr.payment_id = p_payment_id::bigint for update;
  if not found then
    raise exception 'no refund is owed for payment %', p_payment_id using errcode = 'CKO01', detail = jsonb_build_object('payment_id', p_payment_id)::text;
  end if;
  if r.status <> 'owed' then
    raise exception 'the refund of payment % was already made', p_payment_id
      using errcode = 'CKO02', detail = jsonb_build_object('payment_id', p_payment_id, 'mp_refund_id', r.mp_refund_id)::text;
  end if;
  -- Counted like the reconcile function's attempts (its back-off is left as it is).
  update checkout.payment_refunds set attempts = attempts + 1 where id = r.id;
  return jsonb_build_object('payment_id', r.payment_id::text, 'amount', r.amount, 'currency', r.currency, 'reason', r.reason,
                            'order_session_id', r.order_session_id);
end
$$;
comment on function admin.refund_to_retry(jsonb, text) is
  'Service role only, staff claims required. The owed refund of a payment the dashboard asks to retry, its attempt counted (the function then refunds through MercadoPago with the same idempotency key as every attempt, and calls checkout.record_refund or checkout.note_refund_failure). CKI01 malformed id, CKO01 nothing owed, CKO02 already refunded.';
grant execute on function admin.refund_to_retry(jsonb, text) to service_role;

create function admin.audit(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return checkout.audit();
end
$$;
comment on function admin.audit(jsonb) is
  'Service role only, staff claims required. checkout.audit(): every broken invariant as [{invariant, subject, detail}], empty when all hold. Reads every row: run on demand, not polled.';
grant execute on function admin.audit(jsonb) to service_role;

create function admin.stock(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return jsonb_build_object(
    'variants', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', v.id, 'sku', v.sku, 'title', v.title, 'product', p.title, 'active', v.active and p.active,
        'price', v.price, 'currency', v.currency,
        'on_hand', v.stock_on_hand,
        'reserved', coalesce(r.units, 0),
        'reserving_sessions', coalesce(r.sessions, 0),
        'available', v.stock_on_hand - coalesce(r.units, 0)) order by p.title, v.position, v.sku), '[]'::jsonb)
        from public.variants v
        join public.products p on p.id = v.product_id
        left join lateral (
          select sum(x.quantity)::integer as units, count(distinct x.order_session_id)::integer as sessions
            from checkout.stock_reservations x where x.variant_id = v.id and x.expires_at > now()
        ) r on true
    ),
    'adjustments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', a.id, 'variant_id', a.variant_id, 'sku', v.sku, 'delta', a.delta, 'on_hand_before', a.on_hand_before,
        'on_hand_after', a.on_hand_after, 'reason', a.reason, 'staff_email', a.staff_email, 'created_at', a.created_at) order by a.id desc), '[]'::jsonb)
        from (select * from admin.stock_adjustments order by id desc limit 20) a
        join public.variants v on v.id = a.variant_id
    )
  );
end
$$;
comment on function admin.stock(jsonb) is
  'Service role only, staff claims required. Every variant with stock on hand, units reserved by unexpired reservations and by how many checkouts, and available (on hand minus reserved); and the last 20 stock adjustments.';
grant execute on function admin.stock(jsonb) to service_role;

create function admin.adjust_stock(p_claims jsonb, p_variant_id text, p_delta integer, p_reason text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v public.variants;
  live_reserved integer;
  live_sessions integer;
  a admin.stock_adjustments;
  max_on_hand constant bigint := 2147483647;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_variant_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'variant_id', 'the variant id must be a uuid');
  perform admin.check_input(p_delta is not null and p_delta <> 0, 'delta', 'the adjustment must be a whole number of units other than zero');
  perform admin.check_input(abs(p_delta) <= 1000000, 'delta', 'the adjustment is at most 1,000,000 units');
  perform admin.check_input(length(btrim(coalesce(p_reason, ''))) between 3 and 500, 'reason', 'a reason of 3 to 500 characters is required');
  -- The same lock a checkout and a payment take: an adjustment and a
  -- reservation or a stock decrement never interleave.
  select * into v from public.variants x where x.id = p_variant_id::uuid for update;
  if not found then
    raise exception 'no such variant' using errcode = 'CKO01', detail = jsonb_build_object('variant_id', p_variant_id)::text;
  end if;
  select coalesce(sum(r.quantity), 0)::integer, count(distinct r.order_session_id)::integer into live_reserved, live_sessions
    from checkout.stock_reservations r where r.variant_id = v.id and r.expires_at > now();
  -- Checked in bigint before any integer sum below can overflow.
  if v.stock_on_hand::bigint + p_delta > max_on_hand then
    raise exception 'stock on hand cannot go above % (it is %)', max_on_hand, v.stock_on_hand
      using errcode = 'CKI01',
            detail = jsonb_build_object('field', 'delta', 'on_hand', v.stock_on_hand, 'maximum_delta', max_on_hand - v.stock_on_hand)::text;
  end if;
  if v.stock_on_hand + p_delta < 0 then
    raise exception 'stock on hand cannot go below zero (it is %)', v.stock_on_hand
      using errcode = 'CKI01', detail = jsonb_build_object('field', 'delta', 'on_hand', v.stock_on_hand, 'minimum_delta', -v.stock_on_hand)::text;
  end if;
  -- Units reserved by checkouts being paid must stay on hand: their payments
  -- turn the reservation into a stock decrement.
  if v.stock_on_hand + p_delta < live_reserved then
    raise exception 'stock on hand cannot go below the % unit(s) reserved by % checkout(s) in progress', live_reserved, live_sessions
      using errcode = 'CKS02',
            detail = jsonb_build_object('on_hand', v.stock_on_hand, 'reserved', live_reserved, 'reserving_sessions', live_sessions,
                                        'minimum_delta', live_reserved - v.stock_on_hand)::text;
  end if;
  update public.variants set stock_on_hand = stock_on_hand + p_delta, updated_at = now() where id = v.id;
  insert into admin.stock_adjustments (variant_id, delta, on_hand_before, on_hand_after, reserved_then, reason, staff_id, staff_email)
  values (v.id, p_delta, v.stock_on_hand, v.stock_on_hand + p_delta, live_reserved, btrim(p_reason), (p_claims ->> 'sub')::uuid, p_claims ->> 'email')
  returning * into a;
  return jsonb_build_object('id', a.id, 'variant_id', v.id, 'sku', v.sku, 'delta', a.delta, 'on_hand_before', a.on_hand_before,
                            'on_hand_after', a.on_hand_after, 'reserved', live_reserved, 'available', a.on_hand_after - live_reserved,
                            'reason', a.reason, 'created_at', a.created_at);
end
$$;
comment on function admin.adjust_stock(jsonb, text, integer, text) is
  'Service role only, staff claims required. Changes a variant''s stock on hand by p_delta units with a reason, recorded in admin.stock_adjustments. Refuses (writing nothing) a result below zero or above integer''s range (CKI01, field delta, with minimum_delta or maximum_delta) or below the units reserved by unexpired checkouts (CKS02), so a lowered stock never breaks a payment in flight.';
grant execute on function admin.adjust_stock(jsonb, text, integer, text) to service_role;

create function admin.housekeeping(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return jsonb_build_object(
    'jobs', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'jobid', j.jobid, 'name', j.jobname, 'schedule', j.schedule, 'active', j.active, 'command', j.command,
        'last_run', (
          select jsonb_build_object('status', d.status, 'started_at', d.start_time, 'finished_at', d.end_time,
                                    'message', left(d.return_message, 500))
            from cron.job_run_details d where d.jobid = j.jobid order by d.runid desc limit 1),
        'failures_24h', (
          select count(*) from cron.job_run_details d
           where d.jobid = j.jobid and d.status = 'failed' and d.start_time > now() - interval '24 hours')
      ) order by j.jobname), '[]'::jsonb)
        from cron.job j
    ),
    'due', jsonb_build_object(
      'sessions_to_expire', (select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at <= now()),
      'expired_reservations', (select count(*) from checkout.stock_reservations r where r.expires_at <= now())
    )
  );
end
$$;
comment on function admin.housekeeping(jsonb) is
  'Service role only, staff claims required. The pg_cron jobs with their last run (from cron.job_run_details) and failures in the last 24 hours, and how much expiry work is due.';
grant execute on function admin.housekeeping(jsonb) to service_role;

create function admin.run_cleanup(p_claims jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return checkout.cleanup();
end
$$;
comment on function admin.run_cleanup(jsonb) is
  'Service role only, staff claims required. Runs checkout.cleanup() now (expire due sessions, purge idle carts, trim old sessions) and returns its counts.';
grant execute on function admin.run_cleanup(jsonb) to service_role;

-- ===========================================================================
-- supabase/schemas/13_housekeeping.sql
-- ===========================================================================

-- Housekeeping and monitoring: expire order sessions, purge idle carts and
-- anonymous users who never came back, trim old sessions and pg_cron's own
-- history, and what the store owner watches: the stats and the audit of the
-- money and stock invariants. Service role only.
-- Availability never waits for these: expired reservations are already free
-- (lazy expiry).
--
-- Every anonymous visit creates an auth.users row. A row is removed once the
-- shopper has been idle longer than anonymous_user_ttl (default 30 days) and
-- holds nothing live: no cart that has not expired, no active order session.
-- Their orders, order sessions and payments stay (they are keyed on the id,
-- not bound to the user row); the cart rows go with the user.

-- ---------------------------------------------------------------------------
-- Routines

create function checkout.expire_sessions(p_batch_size integer default 1000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  expired_ids uuid[];
begin
  -- skip locked: a session being paid right now is left to apply_payment.
  with due as (
    select id from public.order_sessions
     where status = 'active' and expires_at <= now()
     order by expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  ), moved as (
    update public.order_sessions s
       set status = 'expired', closed_at = now()
      from due where s.id = due.id
    returning s.id
  )
  select coalesce(array_agg(id), '{}') into expired_ids from moved;

  perform private.release_stock(expired_ids);
  insert into checkout.order_session_events (order_session_id, kind, detail)
  select id, 'expired', '{"reason": "reservation time ran out"}'::jsonb from unnest(expired_ids) id;
  return coalesce(array_length(expired_ids, 1), 0);
end
$$;
comment on function checkout.expire_sessions(integer) is
  'Service role only. Expires up to p_batch_size active order sessions past expires_at and releases their reservations (private.release_stock); returns how many.';
grant execute on function checkout.expire_sessions(integer) to service_role;

create function checkout.purge_carts(p_batch_size integer default 5000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  purged integer;
  tz text := (private.current_settings()).analytics_time_zone;
begin
  perform pg_catalog.set_config('analytics.cart_purge', 'on', true);
  -- One statement: every part reads the carts and lines as they were before
  -- the delete (and its cascade to the lines).
  with doomed as (
    select c.session_id, c.created_at from public.carts c
     where c.expires_at < now()
     order by c.expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  ), held as (
    select d.session_id, ci.variant_id, ci.quantity, v.price, v.currency, v.sku, p.title || ' - ' || v.title as title
      from doomed d
      join public.cart_items ci on ci.session_id = d.session_id
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
  ), facts as (
    insert into analytics.cart_facts as f (session_id, created_at, purged_at, abandoned_units, abandoned_value, currency)
    select d.session_id, d.created_at, now(), coalesce(sum(h.quantity), 0), coalesce(sum(h.quantity * h.price), 0), min(h.currency)
      from doomed d
      left join held h on h.session_id = d.session_id
     group by d.session_id, d.created_at
    on conflict (session_id, created_at) do update
       set purged_at = excluded.purged_at, abandoned_units = excluded.abandoned_units,
           abandoned_value = excluded.abandoned_value, currency = excluded.currency
  ), products as (
    insert into analytics.abandoned_products as a (day, source, variant_id, sku, title, currency, carts, units, value)
    select (now() at time zone tz)::date, 'cart', h.variant_id, min(h.sku), min(h.title), min(h.currency),
           count(*), sum(h.quantity), sum(h.quantity * h.price)
      from held h
     group by h.variant_id
    on conflict (day, source, variant_id) do update
       set carts = a.carts + excluded.carts, units = a.units + excluded.units, value = a.value + excluded.value
  )
  delete from public.carts c using doomed d where c.session_id = d.session_id;
  get diagnostics purged = row_count;
  perform pg_catalog.set_config('analytics.cart_purge', 'off', true);
  return purged;
end
$$;
comment on function checkout.purge_carts(integer) is
  'Service role only. Deletes up to p_batch_size carts (with their lines) idle past expires_at; carts being used are skipped, not waited for. In the same statement, records what each held in analytics.cart_facts and analytics.abandoned_products. Returns how many.';
grant execute on function checkout.purge_carts(integer) to service_role;

create function checkout.trim_sessions(p_batch_size integer default 5000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  trimmed integer;
begin
  with doomed as (
    select s.id from public.order_sessions s
     where s.status in ('expired', 'cancelled')
       and s.closed_at < now() - (private.current_settings()).trim_after
       and not exists (select 1 from checkout.payment_events pe where pe.order_session_id = s.id)
       and not exists (select 1 from checkout.payment_refunds pr where pr.order_session_id = s.id)
       and not exists (select 1 from public.orders o where o.order_session_id = s.id)
     order by s.closed_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  )
  delete from public.order_sessions s using doomed where s.id = doomed.id;
  get diagnostics trimmed = row_count;
  return trimmed;
end
$$;
comment on function checkout.trim_sessions(integer) is
  'Service role only. Deletes expired and cancelled order sessions closed more than trim_after (30 days) ago that never saw a payment. Never touches orders. Returns how many.';
grant execute on function checkout.trim_sessions(integer) to service_role;

create function checkout.purge_anonymous_users(p_batch_size integer default 1000)
returns integer
language plpgsql security definer set search_path = ''
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
grant execute on function checkout.purge_anonymous_users(integer) to service_role;

-- The audit: every money and stock invariant, checked over every row (run on
-- demand: admin.audit, GET /order-sessions-admin/audit).
create function checkout.audit()
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(v order by v ->> 'invariant', v ->> 'subject'), '[]'::jsonb)
    from (
      -- variants.reserved is the sum of its reservation rows
      select jsonb_build_object('invariant', 'reserved_counter_mismatch', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'reserved', v.reserved, 'reservation_rows', coalesce(r.units, 0))) as v
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations group by variant_id) r on r.variant_id = v.id
       where v.reserved <> coalesce(r.units, 0)
      union all
      -- no stock below zero, and no more units promised than are on hand
      select jsonb_build_object('invariant', 'stock_below_zero', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'stock_on_hand', v.stock_on_hand,
                                                             'unexpired_reservations', coalesce(r.units, 0)))
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations
                    where expires_at > now() group by variant_id) r on r.variant_id = v.id
       where v.stock_on_hand < 0 or v.reserved < 0 or v.stock_on_hand < coalesce(r.units, 0)
      union all
      -- every approved payment has an order or a refund (those matching no
      -- session included: money that arrived for nothing we know)
      select jsonb_build_object('invariant', 'approved_payment_unsettled', 'subject', pe.payment_id::text,
                                'detail', jsonb_build_object('payment_id', pe.payment_id, 'order_session_id', pe.order_session_id,
                                                             'external_reference', pe.external_reference, 'amount', pe.transaction_amount,
                                                             'currency', pe.currency, 'received_at', pe.received_at,
                                                             'matches_no_session', pe.order_session_id is null))
        from checkout.payment_events pe
       where pe.status = 'approved'
         and not exists (select 1 from public.orders o where o.payment_id = pe.payment_id)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
      union all
      -- every order has an approved payment
      select jsonb_build_object('invariant', 'order_without_approved_payment', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'payment_id', o.payment_id))
        from public.orders o
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = o.payment_id and pe.status = 'approved')
      union all
      -- one order per cart checkout (the sessions of a checkout group)
      select jsonb_build_object('invariant', 'two_orders_one_checkout', 'subject', s.checkout_group::text,
                                'detail', jsonb_build_object('orders', jsonb_agg(o.order_number order by o.order_number)))
        from public.orders o
        join public.order_sessions s on s.id = o.order_session_id
       group by s.checkout_group
      having count(*) > 1
      union all
      -- one order per merged cart: a checkout that a cart merge cancelled
      -- became an order (so it was paid late), and so did another checkout
      -- of the account that was open at the merge or begun after it, no
      -- later than that order. Read from the event log and the merges, not
      -- from the checkout groups. (The merge is the account's latest one
      -- that began before the cancellation was logged.)
      select jsonb_build_object('invariant', 'two_orders_one_merged_cart', 'subject', oc.order_number,
                                'detail', jsonb_build_object('account_id', c.session_id, 'merged_checkout', c.id,
                                                             'merged_at', mg.merged_at,
                                                             'orders', to_jsonb(array[oc.order_number] || array_agg(o2.order_number order by o2.order_number))))
        from public.orders oc
        join public.order_sessions c on c.id = oc.order_session_id
        join lateral (select max(m.merged_at) as merged_at
                        from checkout.cart_merges m
                       where m.account_id = c.session_id
                         and m.merged_at <= (select min(ev.created_at) from checkout.order_session_events ev
                                              where ev.order_session_id = c.id and ev.kind = 'cancelled'
                                                and ev.detail ->> 'reason' = 'merged into an account')) mg on mg.merged_at is not null
        join public.order_sessions n on n.session_id = c.session_id and n.id <> c.id and n.created_at <= oc.created_at
                                    and coalesce(n.closed_at, 'infinity'::timestamptz) >= mg.merged_at
        join public.orders o2 on o2.order_session_id = n.id
       where oc.paid_late
       group by oc.order_number, c.session_id, c.id, mg.merged_at
      union all
      -- a session marked paid has its order; closed sessions hold no stock
      select jsonb_build_object('invariant', 'paid_session_without_order', 'subject', s.id::text, 'detail', jsonb_build_object('token', s.token))
        from public.order_sessions s
       where s.status = 'paid' and not exists (select 1 from public.orders o where o.order_session_id = s.id)
      union all
      select jsonb_build_object('invariant', 'closed_session_holds_stock', 'subject', s.id::text,
                                'detail', jsonb_build_object('status', s.status))
        from public.order_sessions s
       where s.status <> 'active' and exists (select 1 from checkout.stock_reservations r where r.order_session_id = s.id)
      union all
      -- refunds owed are made within the hour
      select jsonb_build_object('invariant', 'refund_owed_over_1h', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'order_session_id', r.order_session_id,
                                                             'reason', r.reason, 'amount', r.amount, 'currency', r.currency,
                                                             'owed_since', r.created_at, 'attempts', r.attempts, 'last_error', r.last_error))
        from checkout.payment_refunds r
       where r.status = 'owed' and r.created_at < now() - interval '1 hour'
    ) x(v)
$$;
comment on function checkout.audit() is
  'Service role only (and GET /order-sessions-admin/audit). Every violation of the money and stock invariants, as [{invariant, subject, detail}]; empty when all hold: reserved_counter_mismatch, stock_below_zero (also fewer units on hand than unexpired reservations), approved_payment_unsettled (no order and no refund; matches_no_session for money that arrived for nothing we know), order_without_approved_payment, two_orders_one_checkout, two_orders_one_merged_cart (an order from a checkout a cart merge cancelled, and another from a checkout of the account open at the merge or begun after it, before that order), paid_session_without_order, closed_session_holds_stock, refund_owed_over_1h.';
grant execute on function checkout.audit() to service_role;

create function checkout.stats()
returns jsonb
language sql stable security definer set search_path = ''
as $$
  with by_status as (
    select s.status::text as status, count(*) as n from public.order_sessions s group by s.status
  ), day as (
    select count(*) filter (where s.status = 'paid') as paid,
           count(*) filter (where s.status in ('expired', 'cancelled', 'refund_owed', 'refunded')) as lost,
           count(*) as created
      from public.order_sessions s
     where s.created_at > now() - interval '24 hours'
  ), unsettled as (
    select pe.payment_id, pe.order_session_id, pe.transaction_amount, pe.currency, pe.received_at
      from checkout.payment_events pe
     where pe.status = 'approved'
       and not exists (select 1 from public.orders o where o.payment_id = pe.payment_id)
       and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
  )
  select jsonb_build_object(
    'generated_at', now(),
    'sessions_by_status', (
      select jsonb_object_agg(st, coalesce((select n from by_status b where b.status = st), 0))
        from unnest(enum_range(null::public.order_session_status)::text[]) st
    ),
    'conversion_rate', (
      select case when sum(n) filter (where status <> 'active') > 0
                  then round(coalesce(sum(n) filter (where status = 'paid'), 0)::numeric / sum(n) filter (where status <> 'active'), 4)
             end
        from by_status
    ),
    'last_24h', (select jsonb_build_object(
      'created', d.created, 'paid', d.paid,
      'conversion_rate', case when d.paid + d.lost > 0 then round(d.paid::numeric / (d.paid + d.lost), 4) end) from day d),
    'active_reservations', (
      select jsonb_build_object('sessions', count(distinct r.order_session_id), 'units', coalesce(sum(r.quantity), 0))
        from checkout.stock_reservations r where r.expires_at > now()
    ),
    'late_payments', jsonb_build_object(
      'orders', (select count(*) from public.orders o where o.paid_late),
      'out_of_stock', (select count(*) from checkout.payment_refunds pr where pr.reason = 'out_of_stock')
    ),
    'refunds_owed', (
      select jsonb_build_object('count', coalesce(sum(x.n), 0), 'by_currency', coalesce(jsonb_object_agg(x.currency, x.amount), '{}'::jsonb))
        from (select pr.currency, sum(pr.amount) as amount, count(*) as n
                from checkout.payment_refunds pr where pr.status = 'owed' group by pr.currency) x
    ),
    'refunds_made', (select count(*) from checkout.payment_refunds pr where pr.status = 'refunded'),
    'refunds_by_reason', (
      select coalesce(jsonb_object_agg(x.reason, x.n), '{}'::jsonb)
        from (select pr.reason, count(*) as n from checkout.payment_refunds pr group by pr.reason) x
    ),
    'amount_mismatches', (select count(*) from checkout.payment_refunds pr where pr.reason = 'amount_mismatch'),
    'unmatched_payments', (
      select jsonb_build_object('count', count(*), 'by_currency', coalesce(jsonb_object_agg(y.currency, y.amount) filter (where y.currency is not null), '{}'::jsonb))
        from (select u.currency, sum(u.transaction_amount) as amount from unsettled u where u.order_session_id is null group by u.currency) y
    ),
    'expired_last_24h', (
      select count(*) from public.order_sessions s
       where s.status = 'expired' and s.closed_at > now() - interval '24 hours'
    ),
    'stuck', jsonb_build_object(
      'refunds_owed_over_1h', (select count(*) from checkout.payment_refunds pr where pr.status = 'owed' and pr.created_at < now() - interval '1 hour'),
      'approved_payments_unsettled_over_1h', (select count(*) from unsettled u where u.received_at < now() - interval '1 hour'),
      'sessions_active_past_expiry_over_1h', (
        select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at < now() - interval '1 hour'),
      'preferences_open_over_1h', (
        select count(*) from public.order_sessions s
         where s.status in ('expired', 'cancelled') and s.preference_id is not null and s.preference_expired_at is null
           and s.expires_at > now() and s.closed_at < now() - interval '1 hour')
    ),
    'orders', (
      select jsonb_build_object('total', coalesce(sum(x.n), 0),
        'by_status', coalesce(jsonb_object_agg(x.status, x.n), '{}'::jsonb))
        from (select o.status::text as status, count(*) as n from public.orders o group by o.status) x
    )
  )
$$;
comment on function checkout.stats() is
  'Service role only. Monitoring for the store owner: sessions by status, conversion rate (all time and last 24 h), active reservations, late payments, refunds owed, made and by reason, amount mismatches, approved payments matching no session (unmatched_payments), sessions expired in the last 24 h, anything stuck for more than an hour (stuck: refunds owed, approved payments without an outcome, active sessions the cron has not expired, cancelled sessions whose preference is still payable), orders by status.';
grant execute on function checkout.stats() to service_role;

create function checkout.cleanup()
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  expired integer := 0;
  purged integer := 0;
  trimmed integer := 0;
  n integer;
begin
  loop n := checkout.expire_sessions(1000); expired := expired + n; exit when n < 1000; end loop;
  loop n := checkout.purge_carts(5000); purged := purged + n; exit when n < 5000; end loop;
  loop n := checkout.trim_sessions(5000); trimmed := trimmed + n; exit when n < 5000; end loop;
  return jsonb_build_object('expired_sessions', expired, 'purged_carts', purged, 'trimmed_sessions', trimmed);
end
$$;
comment on function checkout.cleanup() is
  'Service role only. The manual cleanup behind the admin Edge Function: expire due sessions, purge expired carts, trim old sessions, in one transaction. Returns the counts.';
grant execute on function checkout.cleanup() to service_role;

-- ---------------------------------------------------------------------------
-- Schedules. cron.schedule with a job name replaces an existing job of that
-- name.
--
-- Each batch job is a DO block that commits after every batch, so that
-- expiring thousands of sessions or purging a million carts never holds its
-- locks for long. (A DO block rather than a procedure: a procedure may only
-- COMMIT without a `set search_path` clause, which the advisors rightly
-- require; the functions it loops over have theirs.) pg_cron runs the
-- command as a top-level statement, where COMMIT is allowed.

select cron.schedule('checkout-expire-sessions', '* * * * *',
  'do $$ begin while checkout.expire_sessions(1000) = 1000 loop commit; end loop; end $$');
select cron.schedule('checkout-purge-carts', '17 * * * *',
  'do $$ begin while checkout.purge_carts(5000) = 5000 loop commit; end loop; end $$');
select cron.schedule('checkout-trim-sessions', '43 3 * * *',
  'do $$ begin while checkout.trim_sessions(5000) = 5000 loop commit; end loop; end $$');
select cron.schedule('checkout-purge-anonymous-users', '23 4 * * *',
  'do $$ begin while checkout.purge_anonymous_users(1000) = 1000 loop commit; end loop; end $$');

-- pg_cron records every run in cron.job_run_details and never deletes them;
-- with a job a minute that is 1,440 rows a day. Keep a week (Supabase's own
-- advice for this table).
select cron.schedule('checkout-trim-cron-history', '51 4 * * *',
  $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);
