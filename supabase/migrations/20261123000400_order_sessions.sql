-- Order sessions: what a checkout creates (never an order). A snapshot of the
-- cart's lines at the prices read from the database, the payer, the shipping
-- address, the totals and a reservation of the stock until expires_at.
-- Shoppers may read their own sessions and never write them.

create type public.order_session_status as enum (
  'active',      -- stock reserved, waiting for the payment
  'paid',        -- an order was created from it
  'expired',     -- the reservation ran out without a payment
  'cancelled',   -- replaced by a newer checkout, or released because the preference could not be created
  'refund_owed', -- paid after expiry with no stock left: the payment must be refunded
  'refunded'     -- that refund was made
);
comment on type public.order_session_status is 'Life cycle of an order session; statuses only move forward (see private.check_order_session_transition).';

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
  coupon_id uuid references public.coupons (id) on delete restrict,
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
  constraint order_sessions_total_is_subtotal_minus_discount check (total = subtotal - discount)
);
comment on table public.order_sessions is
  'A checkout in progress: snapshot of the lines (variant, title, unit price, quantity), payer, shipping address, totals and the MercadoPago preference. token is the external_reference sent to MercadoPago. Shoppers read their own (RLS on session_id); only the checkout routines write.';
comment on column public.order_sessions.session_id is 'The shopper: auth.uid() of the (anonymous) Supabase user who checked out.';
comment on column public.order_sessions.token is 'Random, unguessable; MercadoPago''s external_reference (at most 64 letters, digits, - and _).';
comment on column public.order_sessions.lines is 'Snapshot: [{variant_id, sku, title, unit_price, quantity, line_total}] at the prices read when the checkout began.';

create index order_sessions_session_id_idx on public.order_sessions (session_id, created_at desc);
create index order_sessions_active_expires_idx on public.order_sessions (expires_at) where status = 'active';
create index order_sessions_coupon_idx on public.order_sessions (coupon_id) where coupon_id is not null;
create index order_sessions_closed_idx on public.order_sessions (closed_at) where status in ('expired', 'cancelled');
create unique index order_sessions_one_active_per_shopper on public.order_sessions (session_id) where status = 'active';

-- Stock held for an order session. A row whose expires_at has passed holds
-- nothing, whether or not the cron has deleted it yet (lazy expiry).
create table public.stock_reservations (
  order_session_id uuid not null references public.order_sessions (id) on delete cascade,
  variant_id uuid not null references public.variants (id) on delete restrict,
  quantity integer not null check (quantity > 0),
  expires_at timestamptz not null,
  primary key (order_session_id, variant_id)
);
comment on table public.stock_reservations is
  'Units of a variant held for an order session until expires_at. Expired rows hold nothing (lazy expiry); the cron deletes them. Service role only.';

create index stock_reservations_variant_idx on public.stock_reservations (variant_id, expires_at) include (quantity);

-- Append-only trace of everything that happened to an order session.
create table public.order_session_events (
  id bigint generated always as identity primary key,
  order_session_id uuid not null references public.order_sessions (id) on delete cascade,
  kind text not null check (kind in (
    'created', 'reserved', 'preference_attached', 'payment_seen', 'committed',
    'expired', 'cancelled', 'amount_mismatch', 'refund_owed', 'refunded', 'order_status_changed'
  )),
  payment_id bigint,
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default clock_timestamp()
);
comment on table public.order_session_events is
  'Append-only event log per order session (created, reserved, preference attached, payment seen with its status, committed, expired, cancelled, refund owed...). Service role only; rows are never updated.';

create index order_session_events_session_idx on public.order_session_events (order_session_id, id);

grant select on public.order_sessions to authenticated;
grant select, insert, update, delete on public.order_sessions, public.stock_reservations to service_role;
grant select, insert on public.order_session_events to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.check_order_session_transition()
returns trigger
language plpgsql
set search_path = ''
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
revoke execute on function private.check_order_session_transition() from public, anon, authenticated;
comment on function private.check_order_session_transition() is 'Trigger: order sessions are immutable snapshots whose status only moves forward.';

create trigger order_sessions_transition
  before update on public.order_sessions
  for each row execute function private.check_order_session_transition();

