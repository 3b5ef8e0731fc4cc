-- Issue 23: partial refunds from the dashboard, by amount or by line, spread
-- over the order's payments (checkout.order_refunds, admin.refund_order,
-- checkout.record_order_refund); the order moves to partially_refunded or
-- refunded; the audit checks them. Mirrors 06, 07, 12 and 13.

comment on type public.order_status is
  'An order follows its payments: paid, then possibly in mediation, partially refunded (the store refunded part of it from the dashboard), refunded or charged back.';

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
  refunded_at timestamptz
);
comment on table checkout.order_refunds is
  'Refunds of part or all of an order the store keeps, asked from the dashboard (admin.refund_order) and spread over its payments: one row per payment and request, owed until MercadoPago confirms it (checkout.record_order_refund). Never more than a payment brought in. Service role only.';

create index order_refunds_order_idx on checkout.order_refunds (order_id);
create index order_refunds_payment_idx on checkout.order_refunds (payment_id);

alter table checkout.order_refunds enable row level security;
grant select, insert, update on checkout.order_refunds to service_role;

create or replace function private.order_status_may_move(p_from public.order_status, p_to public.order_status)
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

create or replace function checkout.record_order_refund(p_refund_id uuid, p_mp_refund_id text, p_error text default null)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  rf checkout.order_refunds;
  o public.orders;
  target public.order_status;
