-- Issue 23: disputes and fraud meet payments per order session (two cards).
-- A fraud alert on either part finds the order and owes every part back its
-- own amount (less what the store already refunded of it); an alert on a
-- part that waited for the other makes the order born do_not_ship; a
-- chargeback or claim on either part is linked to the order; the dashboard's
-- fraud list shows it. Mirrors 14_disputes.sql.

create or replace function private.stop_delivery(o public.orders)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  s public.order_sessions;
  parts bigint[];
  refunds jsonb;
begin
  if not o.do_not_ship then
    update public.orders set do_not_ship = true where id = o.id returning * into o;
  end if;
  -- The order's payments (two cards: every part): those with its id, or,
  -- while it is being born (the after-insert trigger), the parts counted
  -- toward its session, which get its id right after. An order from before
  -- checkout.order_payments has none: its one payment, for its total.
  select coalesce(array_agg(p.payment_id order by p.payment_id), '{}') into parts
    from checkout.order_payments p where p.order_id = o.id;
  if parts = '{}' then
    select coalesce(array_agg(p.payment_id order by p.payment_id), '{}') into parts
      from private.counted_parts(o.order_session_id) p;
  end if;
  -- The money goes back through the refunds owed (made by the function at
  -- once, retried by reconcile), unless MercadoPago already took it back:
  -- each part its own amount, less what the store already refunded of it; a
  -- part already owed back is left as it is.
  if o.status not in ('refunded', 'charged_back') then
    select * into s from public.order_sessions where id = o.order_session_id;
    if parts = '{}' then
      refunds := jsonb_build_array(private.owe_refund(s, o.payment_id, o.total, o.currency, 'fraud_alert'));
    else
      select jsonb_agg(private.owe_refund(s, p.payment_id, p.amount - coalesce(x.refunded, 0), p.currency, 'fraud_alert') order by p.payment_id)
        into refunds
        from checkout.order_payments p
        left join (select r.payment_id, sum(r.amount) as refunded from checkout.order_refunds r
                    where r.payment_id = any (parts) group by r.payment_id) x on x.payment_id = p.payment_id
       where p.payment_id = any (parts) and p.amount > coalesce(x.refunded, 0)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = p.payment_id);
    end if;
  end if;
  -- Every member of staff is told, once per order.
  insert into email.outbox (kind, session_id, recipient, order_id)
  select 'fraud_alert', o.session_id, lower(u.email), o.id
    from auth.users u
   where u.raw_app_meta_data ->> 'store_role' = 'staff' and not coalesce(u.is_anonymous, false)
     and u.email ~ '^[^@\s]+@[^@\s]+$' and length(u.email) <= 254
  on conflict (order_id, recipient) where kind = 'fraud_alert' do nothing;
  update checkout.fraud_alerts set order_id = o.id, acted_at = coalesce(acted_at, now())
   where payment_id = o.payment_id or payment_id = any (parts);
  return jsonb_build_object('order', private.order_json(o), 'refunds', coalesce(refunds, '[]'::jsonb));
end
$$;
comment on function private.stop_delivery(public.orders) is
  'The one "do not ship" path of a fraud-alerted order: marks it do_not_ship (forward only), owes every payment of the order back (reason fraud_alert; with two cards each part its own amount less what the store already refunded of it, a part already owed back left as it is; an order without parts in checkout.order_payments its payment for its total; nothing when already refunded or charged back), queues one fraud_alert email per member of staff, and notes the alerts on any of its payments acted on. Returns {order, refunds: the refunds owed now}.';

create or replace function checkout.apply_fraud_alert(p_payment jsonb, p_description text default null)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  pid bigint;
  o public.orders;
  stopped jsonb;
