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
  created_at timestamptz not null default now(),
  card_only boolean not null default false
);
comment on table public.products is
  'Products of the store. Readable by everyone; written by the store owner (service_role or SQL).';
comment on column public.products.card_only is
  'Paid by card only: a cart with this product gets no cash ticket, ATM or bank transfer (Pix) at MercadoPago, and such a payment for it holds no stock (12_offline_payments.sql).';

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
