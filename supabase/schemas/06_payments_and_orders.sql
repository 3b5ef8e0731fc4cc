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

create type public.order_status as enum ('paid', 'in_mediation', 'partially_refunded', 'refunded', 'charged_back');
comment on type public.order_status is
  'An order follows its payments: paid, then possibly in mediation, partially refunded (the store refunded part of it from the dashboard), refunded or charged back.';

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
  do_not_ship boolean not null default false,
  financing_cost numeric(12, 2) not null default 0 check (financing_cost >= 0),
  constraint orders_one_per_session unique (order_session_id),
  constraint orders_one_per_payment unique (payment_id)
);
comment on table public.orders is
  'Orders, created only from a paid order session by checkout.apply_payment: one per session and one per payment. Shoppers read their own; status follows the payment (refunds, chargebacks).';
comment on column public.orders.paid_late is
  'The payment was approved after the reservation expired and the stock was re-reserved.';
comment on column public.orders.do_not_ship is
  'MercadoPago sent a fraud alert for the payment (14_disputes.sql): do not deliver; the payment is refunded. Once true, never false again.';
comment on column public.orders.payment_id is
  'The approved payment that completed the order (with two cards, the part that made the approved total cover the session''s total). Every part, this one included, is in checkout.order_payments with this order''s id.';
comment on column public.orders.financing_cost is
  'What the buyer paid on top of the price for installments with interest (total_paid_amount - transaction_amount, summed over the payments): MercadoPago''s, never the store''s income.';

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
    'out_of_stock', 'amount_mismatch', 'duplicate_payment', 'coupon_used_up', 'stock_lowered', 'superseded', 'fraud_alert', 'unpaired_part')),
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
  'Why the payment is owed back: out_of_stock (paid late, no stock), stock_lowered (paid on time, but the store lowered stock below the reservation), coupon_used_up, superseded (another session of the same cart checkout became the order), amount_mismatch (wrong currency, or more than the session''s total with the parts already approved), duplicate_payment, fraud_alert (MercadoPago''s fraud alert for the order''s payment: 14_disputes.sql), unpaired_part (a part of a two-card payment whose other part never came before the hold ended, or that a payment of the whole total replaced).';
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

-- Approved payments counted toward an order session. A session may be paid
-- in parts (MercadoPago's "pay with two cards": two payments with the same
-- external_reference, each for part of the total). A part waits here with
-- no order_id until the approved parts cover the session's total; then
-- commit_order creates the order and gives every part its id, in the same
-- transaction. A part that can no longer become an order is owed back
-- (checkout.payment_refunds) and so stops counting. A payment counts toward
-- one session and one order at most (the primary key).
create table checkout.order_payments (
  payment_id bigint primary key,
  order_session_id uuid not null references public.order_sessions (id) on delete restrict,
  order_id uuid references public.orders (id) on delete restrict,
  amount numeric(12, 2) not null check (amount > 0),
  currency text not null,
  installments integer not null default 1 check (installments >= 1),
  financing_cost numeric(12, 2) not null default 0 check (financing_cost >= 0),
  fees numeric(12, 2) not null default 0 check (fees >= 0),
  approved_at timestamptz not null default now()
);
comment on table checkout.order_payments is
  'Approved payments counted toward an order session (its parts, with two cards), with the price (amount = transaction_amount), the installments, the buyer''s financing cost and MercadoPago''s fees. order_id is set when the parts cover the total and the order is created; a part without one is waiting for its partner (or is owed back: checkout.payment_refunds). Service role only.';

create index order_payments_session_idx on checkout.order_payments (order_session_id);
-- Without the parts that wait for their order (order_id null): their old
-- versions' entries would pile up under null until vacuum, and the lookup of
-- a session's counted parts scanned them all (issue 25).
create index order_payments_order_idx on checkout.order_payments (order_id) where order_id is not null;

alter table checkout.order_payments enable row level security;
grant select, insert, update on checkout.order_payments to service_role;

