-- Issue 23, money: payments per order session (two cards), installments.
-- The approved payments counted toward a session (checkout.order_payments),
-- the order's financing cost, parts that add up, the unpaired part's refund,
-- and the audit's new invariants. Mirrors 06, 07, 12 and 13 in supabase/schemas.
-- Numbered after 20261208040000_disputes_and_fraud, which redefines
-- order_json and the refund reasons that this carries forward (the audit and
-- the order's detail: 20261208046200_partial_refunds).

alter table public.orders
  add column financing_cost numeric(12, 2) not null default 0 check (financing_cost >= 0);

comment on column public.orders.payment_id is
  'The approved payment that completed the order (with two cards, the part that made the approved total cover the session''s total). Every part, this one included, is in checkout.order_payments with this order''s id.';

comment on column public.orders.financing_cost is
  'What the buyer paid on top of the price for installments with interest (total_paid_amount - transaction_amount, summed over the payments): MercadoPago''s, never the store''s income.';


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
create index order_payments_order_idx on checkout.order_payments (order_id);

alter table checkout.order_payments enable row level security;
grant select, insert, update on checkout.order_payments to service_role;


-- Orders made before this change were paid by one payment each.
insert into checkout.order_payments (payment_id, order_session_id, order_id, amount, currency, approved_at)
select o.payment_id, o.order_session_id, o.id, o.total, o.currency, o.created_at
  from public.orders o
on conflict (payment_id) do nothing;

alter table checkout.payment_refunds drop constraint payment_refunds_reason_check;
alter table checkout.payment_refunds add constraint payment_refunds_reason_check check (reason in (
  'out_of_stock', 'amount_mismatch', 'duplicate_payment', 'coupon_used_up', 'stock_lowered', 'superseded', 'fraud_alert', 'unpaired_part'));

comment on column checkout.payment_refunds.reason is
  'Why the payment is owed back: out_of_stock (paid late, no stock), stock_lowered (paid on time, but the store lowered stock below the reservation), coupon_used_up, superseded (another session of the same cart checkout became the order), amount_mismatch (wrong currency, or more than the session''s total with the parts already approved), duplicate_payment, fraud_alert (MercadoPago''s fraud alert for the order''s payment: 14_disputes.sql), unpaired_part (a part of a two-card payment whose other part never came before the hold ended, or that a payment of the whole total replaced).';


create or replace function private.order_json(o public.orders)
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


create or replace function private.check_payment(p_payment jsonb)
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


create or replace function private.counted_parts(p_order_session_id uuid)
returns setof checkout.order_payments
language sql stable set search_path = ''
as $$
  select p.*
    from checkout.order_payments p
   where p.order_session_id = p_order_session_id and p.order_id is null
     and not exists (select 1 from checkout.payment_refunds r where r.payment_id = p.payment_id)
$$;
comment on function private.counted_parts(uuid) is
  'The approved parts that count toward an order session and wait for the rest: in checkout.order_payments, without an order and not owed back.';
grant execute on function private.counted_parts(uuid) to service_role;


create or replace function private.counted_amount(p_order_session_id uuid)
returns numeric
language sql stable set search_path = ''
as $$
  select coalesce(sum(p.amount), 0) from private.counted_parts(p_order_session_id) p
$$;
comment on function private.counted_amount(uuid) is
  'What the parts counted toward an order session add up to (private.counted_parts).';
grant execute on function private.counted_amount(uuid) to service_role;


create or replace function private.count_part(s public.order_sessions, p_payment jsonb)
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


create or replace function private.partly_paid(s public.order_sessions, p_payment_id bigint)
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


create or replace function private.is_group_ordered(s public.order_sessions)
returns boolean
language sql stable set search_path = ''
as $$
  select exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                  where g.checkout_group = s.checkout_group and g.id <> s.id)
$$;
comment on function private.is_group_ordered(public.order_sessions) is
  'Another order session of the same cart checkout (checkout group) became an order: a payment for this one pays for goods already bought.';
grant execute on function private.is_group_ordered(public.order_sessions) to service_role;


