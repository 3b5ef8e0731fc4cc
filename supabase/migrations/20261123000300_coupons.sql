-- Coupons: a percentage or a fixed amount off the subtotal, with a minimum
-- subtotal, a validity window and an optional cap on redemptions. A coupon is
-- "held" by every paid order session and every active, unexpired one that
-- used it; begin_checkout counts holders under a lock on the coupon row, so
-- concurrent checkouts can never exceed max_redemptions.

create table public.coupons (
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
comment on table public.coupons is
  'Discount coupons, upper-case codes matched case-insensitively. Not readable by shoppers (codes are secrets); managed by the store owner with service_role or SQL.';

grant select, insert, update, delete on public.coupons to service_role;

alter table public.coupons enable row level security;
-- No policy for anon or authenticated: shoppers never read coupons directly;
-- begin_checkout (security definer) validates the code they submit.