begin
  select * into rf from checkout.order_refunds where id = p_refund_id for update;
  if not found then
    raise exception 'no such refund' using errcode = 'CKO01', detail = jsonb_build_object('refund', p_refund_id)::text;
  end if;
  select * into o from public.orders where id = rf.order_id for update;
  if p_error is not null then
    update checkout.order_refunds set last_error = left(p_error, 500) where id = rf.id and status = 'owed' returning * into rf;
  elsif rf.status = 'owed' then
    update checkout.order_refunds set status = 'refunded', mp_refund_id = p_mp_refund_id, refunded_at = now(), last_error = null
     where id = rf.id returning * into rf;
    target := case when (select coalesce(sum(r.amount), 0) from checkout.order_refunds r where r.order_id = o.id and r.status = 'refunded') >= o.total
                   then 'refunded' else 'partially_refunded' end;
    if o.status <> target and private.order_status_may_move(o.status, target) then
      update public.orders set status = target where id = o.id returning * into o;
      perform private.log_event(o.order_session_id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', target), rf.payment_id);
    end if;
    perform private.log_event(o.order_session_id, 'refunded',
      jsonb_build_object('amount', rf.amount, 'currency', rf.currency, 'mp_refund_id', rf.mp_refund_id, 'order_id', o.id), rf.payment_id);
  end if;
  return jsonb_build_object('id', rf.id, 'payment_id', rf.payment_id::text, 'amount', rf.amount, 'currency', rf.currency,
                            'status', rf.status, 'mp_refund_id', rf.mp_refund_id, 'last_error', rf.last_error, 'order_status', o.status);
end
$$;
comment on function checkout.record_order_refund(uuid, text, text) is
  'Service role only. Records a dashboard refund (checkout.order_refunds) as made at MercadoPago, with its refund id, or the error that left it owed (p_error); idempotent. The order moves to partially_refunded, or refunded once its whole total is. CKO01 unknown refund.';
grant execute on function checkout.record_order_refund(uuid, text, text) to service_role;

create or replace function admin.refund_order(p_claims jsonb, p_order text, p_request jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  ref text := btrim(coalesce(p_order, ''));
  o public.orders;
  wanted numeric;
  left_total numeric;
  take numeric;
  part record;
  rf checkout.order_refunds;
  made jsonb := '[]'::jsonb;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(
    ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' or ref ~ '^ORD-\d{1,19}$',
    'order', 'the order must be an order id (uuid) or an order number (ORD-001234)');
  perform admin.check_input(jsonb_typeof(p_request) = 'object' and ((p_request ? 'amount') <> (p_request ? 'lines')),
    'request', 'give either amount or lines');
  select * into o from public.orders x
   where (ref ~ '^ORD-' and x.order_number = ref) or (ref !~ '^ORD-' and x.id::text = lower(ref))
     for update;
  if not found then
    raise exception 'no such order' using errcode = 'CKO01', detail = jsonb_build_object('order', ref)::text;
  end if;
  if p_request ? 'amount' then
    perform admin.check_input(jsonb_typeof(p_request -> 'amount') = 'number' and (p_request ->> 'amount')::numeric > 0
      and (p_request ->> 'amount')::numeric = round((p_request ->> 'amount')::numeric, 2), 'amount', 'amount must be a positive number of cents at most');
    wanted := (p_request ->> 'amount')::numeric;
  else
    perform admin.check_input(jsonb_typeof(p_request -> 'lines') = 'array' and jsonb_array_length(p_request -> 'lines') between 1 and 100
      and not exists (select 1 from jsonb_array_elements(p_request -> 'lines') l
                       where jsonb_typeof(l -> 'line_no') is distinct from 'number' or jsonb_typeof(l -> 'quantity') is distinct from 'number'
                          or (l ->> 'quantity')::numeric <> trunc((l ->> 'quantity')::numeric) or (l ->> 'quantity')::numeric < 1
                          or not exists (select 1 from public.order_lines ol where ol.order_id = o.id
                                          and ol.line_no::numeric = (l ->> 'line_no')::numeric and ol.quantity >= (l ->> 'quantity')::numeric)),
      'lines', 'each line must be {line_no, quantity} of this order, at most its quantity');
    select round(sum(ol.unit_price * (l ->> 'quantity')::numeric) * o.total / nullif(o.subtotal, 0), 2) into wanted
      from jsonb_array_elements(p_request -> 'lines') l
      join public.order_lines ol on ol.order_id = o.id and ol.line_no::numeric = (l ->> 'line_no')::numeric;
    wanted := coalesce(wanted, 0);
  end if;
  if o.currency in ('CLP', 'COP') and wanted <> trunc(wanted) then
    raise exception '% amounts are whole units', o.currency using errcode = 'CKM02', detail = jsonb_build_object('amount', wanted)::text;
  end if;
  select coalesce(sum(p.amount), 0) - coalesce((select sum(r.amount) from checkout.order_refunds r where r.order_id = o.id), 0)
    into left_total from checkout.order_payments p where p.order_id = o.id;
  if o.status in ('refunded', 'charged_back') or wanted > left_total then
    raise exception 'more than is left to refund' using errcode = 'CKO02',
      detail = jsonb_build_object('order', o.order_number, 'status', o.status, 'refundable', case when o.status in ('refunded', 'charged_back') then 0 else left_total end)::text;
  end if;
  for part in
    select p.payment_id, p.amount - coalesce((select sum(r.amount) from checkout.order_refunds r where r.payment_id = p.payment_id), 0) as remaining
      from checkout.order_payments p where p.order_id = o.id
     order by 2 desc, p.payment_id
  loop
    exit when wanted <= 0;
    take := least(wanted, part.remaining);
    continue when take <= 0;
    insert into checkout.order_refunds (order_id, payment_id, amount, currency, requested_by)
    values (o.id, part.payment_id, take, o.currency, nullif(p_claims ->> 'sub', '')::uuid)
    returning * into rf;
    made := made || jsonb_build_array(jsonb_build_object('id', rf.id, 'payment_id', rf.payment_id::text, 'amount', rf.amount, 'currency', rf.currency));
    wanted := wanted - take;
  end loop;
  perform private.log_event(o.order_session_id, 'refund_owed', jsonb_build_object('order_id', o.id, 'refunds', made, 'by', p_claims ->> 'sub'));
  return jsonb_build_object('order_number', o.order_number, 'refunds', made);
end
$$;
comment on function admin.refund_order(jsonb, text, jsonb) is
  'Service role only, staff claims required. Owes back part or all of an order: p_request {"amount": n} or {"lines": [{"line_no", "quantity"}]} (a line''s share of the discount taken off), spread over the order''s payments (the most left to refund first; never more than a payment brought in). Returns {order_number, refunds: [{id, payment_id, amount, currency}]}; the admin function makes each at MercadoPago and calls checkout.record_order_refund. CKI01 malformed, CKO01 unknown order, CKO02 more than is left to refund (detail refundable), CKM02 cents in CLP or COP.';
grant execute on function admin.refund_order(jsonb, text, jsonb) to service_role;

create or replace function admin.order_detail(p_claims jsonb, p_order text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  o public.orders;
  ref text := btrim(coalesce(p_order, ''));
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(
    ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' or ref ~ '^ORD-\d{1,19}$',
    'order', 'the order must be an order id (uuid) or an order number (ORD-001234)');
  if ref ~ '^ORD-' then
    select * into o from public.orders x where x.order_number = ref;
  else
    select * into o from public.orders x where x.id = ref::uuid;
  end if;
  if not found then
    raise exception 'no such order' using errcode = 'CKO01', detail = jsonb_build_object('order', ref)::text;
  end if;
  return private.order_json(o) || jsonb_build_object(
    'payment_id', o.payment_id::text,
    'payment_type', o.payment_type,
    'payment_method', o.payment_method,
    'updated_at', o.updated_at,
    -- May the payer's address get cart reminders (11_email_outbox.sql)?
    'marketing_consent', email.marketing_consent(o.session_id, o.payer ->> 'email'),
    'payments', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pe.payment_id::text, 'status', pe.status, 'status_detail', pe.status_detail,
        'amount', pe.transaction_amount, 'currency', pe.currency, 'payment_type', pe.payment_type,
        'payment_method', pe.payment_method, 'received_at', pe.received_at) order by pe.received_at, pe.id), '[]'::jsonb)
        from checkout.payment_events pe
       where pe.order_session_id = o.order_session_id or pe.payment_id = o.payment_id
    ),
    -- What the store keeps: the price, less MercadoPago's fees. The buyer's
    -- financing cost (installments with interest) is MercadoPago's, not income.
    'money', (
      select jsonb_build_object(
        'total', o.total, 'currency', o.currency, 'financing_cost', o.financing_cost,
        'fees', coalesce(sum(p.fees), 0), 'net', o.total - coalesce(sum(p.fees), 0),
        'parts', coalesce(jsonb_agg(jsonb_build_object(
          'payment_id', p.payment_id::text, 'amount', p.amount, 'installments', p.installments,
          'financing_cost', p.financing_cost, 'fees', p.fees) order by p.approved_at, p.payment_id)
          filter (where p.payment_id is not null), '[]'::jsonb))
        from checkout.order_payments p where p.order_id = o.id
    ),
    -- The store's own refunds of this order (partial or whole), per payment.
    'order_refunds', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', r.id, 'payment_id', r.payment_id::text, 'amount', r.amount, 'currency', r.currency, 'status', r.status,
        'mp_refund_id', r.mp_refund_id, 'last_error', r.last_error, 'created_at', r.created_at, 'refunded_at', r.refunded_at)
        order by r.created_at, r.payment_id), '[]'::jsonb)
        from checkout.order_refunds r where r.order_id = o.id
    ),
    'refunds', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'payment_id', pr.payment_id::text, 'amount', pr.amount, 'currency', pr.currency, 'reason', pr.reason,
        'status', pr.status, 'mp_refund_id', pr.mp_refund_id, 'created_at', pr.created_at, 'refunded_at', pr.refunded_at)
        order by pr.created_at), '[]'::jsonb)
        from checkout.payment_refunds pr where pr.order_session_id = o.order_session_id
    ),
    'session', (
      select jsonb_build_object('id', s.id, 'token', s.token, 'status', s.status, 'created_at', s.created_at,
                                'expires_at', s.expires_at, 'paid_at', s.paid_at, 'preference_id', s.preference_id)
        from public.order_sessions s where s.id = o.order_session_id
    ),
    'events', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', e.id, 'kind', e.kind, 'payment_id', e.payment_id::text, 'detail', e.detail, 'created_at', e.created_at) order by e.id), '[]'::jsonb)
        from checkout.order_session_events e where e.order_session_id = o.order_session_id
    )
  );
