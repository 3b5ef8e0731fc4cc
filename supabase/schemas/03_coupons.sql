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
