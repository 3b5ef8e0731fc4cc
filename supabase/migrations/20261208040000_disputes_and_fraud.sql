-- Disputes and fraud (issue 23): MercadoPago's fraud alerts, chargebacks and
-- claims, stored before the webhook answers and then acted on
-- (supabase/schemas/14_disputes.sql); orders gain do_not_ship; refunds owed
-- gain the reason fraud_alert; the outbox gains the fraud_alert email; the
-- audit gains three invariants.

alter table public.orders add column do_not_ship boolean not null default false;
comment on column public.orders.do_not_ship is
  'MercadoPago sent a fraud alert for the payment (14_disputes.sql): do not deliver; the payment is refunded. Once true, never false again.';

create or replace function private.check_order_transition()
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

alter table checkout.payment_refunds drop constraint payment_refunds_reason_check;
alter table checkout.payment_refunds add constraint payment_refunds_reason_check check (reason in (
    'out_of_stock', 'amount_mismatch', 'duplicate_payment', 'coupon_used_up', 'stock_lowered', 'superseded', 'fraud_alert'));
comment on column checkout.payment_refunds.reason is
  'Why the payment is owed back: out_of_stock (paid late, no stock), stock_lowered (paid on time, but the store lowered stock below the reservation), coupon_used_up, superseded (another session of the same cart checkout became the order), amount_mismatch, duplicate_payment, fraud_alert (MercadoPago''s fraud alert for the order''s payment: 14_disputes.sql).';

alter table email.outbox drop constraint outbox_kind_check;
alter table email.outbox add constraint outbox_kind_check check (kind in ('cart_reminder', 'order_confirmation', 'marketing_opt_in', 'fraud_alert'));
alter table email.outbox drop constraint outbox_confirmation_names_its_order;
alter table email.outbox add constraint outbox_confirmation_names_its_order check (kind not in ('order_confirmation', 'fraud_alert') or order_id is not null);
comment on table email.outbox is
  'Emails to send. A reminder names its cart (session_id, cart_created_at) and the idle period (idle_since = the cart''s last activity); a confirmation names its order, and so does a fraud_alert (to each member of staff, 14_disputes.sql); a marketing_opt_in asks its recipient to confirm the box ticked at checkout. status: pending -> sending (claimed, leased until claimed_until) -> sent | pending again (retryable failure, after next_attempt_at) | failed (permanent) | skipped (no longer applies: bought, emptied, opted out, no consent). The row id is the provider''s idempotency key. Service role only.';