-- Refunds the store makes of an order it keeps (the dashboard: by amount or
-- by line), spread over the order's payments; several per payment, each a
-- MercadoPago partial refund (POST /v1/payments/{id}/refunds {amount}).
create table checkout.order_refunds (
  id uuid primary key default gen_random_uuid(),
  order_id uuid not null references public.orders (id) on delete restrict,
  payment_id bigint not null references checkout.order_payments (payment_id) on delete restrict,
  amount numeric(12, 2) not null check (amount > 0),
  currency text not null,
  status text not null default 'owed' check (status in ('owed', 'refunded')),
  mp_refund_id text,
  requested_by uuid,
  last_error text,
  created_at timestamptz not null default now(),
  refunded_at timestamptz,
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now() + interval '2 minutes'
);
comment on table checkout.order_refunds is
  'Refunds of part or all of an order the store keeps, asked from the dashboard (admin.refund_order) and spread over its payments: one row per payment and request, owed until MercadoPago confirms it (checkout.record_order_refund). Never more than a payment brought in. One the dashboard could not make (MercadoPago unavailable, the recording lost) is retried by the reconcile function from next_attempt_at (checkout.claim_order_refunds), with the same idempotency key. Service role only.';

create index order_refunds_order_idx on checkout.order_refunds (order_id);
create index order_refunds_payment_idx on checkout.order_refunds (payment_id);
create index order_refunds_owed_idx on checkout.order_refunds (next_attempt_at) where status = 'owed';

alter table checkout.order_refunds enable row level security;
grant select, insert, update on checkout.order_refunds to service_role;

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
     or new.order_number <> old.order_number or new.session_id <> old.session_id or (old.do_not_ship and not new.do_not_ship) then
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
  'Trigger: orders are immutable but for a status that only moves forward and do_not_ship, which only turns true.';
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
  select (p_from = 'paid' and p_to in ('in_mediation', 'partially_refunded', 'refunded', 'charged_back'))
      or (p_from = 'partially_refunded' and p_to in ('in_mediation', 'refunded', 'charged_back'))
      or (p_from = 'in_mediation' and p_to in ('paid', 'refunded', 'charged_back'))
$$;
comment on function private.order_status_may_move(public.order_status, public.order_status) is
  'An order''s status moves forward only: paid to in_mediation, partially_refunded, refunded or charged_back; partially_refunded to in_mediation, refunded or charged_back; a mediation ends paid, refunded or charged back; refunded and charged_back are final.';
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
      'do_not_ship', o.do_not_ship,
      'financing_cost', o.financing_cost,
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
  begin
    perform (p_payment ->> 'total_paid_amount')::numeric, (p_payment ->> 'fee_amount')::numeric, (p_payment ->> 'installments')::integer;
  exception when others then
    raise exception 'total_paid_amount and fee_amount must be numbers and installments an integer' using errcode = 'CKI01';
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
  'Validates a payment as apply_payment receives it: an object with a positive integer id, a known status, and a numeric transaction_amount when approved, numeric total_paid_amount and fee_amount and an integer installments when present. CKI01 otherwise.';
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

create function private.counted_parts(p_order_session_id uuid)
returns setof checkout.order_payments
language plpgsql stable set search_path = ''
as $$
begin
  -- PL/pgSQL keeps the plan for the connection; a SQL function with its own
  -- search_path is parsed and planned again at every call (issue 25).
  return query
  select p.*
    from checkout.order_payments p
   where p.order_session_id = p_order_session_id and p.order_id is null
     and not exists (select 1 from checkout.payment_refunds r where r.payment_id = p.payment_id);
end
$$;
comment on function private.counted_parts(uuid) is
  'The approved parts that count toward an order session and wait for the rest: in checkout.order_payments, without an order and not owed back.';
grant execute on function private.counted_parts(uuid) to service_role;

create function private.counted_amount(p_order_session_id uuid)
returns numeric
language plpgsql stable set search_path = ''
as $$
begin
  return (select coalesce(sum(p.amount), 0) from private.counted_parts(p_order_session_id) p);