end
$$;
comment on function admin.order_detail(jsonb, text) is
  'Service role only, staff claims required. One order by id or order number: its lines, payer, shipping address, MercadoPago payment id, the payment statuses seen (status history), money (total, the buyer''s financing cost, MercadoPago''s fees, net = total - fees, and each payment counted toward the order with its installments), order_refunds (the store''s partial or whole refunds, per payment), refunds, the order session''s event log, and whether the payer''s address may get cart reminders (marketing_consent, email.marketing_consent). CKI01 for a malformed reference, CKO01 for an unknown one.';
grant execute on function admin.order_detail(jsonb, text) to service_role;

create or replace function checkout.audit()
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(v order by v ->> 'invariant', v ->> 'subject'), '[]'::jsonb)
    from (
      -- variants.reserved is the sum of its reservation rows
      select jsonb_build_object('invariant', 'reserved_counter_mismatch', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'reserved', v.reserved, 'reservation_rows', coalesce(r.units, 0))) as v
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations group by variant_id) r on r.variant_id = v.id
       where v.reserved <> coalesce(r.units, 0)
      union all
      -- no stock below zero, and no more units promised than are on hand
      select jsonb_build_object('invariant', 'stock_below_zero', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'stock_on_hand', v.stock_on_hand,
                                                             'unexpired_reservations', coalesce(r.units, 0)))
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations
                    where expires_at > now() group by variant_id) r on r.variant_id = v.id
       where v.stock_on_hand < 0 or v.reserved < 0 or v.stock_on_hand < coalesce(r.units, 0)
      union all
      -- every approved payment has an order or a refund (those matching no
      -- session included: money that arrived for nothing we know)
      select jsonb_build_object('invariant', 'approved_payment_unsettled', 'subject', pe.payment_id::text,
                                'detail', jsonb_build_object('payment_id', pe.payment_id, 'order_session_id', pe.order_session_id,
                                                             'external_reference', pe.external_reference, 'amount', pe.transaction_amount,
                                                             'currency', pe.currency, 'received_at', pe.received_at,
                                                             'matches_no_session', pe.order_session_id is null))
        from checkout.payment_events pe
       where pe.status = 'approved'
         and not exists (select 1 from checkout.order_payments p where p.payment_id = pe.payment_id and p.order_id is not null)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
         -- a part of a two-card payment may wait for the rest until its hold has ended
         and not exists (select 1 from checkout.order_payments p join public.order_sessions s on s.id = p.order_session_id
                          where p.payment_id = pe.payment_id and p.order_id is null and s.expires_at > now() - interval '1 hour')
      union all
      -- and never both: a payment in an order is not also owed back (but for
      -- a fraud alert's, which stops the order and returns its money)
      select jsonb_build_object('invariant', 'payment_in_order_and_refunded', 'subject', p.payment_id::text,
                                'detail', jsonb_build_object('payment_id', p.payment_id, 'order_id', p.order_id, 'reason', r.reason))
        from checkout.order_payments p
        join checkout.payment_refunds r on r.payment_id = p.payment_id
       where p.order_id is not null and r.reason <> 'fraud_alert'
      union all
      -- every order's payments were approved and add up to its total, in its currency
      select jsonb_build_object('invariant', 'order_without_approved_payment', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'payment_id', o.payment_id))
        from public.orders o
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = o.payment_id and pe.status = 'approved')
          or exists (select 1 from checkout.order_payments p where p.order_id = o.id
                      and not exists (select 1 from checkout.payment_events pe where pe.payment_id = p.payment_id and pe.status = 'approved'))
      union all
      select jsonb_build_object('invariant', 'order_parts_mismatch', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'total', o.total, 'currency', o.currency,
                                                             'paid', coalesce(p.paid, 0), 'currencies', p.currencies))
        from public.orders o
        left join (select order_id, sum(amount) as paid, jsonb_agg(distinct currency) as currencies
                     from checkout.order_payments where order_id is not null group by order_id) p on p.order_id = o.id
       where p.paid is distinct from o.total or p.currencies is distinct from jsonb_build_array(o.currency)
      union all
      -- a refund never exceeds what the payment's approval brought in
      select jsonb_build_object('invariant', 'refund_exceeds_payment', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'refund', r.amount, 'paid', pe.transaction_amount))
        from checkout.payment_refunds r
        join checkout.payment_events pe on pe.payment_id = r.payment_id and pe.status = 'approved'
       where r.amount > pe.transaction_amount
      union all
      select jsonb_build_object('invariant', 'refund_exceeds_payment', 'subject', p.payment_id::text,
                                'detail', jsonb_build_object('payment_id', p.payment_id, 'refund', x.refunded, 'paid', p.amount))
        from checkout.order_payments p
        join (select payment_id, sum(amount) as refunded from checkout.order_refunds group by payment_id) x on x.payment_id = p.payment_id
       where x.refunded > p.amount
      union all
      -- one order per cart checkout (the sessions of a checkout group)
      select jsonb_build_object('invariant', 'two_orders_one_checkout', 'subject', s.checkout_group::text,
                                'detail', jsonb_build_object('orders', jsonb_agg(o.order_number order by o.order_number)))
        from public.orders o
        join public.order_sessions s on s.id = o.order_session_id
       group by s.checkout_group
      having count(*) > 1
      union all
      -- one order per merged cart: a checkout that a cart merge cancelled
      -- became an order (so it was paid late), and so did another checkout
      -- of the account that was open at the merge or begun after it, no
      -- later than that order. Read from the event log and the merges, not
      -- from the checkout groups. (The merge is the account's latest one
      -- that began before the cancellation was logged.)
      select jsonb_build_object('invariant', 'two_orders_one_merged_cart', 'subject', oc.order_number,
                                'detail', jsonb_build_object('account_id', c.session_id, 'merged_checkout', c.id,
                                                             'merged_at', mg.merged_at,
                                                             'orders', to_jsonb(array[oc.order_number] || array_agg(o2.order_number order by o2.order_number))))
        from public.orders oc
        join public.order_sessions c on c.id = oc.order_session_id
        join lateral (select max(m.merged_at) as merged_at
                        from checkout.cart_merges m
                       where m.account_id = c.session_id
                         and m.merged_at <= (select min(ev.created_at) from checkout.order_session_events ev
                                              where ev.order_session_id = c.id and ev.kind = 'cancelled'
                                                and ev.detail ->> 'reason' = 'merged into an account')) mg on mg.merged_at is not null
        join public.order_sessions n on n.session_id = c.session_id and n.id <> c.id and n.created_at <= oc.created_at
                                    and coalesce(n.closed_at, 'infinity'::timestamptz) >= mg.merged_at
        join public.orders o2 on o2.order_session_id = n.id
       where oc.paid_late
       group by oc.order_number, c.session_id, c.id, mg.merged_at
      union all
      -- a session marked paid has its order; closed sessions hold no stock
      select jsonb_build_object('invariant', 'paid_session_without_order', 'subject', s.id::text, 'detail', jsonb_build_object('token', s.token))
        from public.order_sessions s
       where s.status = 'paid' and not exists (select 1 from public.orders o where o.order_session_id = s.id)
      union all
      select jsonb_build_object('invariant', 'closed_session_holds_stock', 'subject', s.id::text,
                                'detail', jsonb_build_object('status', s.status))
        from public.order_sessions s
       where s.status <> 'active' and exists (select 1 from checkout.stock_reservations r where r.order_session_id = s.id)
      union all
      -- refunds owed are made within the hour
      select jsonb_build_object('invariant', 'refund_owed_over_1h', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'order_session_id', r.order_session_id,
                                                             'reason', r.reason, 'amount', r.amount, 'currency', r.currency,
                                                             'owed_since', r.created_at, 'attempts', r.attempts, 'last_error', r.last_error))
        from checkout.payment_refunds r
       where r.status = 'owed' and r.created_at < now() - interval '1 hour'
      union all
      -- a fraud-alerted order is stopped and its money owed back or returned
      -- (14_disputes.sql)
      select jsonb_build_object('invariant', 'fraud_alert_not_acted', 'subject', o.order_number,
                                'detail', jsonb_build_object('payment_id', fa.payment_id, 'order_id', o.id, 'do_not_ship', o.do_not_ship,
                                                             'status', o.status, 'alerted_at', fa.created_at))
        from checkout.fraud_alerts fa
        join public.orders o on o.payment_id = fa.payment_id
       where not o.do_not_ship
          or (o.status not in ('refunded', 'charged_back')
              and not exists (select 1 from checkout.payment_refunds r where r.payment_id = fa.payment_id))
      union all
      -- every dispute is about a payment we saw
      select jsonb_build_object('invariant', 'dispute_without_payment', 'subject', d.kind || ' ' || d.mp_id,
                                'detail', jsonb_build_object('payment_id', d.payment_id, 'status', d.status))
        from checkout.disputes d
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = d.payment_id)
      union all
      -- fraud alerts, chargebacks and claims are acted on within the hour
      select jsonb_build_object('invariant', 'notification_unprocessed_over_1h', 'subject', n.topic || ' ' || n.resource_id,
                                'detail', jsonb_build_object('id', n.id, 'received_at', n.received_at, 'attempts', n.attempts,
                                                             'last_error', n.last_error))
        from checkout.mp_notifications n
       where n.processed_at is null and n.received_at < now() - interval '1 hour'
    ) x(v)
