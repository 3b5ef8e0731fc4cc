-- A dashboard refund and its own notification deadlocked (40P01, a 500 with
-- the refund made at MercadoPago but left owed): the payment routine locks
-- the order session, then the order; admin.refund_order and
-- checkout.record_order_refund locked the order, then (log_event's foreign
-- key) the session. Both now lock the session first.

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
  -- The session, then the order: the payment routine's order of locks (the
  -- refund's own notification may be applied at the same time).
  perform 1 from public.order_sessions s where s.id = (select x.order_session_id from public.orders x where x.id = rf.order_id) for update;
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
  -- The session first, then the order: the payment routine's order of locks
  -- (a notification for one of the order's payments may be applied at the
  -- same time; the other order deadlocks, log_event's key-share lock on the
  -- session included).
  perform 1 from public.order_sessions s
   where s.id = (select x.order_session_id from public.orders x
                  where (ref ~ '^ORD-' and x.order_number = ref) or (ref !~ '^ORD-' and x.id::text = lower(ref)))
     for update;
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