end
$$;
comment on function private.counted_amount(uuid) is
  'What the parts counted toward an order session add up to (private.counted_parts).';
grant execute on function private.counted_amount(uuid) to service_role;

create function private.count_part(s public.order_sessions, p_payment jsonb)
returns void
language plpgsql set search_path = ''
as $$
declare
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  paid numeric := (p_payment ->> 'total_paid_amount')::numeric;
begin
  -- The price is transaction_amount; total_paid_amount adds the buyer's
  -- interest for installments, which is never compared with the total.
  insert into checkout.order_payments (payment_id, order_session_id, amount, currency, installments, financing_cost, fees)
  values ((p_payment ->> 'id')::bigint, s.id, amount, p_payment ->> 'currency_id',
          greatest(coalesce((p_payment ->> 'installments')::integer, 1), 1),
          greatest(coalesce(paid - amount, 0), 0),
          greatest(coalesce((p_payment ->> 'fee_amount')::numeric, 0), 0))
  on conflict (payment_id) do nothing;
end
$$;
comment on function private.count_part(public.order_sessions, jsonb) is
  'Counts an approved payment toward its order session (checkout.order_payments): the price (transaction_amount), the installments, the buyer''s financing cost (total_paid_amount - transaction_amount) and MercadoPago''s fees (fee_amount: fee_details paid by the collector).';
grant execute on function private.count_part(public.order_sessions, jsonb) to service_role;

create function private.partly_paid(s public.order_sessions, p_payment_id bigint)
returns jsonb
language sql stable set search_path = ''
as $$
  select jsonb_build_object('order_session_id', s.id, 'outcome', 'partly_paid', 'payment_id', p_payment_id,
                            'session_status', s.status, 'paid', c.paid, 'remaining', s.total - c.paid, 'currency', s.currency)
    from (select private.counted_amount(s.id) as paid) c
$$;
comment on function private.partly_paid(public.order_sessions, bigint) is
  'The answer for an approved part that does not cover the session''s total yet: {outcome partly_paid, paid, remaining, currency}.';
grant execute on function private.partly_paid(public.order_sessions, bigint) to service_role;

create function private.is_group_ordered(s public.order_sessions)
returns boolean
language sql stable set search_path = ''
as $$
  select exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                  where g.checkout_group = s.checkout_group and g.id <> s.id)
$$;
comment on function private.is_group_ordered(public.order_sessions) is
  'Another order session of the same cart checkout (checkout group) became an order: a payment for this one pays for goods already bought.';
grant execute on function private.is_group_ordered(public.order_sessions) to service_role;

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
  part checkout.order_payments;
  counted numeric;
begin
  select * into o from public.orders where order_session_id = s.id;
  select * into part from checkout.order_payments where payment_id = pid;
  if o.id is not null then
    if part.order_id = o.id then
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
  if part.payment_id is not null then
    -- A part already counted, still waiting for the rest: the same answer.
    return private.partly_paid(s, pid);
  end if;
  -- Parts add up; more than the total (with the parts already approved), a
  -- payment of nothing, or another currency is refused. A payment of the
  -- whole total is never too much: it replaces the parts (settle_approved).
  counted := private.counted_amount(s.id);
  if amount <= 0 or cur is distinct from s.currency or (amount <> s.total and counted + amount > s.total) then
    perform private.log_event(s.id, 'amount_mismatch', jsonb_build_object(
      'expected', s.total, 'expected_currency', s.currency, 'paid', amount, 'paid_currency', cur, 'paid_before', counted), pid);
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'amount_mismatch', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'amount_mismatch'));
  end if;
  return null;
end
$$;
comment on function private.settle_known_payment(public.order_sessions, jsonb) is
  'An approved payment that cannot start or complete an order: the one already applied or a part of it (same answer), a second payment for a session with an order or a refund (duplicate_payment), one seen before (same answer), a part still waiting for the rest (outcome partly_paid), a wrong currency, a payment of nothing or one that takes the approved parts past the session''s total (amount_mismatch). NULL when none applies.';
