-- Orders exist only for paid order sessions. Payments fetched from
-- MercadoPago (by the webhook or the buyer's return) converge on one
-- idempotent routine, checkout.apply_payment; unique constraints make a second
-- order impossible even if a caller is wrong.

create type public.order_status as enum ('paid', 'in_mediation', 'refunded', 'charged_back');
comment on type public.order_status is 'An order follows its payment: paid, then possibly in mediation, refunded or charged back.';

create sequence public.order_number_seq start 1001;
comment on sequence public.order_number_seq is 'Feeds the human-friendly order numbers (ORD-001001, ...).';

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  order_number text not null unique default ('ORD-' || lpad(nextval('public.order_number_seq')::text, 6, '0')),
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
comment on column public.orders.paid_late is 'The payment was approved after the reservation expired and the stock was re-reserved.';

create index orders_session_id_idx on public.orders (session_id, created_at desc);

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
comment on table public.order_lines is 'The lines of an order, copied from the order session''s snapshot. Shoppers read the lines of their own orders.';

create index order_lines_variant_id_idx on public.order_lines (variant_id);

-- Every payment state we have seen, once per (payment id, status).
create table public.payment_events (
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
comment on table public.payment_events is 'Each MercadoPago payment status we applied, recorded once per (payment id, status) with the payment as fetched. Service role only.';

create index payment_events_order_session_idx on public.payment_events (order_session_id);

-- Payments that were approved but cannot become an order: they must be
-- refunded. Nothing is lost: every approved payment has an order or a row here.
create table public.payment_refunds (
  id uuid primary key default gen_random_uuid(),
  payment_id bigint not null unique,
  order_session_id uuid references public.order_sessions (id) on delete restrict,
  amount numeric(12, 2) not null,
  currency text not null,
  reason text not null check (reason in ('out_of_stock', 'amount_mismatch', 'duplicate_payment', 'coupon_used_up')),
  status text not null default 'owed' check (status in ('owed', 'refunded')),
  mp_refund_id text,
  created_at timestamptz not null default now(),
  refunded_at timestamptz
);
comment on table public.payment_refunds is
  'Approved payments owed back to the buyer (paid after expiry with no stock, wrong amount or currency, a second payment for a paid session) and whether the refund was made. Service role only.';

create index payment_refunds_order_session_idx on public.payment_refunds (order_session_id);
create index payment_refunds_owed_idx on public.payment_refunds (created_at) where status = 'owed';

create function private.order_status_may_move(p_from public.order_status, p_to public.order_status)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select (p_from = 'paid' and p_to in ('in_mediation', 'refunded', 'charged_back'))
      or (p_from = 'in_mediation' and p_to in ('paid', 'refunded', 'charged_back'))
$$;
revoke execute on function private.order_status_may_move(public.order_status, public.order_status) from public, anon, authenticated;
grant execute on function private.order_status_may_move(public.order_status, public.order_status) to service_role;
comment on function private.order_status_may_move(public.order_status, public.order_status) is
  'An order''s status moves forward only: paid to in_mediation, refunded or charged_back; a mediation ends paid, refunded or charged back; refunded and charged_back are final.';

create function private.check_order_transition()
returns trigger
language plpgsql
set search_path = ''
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
revoke execute on function private.check_order_transition() from public, anon, authenticated;
comment on function private.check_order_transition() is 'Trigger: orders are immutable but for a status that only moves forward.';

create trigger orders_transition
  before update on public.orders
  for each row execute function private.check_order_transition();

grant select on public.orders, public.order_lines to authenticated;
grant select, insert, update on public.orders, public.order_lines, public.payment_events, public.payment_refunds to service_role;
grant usage on sequence public.order_number_seq to service_role;

alter table public.orders enable row level security;
alter table public.order_lines enable row level security;
alter table public.payment_events enable row level security;
alter table public.payment_refunds enable row level security;

create policy "Shoppers read their own orders"
  on public.orders for select to authenticated
  using (session_id = (select auth.uid()));
create policy "Shoppers read the lines of their own orders"
  on public.order_lines for select to authenticated
  using (exists (select 1 from public.orders o where o.id = order_id and o.session_id = (select auth.uid())));

-- ---------------------------------------------------------------------------
-- Routines

create function private.order_json(o public.orders)
returns jsonb
language sql
stable
set search_path = ''
as $$
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
$$;
revoke execute on function private.order_json(public.orders) from public, anon, authenticated;
comment on function private.order_json(public.orders) is 'An order with its lines, as the checkout routines return it.';
grant execute on function private.order_json(public.orders) to service_role;

create function public.get_my_orders()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(private.order_json(o) order by o.created_at desc), '[]'::jsonb)
  from public.orders o
  where o.session_id = (select auth.uid())
$$;
revoke execute on function public.get_my_orders() from public, anon, authenticated;
comment on function public.get_my_orders() is 'The caller''s orders, newest first, with their lines. Runs as the caller under RLS. For authenticated.';
grant execute on function private.order_json(public.orders) to authenticated;
grant execute on function public.get_my_orders() to authenticated, service_role;

create function private.owe_refund(s public.order_sessions, p_payment_id bigint, p_amount numeric, p_currency text, p_reason text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  r public.payment_refunds;
begin
  insert into public.payment_refunds (payment_id, order_session_id, amount, currency, reason)
  values (p_payment_id, s.id, coalesce(p_amount, 0), coalesce(p_currency, s.currency), p_reason)
  on conflict (payment_id) do nothing
  returning * into r;
  if r.id is null then
    select * into r from public.payment_refunds where payment_id = p_payment_id;
  else
    perform private.log_event(s.id, 'refund_owed',
      jsonb_build_object('reason', p_reason, 'amount', p_amount, 'currency', p_currency), p_payment_id);
  end if;
  return jsonb_build_object(
    'payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
    'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id);
end
$$;
revoke execute on function private.owe_refund(public.order_sessions, bigint, numeric, text, text) from public, anon, authenticated;
comment on function private.owe_refund(public.order_sessions, bigint, numeric, text, text) is 'Records (once) that an approved payment must be refunded, and why.';
grant execute on function private.owe_refund(public.order_sessions, bigint, numeric, text, text) to service_role;

create function private.owe_refund_unfulfilled(s public.order_sessions, p_payment_id bigint, p_amount numeric, p_currency text, p_reason text, p_detail jsonb default '{}')
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  closed public.order_sessions;
begin
  delete from public.stock_reservations where order_session_id = s.id;
  update public.order_sessions set status = 'refund_owed', payment_id = p_payment_id, paid_at = now(), closed_at = now()
   where id = s.id returning * into closed;
  return jsonb_build_object('order_session_id', closed.id, 'outcome', 'refund_owed', 'payment_id', p_payment_id,
                            'session_status', closed.status,
                            'refund', private.owe_refund(closed, p_payment_id, p_amount, p_currency, p_reason)) || p_detail;
end
$$;
revoke execute on function private.owe_refund_unfulfilled(public.order_sessions, bigint, numeric, text, text, jsonb) from public, anon, authenticated;
comment on function private.owe_refund_unfulfilled(public.order_sessions, bigint, numeric, text, text, jsonb) is
  'A payment approved too late to be fulfilled (no stock, or its coupon used up): the session becomes refund_owed and the refund is recorded as owed.';
grant execute on function private.owe_refund_unfulfilled(public.order_sessions, bigint, numeric, text, text, jsonb) to service_role;

create function checkout.apply_payment(p_payment jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  pid bigint;
  st text := p_payment ->> 'status';
  amount numeric;
  cur text := p_payment ->> 'currency_id';
  ref text := p_payment ->> 'external_reference';
  s public.order_sessions;
  o public.orders;
  new_status boolean;
  lines jsonb;
  variant_ids uuid[];
  short jsonb;
  late boolean;
  r public.payment_refunds;
  c public.coupons;
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

  -- Locks in begin_checkout's order: the shopper's cart, the order session,
  -- then the variants by id. Every caller for the same session queues here.
  perform 1 from public.carts cart
   where cart.session_id = (select os.session_id from public.order_sessions os where os.token = ref)
     for update;
  select * into s from public.order_sessions where token = ref for update;

  insert into public.payment_events (
    payment_id, status, status_detail, order_session_id, external_reference,
    transaction_amount, currency, payment_type, payment_method, payload
  ) values (
    pid, st, p_payment ->> 'status_detail', s.id, ref,
    amount, cur, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_payment
  )
  on conflict (payment_id, status) do nothing
  returning true into new_status;

  if s.id is null then
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'unknown_session', 'payment_id', pid, 'status', st);
  end if;
  if new_status then
    perform private.log_event(s.id, 'payment_seen', jsonb_build_object(
      'status', st, 'status_detail', p_payment ->> 'status_detail', 'amount', amount, 'currency', cur), pid);
  end if;

  select * into o from public.orders where order_session_id = s.id;

  if st = 'approved' then
    if o.id is not null then
      if o.payment_id = pid then
        if o.status = 'in_mediation' then
          -- A mediation settled in the store's favour: the payment is approved again.
          update public.orders set status = 'paid' where id = o.id returning * into o;
          perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', 'paid'), pid);
        end if;
        return jsonb_build_object('order_session_id', s.id, 'outcome', 'already_paid', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
      end if;
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
        'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
    end if;
    select * into r from public.payment_refunds where payment_id = pid;
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

    lines := s.lines;
    select array_agg((l ->> 'variant_id')::uuid order by (l ->> 'variant_id')::uuid)
      into variant_ids
      from jsonb_array_elements(lines) l;
    late := not (s.status = 'active' and s.expires_at > now());

    -- A late payment's coupon redemption may have gone to someone else
    -- meanwhile (the coupon is locked before the variants, as in begin_checkout).
    if late and s.coupon_id is not null then
      select * into c from public.coupons where id = s.coupon_id for update;
      if c.max_redemptions is not null and private.coupon_holders(c.id, array[s.id]) >= c.max_redemptions then
        return private.owe_refund_unfulfilled(s, pid, amount, cur, 'coupon_used_up');
      end if;
    end if;

    perform 1 from public.variants v where v.id = any (variant_ids) order by v.id for update;
    if late then
      -- The reservation is gone: take the stock again if it is still there.
      select coalesce(jsonb_agg(jsonb_build_object('sku', l ->> 'sku', 'requested', (l ->> 'quantity')::integer,
                                                   'available', greatest(private.available_stock((l ->> 'variant_id')::uuid), 0))), '[]'::jsonb)
        into short
        from jsonb_array_elements(lines) l
       where private.available_stock((l ->> 'variant_id')::uuid) < (l ->> 'quantity')::integer;
      if jsonb_array_length(short) > 0 then
        return private.owe_refund_unfulfilled(s, pid, amount, cur, 'out_of_stock', jsonb_build_object('short', short));
      end if;
    end if;

    -- Turn the reservation into a definitive decrement.
    update public.variants v
       set stock_on_hand = v.stock_on_hand - (l ->> 'quantity')::integer, updated_at = now()
      from jsonb_array_elements(lines) l
     where v.id = (l ->> 'variant_id')::uuid;
    delete from public.stock_reservations where order_session_id = s.id;

    insert into public.orders (
      order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
      payer, shipping_address, payment_type, payment_method, paid_late
    ) values (
      s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
      s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', late
    ) returning * into o;

    insert into public.order_lines (order_id, line_no, variant_id, sku, title, unit_price, quantity, line_total)
    select o.id, ord::smallint, (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title',
           (l ->> 'unit_price')::numeric, (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
      from jsonb_array_elements(s.lines) with ordinality as t(l, ord);

    update public.order_sessions set status = 'paid', payment_id = pid, paid_at = now(), closed_at = now()
     where id = s.id returning * into s;

    -- The bought units leave the cart; anything added since stays.
    delete from public.cart_items ci
     using jsonb_array_elements(lines) l
     where ci.session_id = s.session_id and ci.variant_id = (l ->> 'variant_id')::uuid
       and ci.quantity <= (l ->> 'quantity')::integer;
    update public.cart_items ci
       set quantity = ci.quantity - (l ->> 'quantity')::integer
      from jsonb_array_elements(lines) l
     where ci.session_id = s.session_id and ci.variant_id = (l ->> 'variant_id')::uuid;

    perform private.log_event(s.id, 'committed', jsonb_build_object(
      'order_id', o.id, 'order_number', o.order_number, 'paid_late', late), pid);
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_created', 'payment_id', pid, 'session_status', s.status,
                              'order', private.order_json(o));
  end if;

  if st in ('refunded', 'charged_back', 'in_mediation') then
    if o.id is not null and o.payment_id = pid then
      -- Forward only: a stale in_mediation after a refund changes nothing.
      if private.order_status_may_move(o.status, st::public.order_status) then
        update public.orders set status = st::public.order_status where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', st), pid);
      end if;
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_updated', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    if st = 'refunded' and exists (select 1 from public.payment_refunds where payment_id = pid and status = 'owed') then
      return checkout.record_refund(pid, null);
    end if;
  end if;

  -- pending, in_process, authorized, rejected, cancelled: recorded; an
  -- active session stays active so the buyer can pay again until it expires.
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'recorded', 'payment_id', pid, 'status', st, 'session_status', s.status,
                            'order', case when o.id is null then null else private.order_json(o) end);
end
$$;

create function checkout.record_refund(p_payment_id bigint, p_mp_refund_id text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  r public.payment_refunds;
  s public.order_sessions;
begin
  select * into r from public.payment_refunds where payment_id = p_payment_id for update;
  if not found then
    raise exception 'no refund is owed for payment %', p_payment_id using errcode = 'CKO01';
  end if;
  if r.status = 'owed' then
    update public.payment_refunds
       set status = 'refunded', mp_refund_id = coalesce(p_mp_refund_id, mp_refund_id), refunded_at = now()
     where id = r.id returning * into r;
    select * into s from public.order_sessions where id = r.order_session_id for update;
    if s.status = 'refund_owed' and s.payment_id = p_payment_id then
      update public.order_sessions set status = 'refunded' where id = s.id returning * into s;
    end if;
    perform private.log_event(r.order_session_id, 'refunded',
      jsonb_build_object('amount', r.amount, 'currency', r.currency, 'mp_refund_id', r.mp_refund_id, 'reason', r.reason), p_payment_id);
  else
    select * into s from public.order_sessions where id = r.order_session_id;
  end if;
  return jsonb_build_object('order_session_id', r.order_session_id, 'outcome', 'refund_recorded', 'payment_id', p_payment_id, 'session_status', s.status,
    'refund', jsonb_build_object('payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
                                 'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id));
end
$$;
comment on function checkout.record_refund(bigint, text) is
  'Service role only. Records that an owed refund was made in MercadoPago (idempotent); a session paid without stock moves to refunded.';

comment on function checkout.apply_payment(jsonb) is
  'Service role only. Applies a payment as fetched from MercadoPago (id, status, status_detail, transaction_amount, currency_id, external_reference, payment_type_id, ...), idempotent and safe under concurrent calls: locks the order session; approved with the right amount and currency creates the one order, turns the reservation into a stock decrement, marks the session paid and removes the bought units from the cart; the same payment again returns the same order; approved after expiry re-reserves if it can, else the session becomes refund_owed; a wrong amount, currency or a second payment owes a refund; rejected/pending/cancelled are recorded; refunded, charged_back and in_mediation move the order''s status. Returns {outcome, payment_id, session_status, order?, refund?}.';

revoke execute on all functions in schema checkout from public, anon, authenticated;
grant execute on function checkout.apply_payment(jsonb) to service_role;
grant execute on function checkout.record_refund(bigint, text) to service_role;