$$;
comment on function checkout.audit() is
  'Service role only (and GET /order-sessions-admin/audit). Every violation of the money and stock invariants, as [{invariant, subject, detail}]; empty when all hold: reserved_counter_mismatch, stock_below_zero (also fewer units on hand than unexpired reservations), approved_payment_unsettled (in no order and owed back by no refund, once a part of a two-card payment has waited an hour past its session''s hold; matches_no_session for money that arrived for nothing we know), payment_in_order_and_refunded (but for a fraud alert''s refund), order_without_approved_payment (also a part of the order without an approval), order_parts_mismatch (the order''s payments do not add up to its total in its currency), refund_exceeds_payment (a refund owed, or the dashboard''s refunds of a payment, more than it brought in), two_orders_one_checkout, two_orders_one_merged_cart (an order from a checkout a cart merge cancelled, and another from a checkout of the account open at the merge or begun after it, before that order), paid_session_without_order, closed_session_holds_stock, refund_owed_over_1h, fraud_alert_not_acted (a fraud-alerted order not do_not_ship, or neither refunded, charged back nor owed back), dispute_without_payment (a chargeback or claim on a payment never applied), notification_unprocessed_over_1h (a stored fraud alert, chargeback or claim not acted on).';
grant execute on function checkout.audit() to service_role;
