-- Catalog: products and their variants, readable by everyone, and the stock
-- available to sell (on hand minus unexpired reservations).

create table public.products (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  title text not null check (length(title) between 1 and 200),
  description text not null default '',
  image_url text,
  active boolean not null default true,
  created_at timestamptz not null default now()
);
comment on table public.products is 'Products of the store. Readable by everyone; written by the store owner (service_role or SQL).';

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

grant select on public.products, public.variants to anon, authenticated;
grant select, insert, update, delete on public.products, public.variants to service_role;

alter table public.products enable row level security;
alter table public.variants enable row level security;

create policy "Products are readable by everyone"
  on public.products for select to anon, authenticated using (true);
create policy "Variants are readable by everyone"
  on public.variants for select to anon, authenticated using (true);