create function private.forbid_event_update()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'order_session_events is append-only' using errcode = 'CKI02';
end
$$;
revoke execute on function private.forbid_event_update() from public, anon, authenticated;
comment on function private.forbid_event_update() is 'Trigger: the order session event log is append-only.';

create trigger order_session_events_append_only
  before update on public.order_session_events
  for each row execute function private.forbid_event_update();

-- variants.reserved follows the reservation rows, so that availability is
-- one row read instead of a sum over every reservation of a hot product.
-- Statement triggers: one update per variant per statement, taken in id
-- order like every other lock on variants.
create function private.count_reservations()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- Each branch names only the transition tables its event has.
  if tg_op = 'INSERT' then
    perform 1 from public.variants v where v.id in (select n.variant_id from new_rows n) order by v.id for update;
    update public.variants v set reserved = v.reserved + d.quantity
      from (select n.variant_id, sum(n.quantity)::integer as quantity from new_rows n group by n.variant_id) d
     where v.id = d.variant_id;
  elsif tg_op = 'DELETE' then
    perform 1 from public.variants v where v.id in (select o.variant_id from old_rows o) order by v.id for update;
    update public.variants v set reserved = v.reserved - d.quantity
      from (select o.variant_id, sum(o.quantity)::integer as quantity from old_rows o group by o.variant_id) d
     where v.id = d.variant_id;
  else
    update public.variants v set reserved = v.reserved + d.quantity
      from (select u.variant_id, sum(u.quantity)::integer as quantity
              from (select n.variant_id, n.quantity from new_rows n
                    union all
                    select o.variant_id, -o.quantity from old_rows o) u
             group by u.variant_id having sum(u.quantity) <> 0) d
     where v.id = d.variant_id;
  end if;
  return null;
end
$$;
revoke execute on function private.count_reservations() from public, anon, authenticated;
comment on function private.count_reservations() is 'Trigger: keeps variants.reserved equal to the units of its reservation rows.';

create trigger stock_reservations_count_insert
  after insert on public.stock_reservations
  referencing new table as new_rows
  for each statement execute function private.count_reservations();
create trigger stock_reservations_count_update
  after update on public.stock_reservations
  referencing old table as old_rows new table as new_rows
  for each statement execute function private.count_reservations();
create trigger stock_reservations_count_delete
  after delete on public.stock_reservations
  referencing old table as old_rows
  for each statement execute function private.count_reservations();

-- ---------------------------------------------------------------------------
-- Policies

alter table public.order_sessions enable row level security;
alter table public.stock_reservations enable row level security;
alter table public.order_session_events enable row level security;

create policy "Shoppers read their own order sessions"
  on public.order_sessions for select to authenticated
  using (session_id = (select auth.uid()));

-- stock_reservations and order_session_events: no policy for anon or
-- authenticated; only the service role (which bypasses RLS) reads them.

-- ---------------------------------------------------------------------------
-- Availability

create function private.available_stock(p_variant_id uuid)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  -- reserved counts every reservation row; those already expired hold
  -- nothing (lazy expiry), so they are added back. Until the cron releases
  -- them there are few, and the index reads just that range.
  select v.stock_on_hand - v.reserved + coalesce((
    select sum(r.quantity)::integer
    from public.stock_reservations r
    where r.variant_id = v.id and r.expires_at <= now()
  ), 0)
  from public.variants v
  where v.id = p_variant_id
$$;
revoke execute on function private.available_stock(uuid) from public, anon, authenticated;
comment on function private.available_stock(uuid) is
  'Units of a variant that can still be sold: stock on hand minus unexpired reservations (an expired reservation is free at once, cron or not). NULL for an unknown variant. Read-only; callable by every API role because the catalog and the cart show it.';
grant execute on function private.available_stock(uuid) to anon, authenticated, service_role;

create function public.get_catalog()
returns jsonb
language sql
stable
set search_path = ''
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
          'available', greatest(private.available_stock(v.id), 0)
        ) order by v.position, v.sku)
        from public.variants v
        where v.product_id = pr.id and v.active
      ), '[]'::jsonb)
    ) as product
    from public.products pr
    where pr.active
  ) p
$$;
revoke execute on function public.get_catalog() from public, anon, authenticated;
comment on function public.get_catalog() is 'Active products with their active variants, prices and the stock available right now. Callable by anon and authenticated.';
grant execute on function public.get_catalog() to anon, authenticated, service_role;