grant execute on function private.settle_known_payment(public.order_sessions, jsonb) to service_role;

create function private.record_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns public.orders
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders;
  financing numeric;
  parts bigint[];
begin
  select coalesce(sum(p.financing_cost), 0), array_agg(p.payment_id) into financing, parts from private.counted_parts(s.id) p;
  -- The order's facts are kept here, where they are known, rather than by
  -- the order's triggers, which skip an order of the session named in
  -- checkout.recording_order (they stay for any other writer): an alert on
  -- any of its parts has it born stopped and its payment owed back
  -- (14_disputes.sql), yet it is the order's; its confirmation email; the
  -- cart's paid fact.
  perform set_config('checkout.recording_order', s.id::text, true);
  insert into public.orders (
    order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
    payer, shipping_address, payment_type, payment_method, paid_late, financing_cost, do_not_ship
  ) values (
    s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
    s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_late, financing,
    exists (select 1 from checkout.fraud_alerts fa where fa.payment_id = any (parts || pid))
  ) returning * into o;
  perform set_config('checkout.recording_order', '', true);
  if o.do_not_ship then
    perform private.stop_delivery(o);
  end if;
  perform email.enqueue_confirmation(o);
  perform analytics.stamp_paid(s.session_id);
  -- Every part counted toward the session now belongs to the order.
  update checkout.order_payments set order_id = o.id where payment_id = any (parts);

  update public.order_sessions set status = 'paid', payment_id = pid, paid_at = now(), closed_at = now()
   where id = s.id;
  return o;
end
$$;
comment on function private.record_order(public.order_sessions, jsonb, boolean) is
  'The order of a session whose counted parts cover its total, without its stock: records the parts'' financing cost on the order, keeps its facts (born do_not_ship and stopped when a part had a fraud alert, its confirmation email, the cart''s paid_at: the orders triggers skip it), gives every part the order''s id and marks the session paid. Its callers take the stock (private.commit_order, private.commit_held_order).';
grant execute on function private.record_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.clear_bought(s public.order_sessions, o public.orders, p_payment_id bigint, p_late boolean)
returns void
language plpgsql set search_path = ''
as $$
begin
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
    'order_id', o.id, 'order_number', o.order_number, 'paid_late', p_late), p_payment_id);
end
$$;
comment on function private.clear_bought(public.order_sessions, public.orders, bigint, boolean) is
  'A committed order''s cart and log, which touch no variant: removes the bought units from the cart (anything added since stays) and logs committed.';
grant execute on function private.clear_bought(public.order_sessions, public.orders, bigint, boolean) to service_role;

