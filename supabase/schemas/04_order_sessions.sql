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
-- Only sessions with a preference can be reconciled (checkout.claim_reconciliation):
-- a new session enters this index when its preference is attached, not at insert.
create index order_sessions_reconcile_idx on public.order_sessions (next_check_at)
  where status in ('active', 'expired', 'cancelled') and preference_id is not null;
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
    'taken_over', 'preference_expired', 'refund_failed',
    'offline_hold', 'offline_hold_refused', 'offline_payment_cancelled'
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
  released_by_caller text := nullif(current_setting('checkout.releasing_session', true), '');
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
    if released_by_caller is not null
       and not exists (select 1 from old_rows o where o.order_session_id::text <> released_by_caller) then
      return null;
    end if;
    perform 1 from public.variants v
     where v.id in (select o.variant_id from old_rows o where o.order_session_id::text is distinct from released_by_caller)
     order by v.id for update;
    update public.variants v set reserved = v.reserved - d.quantity
      from (select o.variant_id, sum(o.quantity)::integer as quantity from old_rows o
             where o.order_session_id::text is distinct from released_by_caller group by o.variant_id) d
     where v.id = d.variant_id;
  end if;
  return null;
end
$$;
comment on function private.count_reservations() is
  'Trigger (after insert, after delete; statement level): keeps variants.reserved equal to the units of its reservation rows. Rows of the order session named in the transaction-local setting checkout.reserving_session (inserted) or checkout.releasing_session (deleted) are left out: begin_checkout and private.commit_held_order count those themselves.';
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