create or replace function private.settle_known_payment(s public.order_sessions, p_payment jsonb)
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


create or replace function private.commit_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders;
  financing numeric;
  parts bigint[];
begin
  -- The caller checked the stock under the variant locks (short_lines), so
  -- the decrement cannot take stock_on_hand below zero.
  update public.variants v
     set stock_on_hand = v.stock_on_hand - (l ->> 'quantity')::integer, updated_at = now()
    from jsonb_array_elements(s.lines) l
   where v.id = (l ->> 'variant_id')::uuid;
  perform private.release_stock(array[s.id]);

  -- Read before the insert: an order whose payment had a fraud alert is born
  -- stopped and its payment owed back (14_disputes.sql), yet it is the order's.
  select coalesce(sum(p.financing_cost), 0), array_agg(p.payment_id) into financing, parts from private.counted_parts(s.id) p;
  insert into public.orders (
    order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
    payer, shipping_address, payment_type, payment_method, paid_late, financing_cost
  ) values (
    s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
    s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_late, financing
  ) returning * into o;
  -- Every part counted toward the session now belongs to the order.
  update checkout.order_payments set order_id = o.id where payment_id = any (parts);

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
  'Creates the one order of a session whose stock was checked under the variant locks and whose counted parts cover its total: decrements stock_on_hand, releases the reservation, records the parts'' financing cost on the order and gives every part the order''s id, copies the lines, marks the session paid and removes the bought units from the cart.';
grant execute on function private.commit_order(public.order_sessions, jsonb, boolean) to service_role;


create or replace function private.settle_approved(s public.order_sessions, p_payment jsonb)
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
  if private.counted_amount(s.id) < s.total then
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
  'An approved payment for a session: a known or wrong payment (settle_known_payment); a part counted toward the session (count_part; a payment of the whole total replaces parts waiting, which are owed back as unpaired_part), not an order while the counted parts do not cover the total (outcome partly_paid; a late part of a superseded checkout is owed back at once); then a late one whose checkout group already has an order (superseded) or whose coupon was used up meanwhile; otherwise the stock is checked under the variant locks (short_lines) and the order committed, taking over a newer unpaid session of the group, or the payment is refunded (out_of_stock late, stock_lowered on time). Never raises for a shortfall.';
grant execute on function private.settle_approved(public.order_sessions, jsonb) to service_role;


create or replace function private.has_unrefunded_part(p_order_id uuid, p_except bigint)
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


create or replace function private.follow_payment(s public.order_sessions, p_payment jsonb)
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
                            'order', case when o.id is null then null else private.order_json(o) end);
end
$$;
comment on function private.follow_payment(public.order_sessions, jsonb) is
  'A payment that is not approved: refunded, charged_back and in_mediation of any of the order''s payments move the order''s status forward (refunded only once every part is); refunded settles a refund owed, or fills in MercadoPago''s refund id (p_payment ->> ''refund_id'') of one recorded without it; anything else is only recorded.';
grant execute on function private.follow_payment(public.order_sessions, jsonb) to service_role;


create or replace function private.cannot_fulfil(
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
  answer jsonb;
  others jsonb;
begin
  perform private.release_stock(array[s.id]);
  update public.order_sessions set status = 'refund_owed', payment_id = p_payment_id, paid_at = now(), closed_at = now()
   where id = s.id returning * into closed;
  answer := jsonb_build_object('order_session_id', closed.id, 'outcome', 'refund_owed', 'payment_id', p_payment_id,
                               'session_status', closed.status,
                               'refund', private.owe_refund(closed, p_payment_id, p_amount, p_currency, p_reason, p_detail));
  -- Every other part counted toward the session is owed back too.
  select jsonb_agg(private.owe_refund(closed, p.payment_id, p.amount, p.currency, p_reason, p_detail) order by p.payment_id) into others
    from private.counted_parts(s.id) p
   where p.payment_id <> p_payment_id;
  if others is not null then
    answer := answer || jsonb_build_object('parts_refunded', others);
  end if;
  return answer || coalesce(p_detail, '{}');
end
$$;
comment on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) is
  'The one "cannot fulfil" path for an approved payment of the right amount: releases the session''s stock, moves it to refund_owed and records the refund owed (out_of_stock, stock_lowered, coupon_used_up, superseded, unpaired_part) for this payment and every other part counted toward the session (listed as parts_refunded). The caller holds the session''s lock.';