create table checkout.mp_notifications (
  id bigint generated always as identity primary key,
  topic text not null check (topic in ('stop_delivery_op_wh', 'topic_chargebacks_wh', 'topic_claims_integration_wh')),
  resource_id text not null check (resource_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  notification_id text not null check (length(notification_id) between 1 and 128),
  body jsonb not null,
  received_at timestamptz not null default now(),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  processed_at timestamptz,
  outcome jsonb,
  last_error text,
  constraint mp_notifications_once unique (topic, resource_id, notification_id)
);
comment on table checkout.mp_notifications is
  'The inbox of MercadoPago notifications other than payments (fraud alerts, chargebacks, claims), stored before the webhook answers 200: once per (topic, resource id, notification id). processed_at is set once it was acted on; until then a pass claims it with a lease (claimed_until) and retries with back-off (next_attempt_at). Service role only.';

create index mp_notifications_due_idx on checkout.mp_notifications (next_attempt_at) where processed_at is null;

alter table checkout.mp_notifications enable row level security;
grant select, insert, update on checkout.mp_notifications to service_role;

create table checkout.fraud_alerts (
  payment_id bigint primary key,
  description text check (length(description) <= 500),
  order_id uuid references public.orders (id) on delete restrict,
  created_at timestamptz not null default now(),
  acted_at timestamptz
);
comment on table checkout.fraud_alerts is
  'MercadoPago fraud alerts (stop_delivery_op_wh), one per payment. The payment''s order, now or when it is created later, is marked do_not_ship, its payment owed back (checkout.payment_refunds, reason fraud_alert) and staff emailed; acted_at says when. Service role only.';

create index fraud_alerts_order_idx on checkout.fraud_alerts (order_id);

alter table checkout.fraud_alerts enable row level security;
grant select, insert, update on checkout.fraud_alerts to service_role;

create table checkout.disputes (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind in ('chargeback', 'claim')),
  mp_id text not null check (mp_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  payment_id bigint not null,
  order_id uuid references public.orders (id) on delete restrict,
  status text not null check (status in ('opened', 'closed')),
  stage text check (stage in ('claim', 'dispute')),
  coverage_eligible boolean,
  coverage_applied boolean,
  documentation_required boolean,
  documentation_status text check (documentation_status in ('pending', 'review_pending', 'valid', 'not_supplied', 'not_required')),
  deadline timestamptz,
  amount numeric(12, 2),
  currency text,
  reason_id text,
  benefited text check (benefited in ('complainant', 'respondent')),
  progress integer not null default 0 check (progress >= 0),
  resource jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint disputes_once unique (kind, mp_id)
);
comment on table checkout.disputes is
  'Chargebacks (GET /v1/chargebacks/{id}) and claims (GET /post-purchase/v1/claims/{id}) as MercadoPago last described them, linked to the payment and its order. progress (private.dispute_progress) only grows: a stale copy never takes a dispute back to an earlier status, stage or documentation status. Service role only.';
comment on column checkout.disputes.deadline is 'Chargebacks: date_documentation_deadline, the last moment to upload evidence.';
comment on column checkout.disputes.benefited is 'Closed claims: whom MercadoPago''s resolution favoured (complainant: the buyer, refunded; respondent: the store).';

create index disputes_payment_idx on checkout.disputes (payment_id);
create index disputes_order_idx on checkout.disputes (order_id);
create index disputes_deadline_idx on checkout.disputes (deadline nulls last, created_at);

alter table checkout.disputes enable row level security;
grant select, insert, update on checkout.disputes to service_role;

-- One fraud-alert email per order and member of staff.
create unique index outbox_one_fraud_alert_per_recipient on email.outbox (order_id, recipient) where kind = 'fraud_alert';

-- ---------------------------------------------------------------------------
-- Routines: the inbox

create function checkout.store_mp_notification(p_topic text, p_resource_id text, p_notification_id text, p_body jsonb)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  n checkout.mp_notifications;
begin
  if p_topic is null or p_topic not in ('stop_delivery_op_wh', 'topic_chargebacks_wh', 'topic_claims_integration_wh')
     or p_resource_id is null or p_resource_id !~ '^[A-Za-z0-9_-]{1,64}$'
     or p_notification_id is null or length(p_notification_id) not between 1 and 128
     or jsonb_typeof(p_body) is distinct from 'object' then
    raise exception 'not a storable notification' using errcode = 'CKI01',
      detail = jsonb_build_object('topic', p_topic, 'resource_id', p_resource_id)::text;
  end if;
  insert into checkout.mp_notifications (topic, resource_id, notification_id, body)
  values (p_topic, p_resource_id, p_notification_id, p_body)
  on conflict on constraint mp_notifications_once do nothing
  returning * into n;
  if n.id is null then
    select * into n from checkout.mp_notifications
     where topic = p_topic and resource_id = p_resource_id and notification_id = p_notification_id;
    return jsonb_build_object('id', n.id, 'stored', false, 'processed', n.processed_at is not null);
  end if;
  return jsonb_build_object('id', n.id, 'stored', true, 'processed', false);
end
$$;
comment on function checkout.store_mp_notification(text, text, text, jsonb) is
  'Service role only (the webhook, before it answers). Stores a notification once per (topic, resource id, notification id); a replay finds the first row. Returns {id, stored, processed}. CKI01 for an unknown topic or a malformed id.';
grant execute on function checkout.store_mp_notification(text, text, text, jsonb) to service_role;

create function checkout.claim_mp_notifications(p_limit integer default 20, p_lease interval default interval '2 minutes', p_id bigint default null)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 500 or p_lease is null or p_lease < interval '5 seconds' then
    raise exception 'limit must be 1..500 and the lease at least 5 seconds' using errcode = 'CKI01';
  end if;
  with due as (
    select n.id from checkout.mp_notifications n
     where n.processed_at is null
       and (n.claimed_until is null or n.claimed_until < now())
       and (case when p_id is null then n.next_attempt_at <= now() else n.id = p_id end)
     order by n.next_attempt_at, n.id
     limit p_limit
       for update skip locked
  ), taken as (
    update checkout.mp_notifications n
       set attempts = n.attempts + 1, claimed_until = now() + p_lease
      from due where n.id = due.id
    returning n.id, n.topic, n.resource_id, n.body, n.attempts
  )
  select coalesce(jsonb_agg(to_jsonb(t) order by t.id), '[]'::jsonb) into claimed from taken t;
  return claimed;
end
$$;
comment on function checkout.claim_mp_notifications(integer, interval, bigint) is
  'Service role only. Claims up to p_limit stored, unprocessed notifications that are due (or the one with id p_id, due or not), leasing each for p_lease (FOR UPDATE SKIP LOCKED: two passes never take the same row; a pass that dies leaves it to the next once the lease ends). Returns [{id, topic, resource_id, body, attempts}].';
grant execute on function checkout.claim_mp_notifications(integer, interval, bigint) to service_role;

create function checkout.finish_mp_notification(p_id bigint, p_outcome jsonb)
returns void
language sql security definer set search_path = ''
as $$
  update checkout.mp_notifications
     set processed_at = now(), claimed_until = null, outcome = p_outcome, last_error = null
   where id = p_id and processed_at is null
$$;
comment on function checkout.finish_mp_notification(bigint, jsonb) is
  'Service role only. Marks a claimed notification processed, with what was done.';
grant execute on function checkout.finish_mp_notification(bigint, jsonb) to service_role;

create function checkout.note_mp_notification_failure(p_id bigint, p_error text)
returns void
language sql security definer set search_path = ''
as $$
  update checkout.mp_notifications n
     set claimed_until = null, last_error = left(coalesce(p_error, 'unknown error'), 500),
         next_attempt_at = now() + least(interval '30 seconds' * power(2, least(n.attempts, 20)), interval '6 hours')
   where id = p_id and processed_at is null
$$;
comment on function checkout.note_mp_notification_failure(bigint, text) is
  'Service role only. A pass could not act on a notification (MercadoPago or the database unavailable): it is retried later (30 seconds doubling, at most 6 hours apart).';
grant execute on function checkout.note_mp_notification_failure(bigint, text) to service_role;

-- ---------------------------------------------------------------------------
-- Routines: fraud alerts

create function private.stop_delivery(o public.orders)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  s public.order_sessions;
  refund jsonb;
begin
  if not o.do_not_ship then
    update public.orders set do_not_ship = true where id = o.id returning * into o;
  end if;
  -- The money goes back through the refunds owed (made by the function at
  -- once, retried by reconcile), unless MercadoPago already took it back.
  if o.status not in ('refunded', 'charged_back') then
    select * into s from public.order_sessions where id = o.order_session_id;
    refund := private.owe_refund(s, o.payment_id, o.total, o.currency, 'fraud_alert');
  end if;
  -- Every member of staff is told, once per order.
  insert into email.outbox (kind, session_id, recipient, order_id)
  select 'fraud_alert', o.session_id, lower(u.email), o.id
    from auth.users u
   where u.raw_app_meta_data ->> 'store_role' = 'staff' and not coalesce(u.is_anonymous, false)
     and u.email ~ '^[^@\s]+@[^@\s]+$' and length(u.email) <= 254
  on conflict (order_id, recipient) where kind = 'fraud_alert' do nothing;
  update checkout.fraud_alerts set order_id = o.id, acted_at = coalesce(acted_at, now()) where payment_id = o.payment_id;
  return jsonb_build_object('order', private.order_json(o), 'refund', refund);
end
$$;
comment on function private.stop_delivery(public.orders) is
  'The one "do not ship" path of a fraud-alerted order: marks it do_not_ship (forward only), owes its payment back (reason fraud_alert; not when already refunded or charged back), queues one fraud_alert email per member of staff, and notes the alert acted on.';
grant execute on function private.stop_delivery(public.orders) to service_role;

create function checkout.apply_fraud_alert(p_payment jsonb, p_description text default null)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  pid bigint;
  o public.orders;
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
  select * into o from public.orders where payment_id = pid for update;
  if o.id is null then
    return jsonb_build_object('outcome', 'alert_recorded', 'payment_id', pid);
  end if;
  return jsonb_build_object('outcome', 'order_stopped', 'payment_id', pid) || private.stop_delivery(o);
end
$$;
comment on function checkout.apply_fraud_alert(jsonb, text) is
  'Service role only (the webhook''s inbox). A MercadoPago fraud alert for a payment (as fetched from MercadoPago): recorded once; its order is stopped (private.stop_delivery): do_not_ship, refund owed, staff emailed. A payment without an order yet (pending, being settled) keeps the alert: its order is born do_not_ship and refunded (trigger orders_fraud_alerted). Returns {outcome: order_stopped | alert_recorded, payment_id, order?, refund?}.';
grant execute on function checkout.apply_fraud_alert(jsonb, text) to service_role;

create function private.flag_fraud_alerted_order()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  if tg_op = 'INSERT' and tg_when = 'BEFORE' then
    if exists (select 1 from checkout.fraud_alerts fa where fa.payment_id = new.payment_id) then
      new.do_not_ship := true;
    end if;
    return new;
  end if;
  perform private.stop_delivery(new);
  return null;
end
$$;
comment on function private.flag_fraud_alerted_order() is
  'Trigger: an order whose payment had a fraud alert is born do_not_ship (before insert), and is stopped (private.stop_delivery: refund owed, staff emailed) once it exists (after insert).';
grant execute on function private.flag_fraud_alerted_order() to service_role;

create trigger orders_fraud_alerted
  before insert on public.orders
  for each row execute function private.flag_fraud_alerted_order();
create trigger orders_fraud_alerted_stop
  after insert on public.orders
  for each row when (new.do_not_ship)
  execute function private.flag_fraud_alerted_order();

-- ---------------------------------------------------------------------------
-- Routines: chargebacks and claims

create function private.dispute_progress(p_status text, p_stage text, p_documentation_status text)
returns integer
language sql immutable set search_path = ''
as $$
  select (case p_status when 'closed' then 100 else 0 end)
       + (case p_stage when 'dispute' then 10 else 0 end)
       + (case p_documentation_status when 'review_pending' then 1 when 'valid' then 2 when 'not_supplied' then 2 else 0 end)
$$;
comment on function private.dispute_progress(text, text, text) is
  'How far a dispute has gone: closed > opened, dispute stage > claim stage, documentation reviewed > sent > pending. A dispute''s record only moves to an equal or greater progress.';
grant execute on function private.dispute_progress(text, text, text) to service_role;

create function private.dispute_json(d checkout.disputes)
returns jsonb
language sql stable set search_path = ''
as $$
  select jsonb_build_object(
    'id', d.id, 'kind', d.kind, 'mp_id', d.mp_id, 'payment_id', d.payment_id::text,
    'order_number', (select o.order_number from public.orders o where o.id = d.order_id),
    'order_status', (select o.status from public.orders o where o.id = d.order_id),
    'status', d.status, 'stage', d.stage,
    'coverage_eligible', d.coverage_eligible, 'coverage_applied', d.coverage_applied,
    'documentation_required', d.documentation_required, 'documentation_status', d.documentation_status,
    'deadline', d.deadline, 'amount', d.amount, 'currency', d.currency, 'reason_id', d.reason_id,
    'benefited', d.benefited, 'created_at', d.created_at, 'updated_at', d.updated_at)
$$;
comment on function private.dispute_json(checkout.disputes) is 'A dispute as the routines and the dashboard show it.';
grant execute on function private.dispute_json(checkout.disputes) to service_role;

create function checkout.record_dispute(p_kind text, p_resource jsonb)
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
    (select o.id from public.orders o where o.payment_id = v_payment::bigint),
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
grant execute on function checkout.record_dispute(text, jsonb) to service_role;

-- ---------------------------------------------------------------------------
-- Routines: the dashboard

create function admin.disputes(p_claims jsonb)
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
                       left join public.orders o on o.payment_id = fa.payment_id
                       left join checkout.payment_refunds r on r.payment_id = fa.payment_id), '[]'::jsonb));
