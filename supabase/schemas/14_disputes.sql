-- Disputes and fraud: MercadoPago's notifications after the sale (issue 23).
--
--   stop_delivery_op_wh          a fraud alert: "cancel without delivering".
--                                Sent ONCE and never retried.
--   topic_chargebacks_wh         a chargeback opened or resolved.
--   topic_claims_integration_wh  a buyer's claim opened, escalated, resolved.
--
-- The webhook stores each notification here (checkout.store_mp_notification)
-- BEFORE anything else and answers 200 only once that insert has committed;
-- then it processes it. Processing claims the row with a lease
-- (checkout.claim_mp_notifications, FOR UPDATE SKIP LOCKED), so a function
-- killed right after its 200 leaves the row to the next pass (the reconcile
-- function, every minute) and no two passes act on one notification at once.
-- Every action is also idempotent by itself (one fraud alert per payment, one
-- refund per payment, one email per order and recipient, disputes keyed on
-- MercadoPago's id), so a replay changes nothing.
--
-- Applied after 12_admin.sql (the dashboard's routines here use
-- admin.require_staff) and before 13_housekeeping.sql (checkout.audit reads
-- these tables). Service role only; nothing here is visible to anon or
-- authenticated.

-- ---------------------------------------------------------------------------
-- Tables

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
grant execute on function private.stop_delivery(public.orders) to service_role;

create function checkout.apply_fraud_alert(p_payment jsonb, p_description text default null)
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
grant execute on function checkout.apply_fraud_alert(jsonb, text) to service_role;

create function private.flag_fraud_alerted_order()
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
grant execute on function private.flag_fraud_alerted_order() to service_role;

-- private.record_order flags and stops its order itself and names its
-- session in checkout.recording_order, which these skip.
create trigger orders_fraud_alerted
  before insert on public.orders
  for each row
  when (current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function private.flag_fraud_alerted_order();
create trigger orders_fraud_alerted_stop
  after insert on public.orders
  for each row
  when (new.do_not_ship and current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
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