create function private.finish_order(s public.order_sessions, o public.orders, p_payment_id bigint)
returns jsonb
language plpgsql set search_path = ''
as $$
begin
  -- After the stock: a line's foreign key share-locks its variant, which
  -- would stop another payment's lock of the variant (commit_held_order).
  insert into public.order_lines (order_id, line_no, variant_id, sku, title, unit_price, quantity, line_total)
  select o.id, ord::smallint, (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title',
         (l ->> 'unit_price')::numeric, (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
    from jsonb_array_elements(s.lines) with ordinality as t(l, ord);
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_created', 'payment_id', p_payment_id, 'session_status', 'paid',
                            'order', private.order_json(o));
end
$$;
comment on function private.finish_order(public.order_sessions, public.orders, bigint) is
  'The last step of a committed order, after its stock: copies the lines and answers {outcome order_created, order}.';
grant execute on function private.finish_order(public.order_sessions, public.orders, bigint) to service_role;

create function private.commit_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  o public.orders;
begin
  -- The caller checked the stock under the variant locks (short_lines), so
  -- the decrement cannot take stock_on_hand below zero.
  update public.variants v
     set stock_on_hand = v.stock_on_hand - l.quantity, updated_at = now()
    from jsonb_to_recordset(s.lines) as l(variant_id uuid, quantity integer)
   where v.id = any (array(select (x ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) x)) and v.id = l.variant_id;
  perform private.release_stock(array[s.id]);
  o := private.record_order(s, p_payment, p_late);
  perform private.clear_bought(s, o, (p_payment ->> 'id')::bigint, p_late);
  return private.finish_order(s, o, (p_payment ->> 'id')::bigint);
end
$$;
comment on function private.commit_order(public.order_sessions, jsonb, boolean) is
  'Creates the one order of a session whose stock was checked under the variant locks and whose counted parts cover its total: decrements stock_on_hand, releases the reservation, then private.record_order, private.clear_bought and private.finish_order.';
grant execute on function private.commit_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.commit_held_order(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders := private.record_order(s, p_payment, false);
  ids uuid[];
  quantities integer[];
  released integer;
  taken integer;
begin
  -- Whatever touches no variant comes before their lock, which is held until
  -- the commit: payments sharing a product queue on its row only for the
  -- decrement, the order's lines and the commit.
  perform private.clear_bought(s, o, pid, false);
  -- Locks by id, as everywhere; the ids as an array, so the variants are
  -- read through their key (a join with the lines' JSON was planned as a
  -- scan of every variant).
  select array_agg((l ->> 'variant_id')::uuid), array_agg((l ->> 'quantity')::integer) into ids, quantities
    from jsonb_array_elements(s.lines) l;
  perform 1 from public.variants v where v.id = any (ids) order by v.id for update;
  -- One statement releases the reservation and takes the stock, each line
  -- only while the session still holds it (an unexpired reservation) and it
  -- is on hand (short_lines' rule for a holder): a variant's row is written
  -- once, reserved lowered here rather than by the counter trigger, which
  -- leaves the session named in checkout.releasing_session to its caller.
  perform set_config('checkout.releasing_session', s.id::text, true);
  with held as (
    delete from checkout.stock_reservations r where r.order_session_id = s.id
    returning r.variant_id, r.quantity, r.expires_at
  ), bought as (
    update public.variants v
       set stock_on_hand = v.stock_on_hand - l.quantity, reserved = v.reserved - h.quantity, updated_at = now()
      from unnest(ids, quantities) as l(variant_id, quantity), held h
     where v.id = any (ids) and v.id = l.variant_id and h.variant_id = l.variant_id
       and h.expires_at > now() and v.stock_on_hand >= l.quantity
    returning 1
  )
  select (select count(*) from held), (select count(*) from bought) into released, taken;
  perform set_config('checkout.releasing_session', '', true);
  if taken < cardinality(ids) or released <> taken then
    -- Caught by settle_approved, which undoes this (the reservation
    -- included) and checks under the locks.
    raise exception 'order session % is short of a line', s.id using errcode = 'CKS90';
  end if;
  return private.finish_order(s, o, pid);
end
$$;
comment on function private.commit_held_order(public.order_sessions, jsonb) is
  'The order of an on-time session, its stock taken last: private.record_order and private.clear_bought, then the variants locked by id and, in one statement, the reservation released and each line decremented when the session still held it and it is on hand (short_lines'' rule for a holder), private.finish_order. Raises CKS90 when a line is short or the reservation is not exactly the lines (the caller undoes it and takes the locked path); never seen outside the database.';
grant execute on function private.commit_held_order(public.order_sessions, jsonb) to service_role;

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

  -- Parts add up (two cards). A payment of the whole total replaces parts
  -- still waiting for their partner: those are owed back.
  if amount = s.total then
    perform private.owe_refund(s, p.payment_id, p.amount, p.currency, 'unpaired_part') from private.counted_parts(s.id) p;
  end if;
  perform private.count_part(s, p_payment);
  -- A payment of the whole total is the one part left counted.
  if amount <> s.total and private.counted_amount(s.id) < s.total then
    -- Not an order yet; a part for goods another checkout of the cart
    -- already bought is owed back at once (with any part before it).
    if late and private.is_group_ordered(s) then
      return private.cannot_fulfil(s, pid, amount, cur, 'superseded');
    end if;
    return private.partly_paid(s, pid);
  end if;

  if late then
    -- Another session of this cart checkout became the order: this payment
    -- is the second one for the same goods.
    if private.is_group_ordered(s) then
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

  if not late then
    -- The common case: the order first, its stock last (commit_held_order).
    -- A short line undoes it here and goes the locked way below, which
    -- answers the shortfall.
    begin
      return private.commit_held_order(s, p_payment);
    exception when sqlstate 'CKS90' then
      null;
    end;
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
  'An approved payment for a session: a known or wrong payment (settle_known_payment); a part counted toward the session (count_part; a payment of the whole total replaces parts waiting, which are owed back as unpaired_part), not an order while the counted parts do not cover the total (outcome partly_paid; a late part of a superseded checkout is owed back at once); then a late one whose checkout group already has an order (superseded) or whose coupon was used up meanwhile; otherwise an on-time session''s order is committed with its stock taken last (private.commit_held_order), or, when a line is short there or the payment is late, the stock is checked under the variant locks (short_lines) and the order committed, taking over a newer unpaid session of the group, or the payment is refunded (out_of_stock late, stock_lowered on time). Never raises for a shortfall.';
grant execute on function private.settle_approved(public.order_sessions, jsonb) to service_role;

create function private.has_unrefunded_part(p_order_id uuid, p_except bigint)
returns boolean
language sql stable set search_path = ''
as $$
  select exists (select 1 from checkout.order_payments p
                  where p.order_id = p_order_id and p.payment_id <> p_except
                    and not exists (select 1 from checkout.payment_events pe where pe.payment_id = p.payment_id and pe.status = 'refunded'))
$$;
comment on function private.has_unrefunded_part(uuid, bigint) is
  'The order has a payment other than p_except that MercadoPago has not reported refunded.';
grant execute on function private.has_unrefunded_part(uuid, bigint) to service_role;

create function private.follow_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  st text := p_payment ->> 'status';
  refund_id text := nullif(p_payment ->> 'refund_id', '');
  o public.orders;
  hold jsonb;
begin
  select * into o from public.orders where order_session_id = s.id;
  -- Offline payments (12_offline_payments.sql): a pending ticket, ATM
  -- payment or transfer holds the stock until its deadline; a cancelled or
  -- rejected one ends its hold.
  if private.is_offline_type(p_payment ->> 'payment_type_id') then
    if st in ('pending', 'in_process') then
      hold := private.hold_offline_payment(s, p_payment);
      select * into s from public.order_sessions where id = s.id;
    elsif st in ('cancelled', 'rejected') then
      perform private.end_offline_payment(s, p_payment);
      select * into s from public.order_sessions where id = s.id;
    end if;
  end if;
  if st in ('refunded', 'charged_back', 'in_mediation') then
    if o.id is not null and exists (select 1 from checkout.order_payments p where p.payment_id = pid and p.order_id = o.id) then
      -- Forward only: a stale in_mediation after a refund changes nothing.
      -- An order paid in parts is refunded once every part is.
      if private.order_status_may_move(o.status, st::public.order_status)
         and (st <> 'refunded' or not private.has_unrefunded_part(o.id, pid)) then
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
                            'order', case when o.id is null then null else private.order_json(o) end)
         || case when hold is null then '{}'::jsonb else jsonb_build_object('offline_payment', hold) end;
end
$$;
comment on function private.follow_payment(public.order_sessions, jsonb) is
  'A payment that is not approved: refunded, charged_back and in_mediation of any of the order''s payments move the order''s status forward (refunded only once every part is); refunded settles a refund owed, or fills in MercadoPago''s refund id (p_payment ->> ''refund_id'') of one recorded without it; a pending or in_process offline payment holds the stock until its deadline (private.hold_offline_payment; the answer carries offline_payment), a cancelled or rejected one ends its hold (private.end_offline_payment); anything else is only recorded.';
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