end
$$;
comment on function admin.disputes(jsonb) is
  'Service role only, staff claims required (GET /admin/disputes). Chargebacks and claims, soonest documentation deadline first (those without one last), and the fraud alerts with their order (do_not_ship) and refund.';
grant execute on function admin.disputes(jsonb) to service_role;

create function admin.chargeback_for_evidence(p_claims jsonb, p_id text)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  d checkout.disputes;
begin
  perform admin.require_staff(p_claims);
  perform admin.check_input(p_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'id', 'the dispute id must be a UUID');
  select * into d from checkout.disputes where id = p_id::uuid;
  if not found or d.kind <> 'chargeback' then
    raise exception 'no chargeback %', p_id using errcode = 'CKO01', detail = jsonb_build_object('id', p_id)::text;
  end if;
  return private.dispute_json(d);
end
$$;
comment on function admin.chargeback_for_evidence(jsonb, text) is
  'Service role only, staff claims required (POST /admin/disputes/{id}/evidence). The chargeback the dashboard uploads evidence for (its mp_id); CKI01 malformed id, CKO01 no such chargeback. MercadoPago itself judges the deadline.';
grant execute on function admin.chargeback_for_evidence(jsonb, text) to service_role;

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
         and not exists (select 1 from public.orders o where o.payment_id = pe.payment_id)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
      union all
      -- every order has an approved payment
      select jsonb_build_object('invariant', 'order_without_approved_payment', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'payment_id', o.payment_id))
        from public.orders o
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = o.payment_id and pe.status = 'approved')
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
  'Service role only (and GET /order-sessions-admin/audit). Every violation of the money and stock invariants, as [{invariant, subject, detail}]; empty when all hold: reserved_counter_mismatch, stock_below_zero (also fewer units on hand than unexpired reservations), approved_payment_unsettled (no order and no refund; matches_no_session for money that arrived for nothing we know), order_without_approved_payment, two_orders_one_checkout, two_orders_one_merged_cart (an order from a checkout a cart merge cancelled, and another from a checkout of the account open at the merge or begun after it, before that order), paid_session_without_order, closed_session_holds_stock, refund_owed_over_1h, fraud_alert_not_acted (a fraud-alerted order not do_not_ship, or neither refunded, charged back nor owed back), dispute_without_payment (a chargeback or claim on a payment never applied), notification_unprocessed_over_1h (a stored fraud alert, chargeback or claim not acted on).';
grant execute on function checkout.audit() to service_role;

-- The dashboard's order list shows do_not_ship.
create or replace function admin.order_summary(o public.orders)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object(
    'id', o.id, 'order_number', o.order_number, 'status', o.status, 'total', o.total, 'currency', o.currency,
    'payment_id', o.payment_id::text, 'email', o.payer ->> 'email',
    'name', btrim(coalesce(o.payer ->> 'name', '') || ' ' || coalesce(o.payer ->> 'surname', '')),
    'paid_late', o.paid_late, 'do_not_ship', o.do_not_ship, 'created_at', o.created_at,
    'items', (select coalesce(sum(l.quantity), 0) from public.order_lines l where l.order_id = o.id))
$$;
comment on function admin.order_summary(public.orders) is 'Service role only. One row of the dashboard''s order list.';
grant execute on function admin.order_summary(public.orders) to service_role;