grant execute on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) to service_role;


create or replace function checkout.record_refund(p_payment_id bigint, p_mp_refund_id text)
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
    -- A session owed back is refunded once every refund owed for it is made.
    if s.status = 'refund_owed'
       and not exists (select 1 from checkout.payment_refunds o where o.order_session_id = s.id and o.status = 'owed') then
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
  'Service role only. Records that an owed refund was made in MercadoPago (idempotent; a later call with MercadoPago''s refund id fills it in when the first had none); a session paid without stock moves to refunded once no refund for it is owed (all its parts refunded).';
grant execute on function checkout.record_refund(bigint, text) to service_role;


create or replace function checkout.refund_unpaired_parts(
  p_grace interval default interval '30 minutes',
  p_limit integer default 50
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  s public.order_sessions;
  first checkout.order_payments;
  done jsonb := '[]'::jsonb;
begin
  -- Claimed under the session's lock (skip locked: a payment being applied
  -- right now decides first; the next run sees what it left).
  for s in
    select os.* from public.order_sessions os
     where os.status in ('active', 'expired', 'cancelled')
       and os.expires_at + greatest(coalesce(p_grace, interval '0'), interval '0') <= now()
       and private.counted_amount(os.id) > 0
     order by os.expires_at
     limit greatest(least(coalesce(p_limit, 50), 500), 1)
       for update skip locked
  loop
    select p.* into first from private.counted_parts(s.id) p order by p.payment_id limit 1;
    done := done || jsonb_build_array(private.cannot_fulfil(s, first.payment_id, first.amount, first.currency, 'unpaired_part',
      jsonb_build_object('paid', private.counted_amount(s.id), 'expected', s.total)));
  end loop;
  return done;
end
$$;
comment on function checkout.refund_unpaired_parts(interval, integer) is
  'Service role only (reconcile function). Order sessions whose hold ended more than p_grace ago with approved parts that never covered the total (a second card rejected or never paid): each is closed as refund_owed and every part waiting is owed back (reason unpaired_part), once (claimed under the session''s lock). Returns the cannot_fulfil answers.';
grant execute on function checkout.refund_unpaired_parts(interval, integer) to service_role;


create or replace function checkout.claim_reconciliation(
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
       and (not exists (select 1 from checkout.payment_events pe where pe.order_session_id = s.id and pe.status = 'approved')
            or private.counted_amount(s.id) > 0)
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
  'Service role only (reconcile function). Claims up to p_limit order sessions that could have been paid without a notification reaching us (active, or expired/cancelled within p_window, with a preference and no approved payment applied, or approved parts waiting for the rest) and moves their next check forward with exponential back-off (1 minute doubling, at most 6 hours). Returns [{order_session_id, token, status, checks}].';
grant execute on function checkout.claim_reconciliation(interval, integer) to service_role;


create or replace function checkout.stats()
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
       and not exists (select 1 from checkout.order_payments p where p.payment_id = pe.payment_id)
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


create or replace function admin.orders(
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
    when digits is not null then '(o.order_number = ''ORD-'' || lpad($2, 6, ''0'') or o.id = (select p.order_id from checkout.order_payments p where p.payment_id = $2::bigint))'
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
  'Service role only, staff claims required. A page of orders, newest first, after the keyset cursor (created_at, id) of the previous page''s last row; optionally searched by order number (ORD-001234 or 1234), MercadoPago payment id (digits: any of the order''s payments, two with two cards) or payer email (case-insensitive prefix). Returns {orders, next} where next is the cursor of the following page or null.';
grant execute on function admin.orders(jsonb, text, timestamptz, uuid, integer) to service_role;
