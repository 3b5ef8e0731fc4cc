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