begin
  if jsonb_typeof(p_payment -> 'id') is distinct from 'number' or (p_payment ->> 'id') !~ '^[1-9][0-9]{0,17}$' then
    raise exception 'a fraud alert needs the payment as MercadoPago has it' using errcode = 'CKI01';
  end if;
  pid := (p_payment ->> 'id')::bigint;
  -- apply_payment holds this lock while it creates an order: either the
  -- order exists once we have it, or the order's insert sees the alert.
  perform 1 from public.order_sessions s where s.token = p_payment ->> 'external_reference' for update;
  insert into checkout.fraud_alerts (payment_id, description)
  values (pid, left(p_description, 500))
  on conflict (payment_id) do nothing;
  -- The order of any of its payments (two cards: not only the part that
  -- completed it).
  select * into o from public.orders
   where payment_id = pid or id = (select p.order_id from checkout.order_payments p where p.payment_id = pid)
     for update;
  if o.id is null then
    return jsonb_build_object('outcome', 'alert_recorded', 'payment_id', pid);
  end if;
  stopped := private.stop_delivery(o);
  -- refund: this payment's (the webhook makes it at once; reconcile makes
  -- the other parts').
  return jsonb_build_object('outcome', 'order_stopped', 'payment_id', pid) || stopped || jsonb_build_object('refund', (
    select jsonb_build_object('payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
                              'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id)
      from checkout.payment_refunds r where r.payment_id = pid));
end
$$;
comment on function checkout.apply_fraud_alert(jsonb, text) is
  'Service role only (the webhook''s inbox). A MercadoPago fraud alert for a payment (as fetched from MercadoPago): recorded once; its order (the order of any of its payments, with two cards either part) is stopped (private.stop_delivery): do_not_ship, every part owed back, staff emailed. A payment without an order yet (pending, being settled, a part waiting for the other) keeps the alert: its order is born do_not_ship and refunded (trigger orders_fraud_alerted). Returns {outcome: order_stopped | alert_recorded, payment_id, order?, refund? (this payment''s), refunds? (owed now)}.';

create or replace function private.flag_fraud_alerted_order()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  if tg_op = 'INSERT' and tg_when = 'BEFORE' then
    -- An alert on any part counted toward the session (two cards: one may
    -- have come while the first part waited for the second).
    if exists (select 1 from checkout.fraud_alerts fa
                where fa.payment_id = new.payment_id
                   or fa.payment_id in (select p.payment_id from private.counted_parts(new.order_session_id) p)) then
      new.do_not_ship := true;
    end if;
    return new;
  end if;
  perform private.stop_delivery(new);
  return null;
end
$$;
comment on function private.flag_fraud_alerted_order() is
  'Trigger: an order any of whose payments (parts) had a fraud alert is born do_not_ship (before insert), and is stopped (private.stop_delivery: refund owed, staff emailed) once it exists (after insert).';

create or replace function checkout.record_dispute(p_kind text, p_resource jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  r jsonb := p_resource;
  v_id text := r ->> 'id';
  v_payment text;
  v_status text;
  v_stage text;
  v_doc text;
  d checkout.disputes;
begin
  if p_kind is null or p_kind not in ('chargeback', 'claim') or jsonb_typeof(r) is distinct from 'object'
     or v_id is null or v_id !~ '^[A-Za-z0-9_-]{1,64}$' then
    raise exception 'not a MercadoPago chargeback or claim' using errcode = 'CKI01';
  end if;
  if p_kind = 'chargeback' then
    v_payment := coalesce(r ->> 'payment_id', r -> 'payments' ->> 0);
    v_doc := r ->> 'documentation_status';
    -- MercadoPago closes a chargeback by applying (or not) its coverage.
    v_status := coalesce(r ->> 'status', case when r -> 'coverage_applied' is null or r -> 'coverage_applied' = 'null' then 'opened' else 'closed' end);
  else
    v_payment := case when coalesce(r ->> 'resource', 'payment') = 'payment' then r ->> 'resource_id' end;
    v_stage := case when r ->> 'stage' in ('claim', 'dispute') then r ->> 'stage' end;
    v_status := r ->> 'status';
  end if;
  if v_payment is null or v_payment !~ '^[1-9][0-9]{0,17}$' or v_status is null or v_status not in ('opened', 'closed')
     or (v_doc is not null and v_doc not in ('pending', 'review_pending', 'valid', 'not_supplied', 'not_required')) then
    raise exception 'the % % names no payment or has an unknown status', p_kind, v_id using errcode = 'CKI01',
      detail = jsonb_build_object('payment_id', v_payment, 'status', v_status, 'documentation_status', v_doc)::text;
  end if;

  insert into checkout.disputes as x (
    kind, mp_id, payment_id, order_id, status, stage, coverage_eligible, coverage_applied,
    documentation_required, documentation_status, deadline, amount, currency, reason_id, benefited, progress, resource
  ) values (
    p_kind, v_id, v_payment::bigint,
    coalesce((select p.order_id from checkout.order_payments p where p.payment_id = v_payment::bigint),
             (select o.id from public.orders o where o.payment_id = v_payment::bigint)),
    v_status, v_stage,
    (r ->> 'coverage_eligible')::boolean, (r ->> 'coverage_applied')::boolean,
    (r ->> 'documentation_required')::boolean, v_doc,
    (r ->> 'date_documentation_deadline')::timestamptz,
    (r ->> 'amount')::numeric(12, 2), coalesce(r ->> 'currency', r ->> 'currency_id'),
    r ->> 'reason_id',
    case when r -> 'resolution' -> 'benefited' ->> 0 in ('complainant', 'respondent') then r -> 'resolution' -> 'benefited' ->> 0 end,
    private.dispute_progress(v_status, v_stage, v_doc), r
  )
  on conflict on constraint disputes_once do update
     set order_id = coalesce(x.order_id, excluded.order_id),
         status = excluded.status, stage = excluded.stage,
         coverage_eligible = excluded.coverage_eligible, coverage_applied = excluded.coverage_applied,
         documentation_required = excluded.documentation_required, documentation_status = excluded.documentation_status,
         deadline = excluded.deadline, amount = excluded.amount, currency = excluded.currency, reason_id = excluded.reason_id,
         benefited = excluded.benefited, progress = excluded.progress, resource = excluded.resource, updated_at = now()
   where excluded.progress >= x.progress
  returning * into d;
  if d.id is null then
    -- A stale copy (fetched before a later change): kept as it was.
    select * into d from checkout.disputes where kind = p_kind and mp_id = v_id;
    return jsonb_build_object('outcome', 'stale', 'dispute', private.dispute_json(d));
  end if;
  return jsonb_build_object('outcome', 'recorded', 'dispute', private.dispute_json(d));
exception
  when invalid_text_representation or invalid_datetime_format or datetime_field_overflow or numeric_value_out_of_range then
    raise exception 'the % % has a malformed field', p_kind, v_id using errcode = 'CKI01';
end
$$;

comment on function checkout.record_dispute(text, jsonb) is
  'Service role only. Records a chargeback (GET /v1/chargebacks/{id}) or a claim (GET /post-purchase/v1/claims/{id}) as MercadoPago answered it, linked to its payment and order: status, stage, coverage, documentation, deadline, amount, resolution. Forward only: a copy with less progress than the one recorded changes nothing (outcome stale). Returns {outcome: recorded | stale, dispute}. CKI01 for a resource without id, payment or known status.';

create or replace function admin.disputes(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return jsonb_build_object(
    'disputes', coalesce((select jsonb_agg(private.dispute_json(d) order by d.deadline nulls last, d.created_at, d.id)
                            from checkout.disputes d), '[]'::jsonb),
    'fraud_alerts', coalesce((select jsonb_agg(jsonb_build_object(
                       'payment_id', fa.payment_id::text, 'description', fa.description, 'created_at', fa.created_at,
                       'acted_at', fa.acted_at, 'order_number', o.order_number, 'order_status', o.status,
                       'do_not_ship', o.do_not_ship, 'refund_status', r.status) order by fa.created_at desc)
                       from checkout.fraud_alerts fa
                       -- the order of any of its payments (two cards: either part)
                       left join public.orders o on o.id = coalesce(
                         fa.order_id,
                         (select p.order_id from checkout.order_payments p where p.payment_id = fa.payment_id),
                         (select x.id from public.orders x where x.payment_id = fa.payment_id))
                       left join checkout.payment_refunds r on r.payment_id = fa.payment_id), '[]'::jsonb));
end
$$;
comment on function admin.disputes(jsonb) is
  'Service role only, staff claims required (GET /admin/disputes). Chargebacks and claims, soonest documentation deadline first (those without one last), and the fraud alerts with their order (do_not_ship) and refund.';
