-- Offline payments: cash tickets (Rapipago, Pago Fácil, OXXO, boleto,
-- Efecty, Abitab...), ATM and bank transfers (Pix, CLABE, PSE...), paid
-- after the buyer left the checkout. MercadoPago reports them `pending`
-- (`in_process` while it checks) with a `date_of_expiration`; the money may
-- land days later. Here they hold the stock until their deadline.
--
-- The rule (docs/offline-payments.md):
--   * A pending or in_process payment of type ticket, atm or bank_transfer,
--     for an order session that is active and unexpired, extends the
--     session's reservation to its hold end:
--       deadline  = the payment's date_of_expiration (ticket, atm); for a
--                   bank_transfer (Pix) the earlier of that and its creation
--                   + offline_settings.transfer_deadline;
--       hold end  = deadline + crediting_grace_hours business hours
--                   (private.add_business_hours: Monday to Friday between
--                   business_hours_start and _end in the store's time zone,
--                   holidays skipped), because MercadoPago credits a cash
--                   payment up to 2 business hours after it is made, and a
--                   ticket paid on a Saturday is credited on Monday; for a
--                   bank_transfer, deadline + transfer_grace (plain time:
--                   Pix is credited in seconds, weekends included).
--     The extension is logged (offline_hold) and the shopper and the owner
--     see it as "esperando pago" (checkout.offline_payment).
--   * Hoarding limits, checked under the variant locks: products marked
--     card_only; at most max_offline_holds_per_shopper live holds per
--     shopper; the units offline holds take of a variant at most
--     offline_stock_share of its stock on hand. A payment over a limit is
--     recorded (offline_hold_refused) and holds nothing beyond the card
--     reservation; when that ends, the payment is cancelled.
--   * Approved before the hold ends: an order, as any on-time payment.
--   * The hold ends unpaid: checkout.claim_offline_expiry (the reconcile
--     function, every minute) expires the session, releases the stock and
--     claims the payment's cancellation, which the function then makes at
--     MercadoPago (PUT status cancelled) and records with
--     checkout.record_offline_cancel, or backs off and retries. A payment
--     approved anyway afterwards goes down the late path (re-reserved, or
--     refunded).
--   * A session closed owing its approved parts back (a two-card payment
--     whose other part never came: checkout.refund_unpaired_parts) cancels
--     its parts still pending of any type, a card in_process included
--     (private.cancel_pending_parts): each becomes an ended row here, and the
--     same claim and cancellation follow; so does a card part first seen
--     pending after that close (private.cancel_late_pending_part). One
--     approved before the cancel goes through apply_payment and is refunded
--     (the session is over).

-- ---------------------------------------------------------------------------
-- Tables

create table private.offline_settings (
  id boolean primary key default true check (id),
  transfer_deadline interval not null default interval '30 minutes'
    check (transfer_deadline between interval '5 minutes' and interval '24 hours'),
  crediting_grace_hours integer not null default 2
    check (crediting_grace_hours between 0 and 72),
  transfer_grace interval not null default interval '15 minutes'
    check (transfer_grace between interval '0' and interval '24 hours'),
  business_hours_start time not null default '09:00',
  business_hours_end time not null default '18:00',
  holidays date[] not null default '{}',
  max_offline_holds_per_shopper integer not null default 2
    check (max_offline_holds_per_shopper between 0 and 100),
  offline_stock_share numeric(4, 3) not null default 0.5
    check (offline_stock_share between 0 and 1),
  constraint offline_settings_business_day check (business_hours_end > business_hours_start)
);
insert into private.offline_settings default values;
comment on table private.offline_settings is
  'Offline payments (cash tickets, ATM, bank transfers and Pix): how long each holds the stock and the hoarding limits (a single row; docs/configuration.md). Update it with SQL; read by private.hold_offline_payment. The ticket''s own deadline (days) is the preference''s date_of_expiration, set by create-preference (MP_TICKET_EXPIRATION_DAYS).';
comment on column private.offline_settings.transfer_deadline is
  'How long a bank transfer or Pix stays payable (holds the stock) after it is generated, at most its date_of_expiration: 30 minutes by default, between 5 minutes and 24 hours. It is cancelled at MercadoPago once its hold ends.';
comment on column private.offline_settings.crediting_grace_hours is
  'Business hours added after an offline payment''s deadline before its hold ends: MercadoPago credits a cash payment up to 2 business hours after it is made.';
comment on column private.offline_settings.transfer_grace is
  'Time (not business hours) added after a bank transfer''s or Pix''s deadline before its hold ends: Pix is credited within seconds, any day, so a 30-minute Pix must not hold the stock over a weekend.';
comment on column private.offline_settings.business_hours_start is
  'Start of a business day (Monday to Friday, in private.settings.analytics_time_zone) for the crediting grace.';
comment on column private.offline_settings.business_hours_end is 'End of a business day for the crediting grace.';
comment on column private.offline_settings.holidays is 'Days that are not business days (in the store''s time zone), for the crediting grace.';
comment on column private.offline_settings.max_offline_holds_per_shopper is
  'Most live offline holds (payments waiting, holding stock) one shopper may have, counting every ticket she generated (several on one checkout too); a further one holds nothing (0 turns offline holds off).';
comment on column private.offline_settings.offline_stock_share is
  'Share of a variant''s stock on hand that offline holds may take together (0.5: half). Beyond it a payment holds nothing, and the preference for a cart that would pass it leaves offline methods out.';

alter table private.offline_settings enable row level security;
grant select on private.offline_settings to service_role;

create table checkout.offline_holds (
  payment_id bigint primary key,
  order_session_id uuid not null references public.order_sessions (id) on delete cascade,
  session_id uuid not null,
  payment_type text not null check (payment_type ~ '^[a-z_]{1,40}$'),
  payment_method text,
  status text not null check (status in ('holding', 'refused', 'paid', 'ended', 'cancelled')),
  refusal text check (refusal in ('card_only', 'shopper_limit', 'variant_share', 'session_closed')),
  deadline timestamptz not null,
  hold_until timestamptz not null,
  instructions jsonb not null default '{}' check (jsonb_typeof(instructions) = 'object'),
  cancel_attempts integer not null default 0 check (cancel_attempts >= 0),
  next_cancel_at timestamptz,
  cancelled_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint offline_holds_refusal_when_refused check ((status = 'refused') = (refusal is not null) or status in ('ended', 'cancelled', 'paid'))
);
comment on table checkout.offline_holds is
  'One row per offline payment (ticket, atm, bank_transfer) seen pending for an order session: its deadline, how long it holds the stock (hold_until), what the buyer needs to pay it (instructions: ticket URL, barcode, Pix QR) and its cancellation at MercadoPago. status: holding (the session''s reservation runs to hold_until) or refused (over a hoarding limit: holds nothing more), then paid, ended (hold over unpaid: cancellation due at next_cancel_at) or cancelled (at MercadoPago). Also one row, born ended (refusal session_closed), per part of any other type (a card in_process) still pending when its session closed owing its approved parts back (private.cancel_pending_parts): the same cancellation. Service role only.';
comment on column checkout.offline_holds.deadline is 'Until when the buyer may pay: the payment''s date_of_expiration (for a transfer, at most transfer_deadline after it was made).';
comment on column checkout.offline_holds.hold_until is
  'When the hold ends: the deadline plus the crediting grace (the session''s reservation lasts until then); for a refused payment the session''s own end; now, once the session closes (private.end_offline_holds).';

create index offline_holds_session_idx on checkout.offline_holds (order_session_id);
create index offline_holds_shopper_idx on checkout.offline_holds (session_id) where status = 'holding';
create index offline_holds_live_idx on checkout.offline_holds (hold_until) where status in ('holding', 'refused');
create index offline_holds_cancel_due_idx on checkout.offline_holds (next_cancel_at) where status = 'ended';

alter table checkout.offline_holds enable row level security;
grant select, insert, update on checkout.offline_holds to service_role;

-- ---------------------------------------------------------------------------
-- Triggers

create function private.end_offline_holds()
returns trigger
language plpgsql set search_path = ''
as $$
begin
  -- The session closed (paid, cancelled by a newer checkout, expired): its
  -- holds end now, for the reconcile pass to mark them paid or cancel them.
  update checkout.offline_holds set hold_until = now(), updated_at = now()
   where order_session_id = new.id and status in ('holding', 'refused') and hold_until > now();
  return null;
end
$$;
comment on function private.end_offline_holds() is
  'Trigger: an order session leaving active ends its offline holds now (hold_until), so checkout.claim_offline_expiry finds every due hold in one index range.';
create trigger order_sessions_end_offline_holds
  after update of status on public.order_sessions
  for each row
  when (old.status = 'active' and new.status <> 'active')
  execute function private.end_offline_holds();

create function private.cancel_late_pending_part()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  s public.order_sessions;
begin
  -- A card (or any non-offline) part first seen pending after its session
  -- closed owing its approved parts back: cancelled too (the caller,
  -- apply_payment, holds the session's lock). Offline ones are ended by
  -- private.hold_offline_payment (refusal session_closed).
  select * into s from public.order_sessions where id = new.order_session_id;
  if s.status in ('refund_owed', 'refunded') then
    perform private.cancel_pending_parts(s);
  end if;
  return null;
end
$$;
comment on function private.cancel_late_pending_part() is
  'Trigger: a payment other than an offline one recorded pending or in_process for a session already closed as refund_owed or refunded gets its cancellation at MercadoPago claimed (private.cancel_pending_parts).';
create trigger payment_events_cancel_late_pending_part
  after insert on checkout.payment_events
  for each row
  when (new.status in ('pending', 'in_process') and new.order_session_id is not null and coalesce(new.payment_type, '') not in ('ticket', 'atm', 'bank_transfer'))
  execute function private.cancel_late_pending_part();

-- ---------------------------------------------------------------------------
-- Routines

create function private.add_business_hours(p_from timestamptz, p_hours integer)
returns timestamptz
language plpgsql stable set search_path = ''
as $$
declare
  cfg private.offline_settings := (select o from private.offline_settings o where o.id);
  tz text := (private.current_settings()).analytics_time_zone;
  t timestamp := p_from at time zone tz;
  remaining interval := make_interval(hours => greatest(p_hours, 0));
  day_start timestamp;
  day_end timestamp;
begin
  if remaining = interval '0' then
    return p_from;
  end if;
  -- Day by day from p_from: only the open part of a business day counts.
  for i in 1..400 loop
    if extract(isodow from t) between 1 and 5 and not (t::date = any (cfg.holidays)) then
      day_start := t::date + cfg.business_hours_start;
      day_end := t::date + cfg.business_hours_end;
      t := greatest(t, day_start);
      if t < day_end then
        if day_end - t >= remaining then
          return (t + remaining) at time zone tz;
        end if;
        remaining := remaining - (day_end - t);
      end if;
    end if;
    t := t::date + 1;
  end loop;
  return (t + remaining) at time zone tz;
end
$$;
comment on function private.add_business_hours(timestamptz, integer) is
  'p_from plus p_hours business hours: Monday to Friday between offline_settings.business_hours_start and _end, in private.settings.analytics_time_zone, holidays (offline_settings.holidays) skipped. A deadline on a Saturday night ends its grace on Monday morning.';
grant execute on function private.add_business_hours(timestamptz, integer) to service_role;

create function private.is_offline_type(p_payment_type text)
returns boolean
language sql immutable set search_path = ''
as $$
  select p_payment_type in ('ticket', 'atm', 'bank_transfer')
$$;
comment on function private.is_offline_type(text) is
  'Whether a MercadoPago payment_type_id is paid after the checkout (ticket, atm, bank_transfer: Pix included): such a pending payment may hold the stock.';
grant execute on function private.is_offline_type(text) to service_role;

create function private.offline_refusal(s public.order_sessions)
returns text
language plpgsql stable set search_path = ''
as $$
declare
  cfg private.offline_settings := (select o from private.offline_settings o where o.id);
begin
  -- Which hoarding limit a new offline hold of s would pass, or null. The
  -- caller holds the variants' locks (or only advises: offline_methods_allowed).
  if exists (select 1 from jsonb_to_recordset(s.lines) l(variant_id uuid)
               join public.variants v on v.id = l.variant_id
               join public.products p on p.id = v.product_id
              where p.card_only) then
    return 'card_only';
  end if;
  if (select count(*) from checkout.offline_holds h
       where h.session_id = s.session_id and h.status = 'holding' and h.hold_until > now()) >= cfg.max_offline_holds_per_shopper then
    return 'shopper_limit';
  end if;
  if exists (
    select 1 from jsonb_to_recordset(s.lines) l(variant_id uuid, quantity integer)
      join public.variants v on v.id = l.variant_id
     where l.quantity + coalesce((
             select sum(r.quantity) from checkout.stock_reservations r
              where r.variant_id = l.variant_id and r.expires_at > now() and r.order_session_id <> s.id
                and exists (select 1 from checkout.offline_holds h
                             where h.order_session_id = r.order_session_id and h.status = 'holding' and h.hold_until > now())), 0)
           > floor(v.stock_on_hand * cfg.offline_stock_share)
  ) then
    return 'variant_share';
  end if;
  return null;
end
$$;
comment on function private.offline_refusal(public.order_sessions) is
  'The hoarding limit an offline hold for this session would pass: card_only (a product marked so), shopper_limit (max_offline_holds_per_shopper live holds already), variant_share (offline holds would take more than offline_stock_share of a variant''s stock on hand), or NULL.';
grant execute on function private.offline_refusal(public.order_sessions) to service_role;

create function private.offline_instructions(p_payment jsonb)
returns jsonb
language sql immutable set search_path = ''
as $$
  -- What the buyer needs to pay: the ticket (link, barcode) or the Pix QR.
  select jsonb_strip_nulls(jsonb_build_object(
    'external_resource_url', p_payment -> 'transaction_details' ->> 'external_resource_url',
    'barcode', p_payment -> 'barcode' ->> 'content',
    'qr_code', p_payment -> 'point_of_interaction' -> 'transaction_data' ->> 'qr_code',
    'qr_code_base64', p_payment -> 'point_of_interaction' -> 'transaction_data' ->> 'qr_code_base64',
    'ticket_url', p_payment -> 'point_of_interaction' -> 'transaction_data' ->> 'ticket_url'))
$$;
comment on function private.offline_instructions(jsonb) is
  'From a payment as fetched: transaction_details.external_resource_url, barcode.content, and point_of_interaction.transaction_data''s qr_code, qr_code_base64 and ticket_url (the nulls left out).';
grant execute on function private.offline_instructions(jsonb) to service_role;

create function private.hold_offline_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  cfg private.offline_settings := (select o from private.offline_settings o where o.id);
  pid bigint := (p_payment ->> 'id')::bigint;
  ptype text := p_payment ->> 'payment_type_id';
  made timestamptz := coalesce((p_payment ->> 'date_created')::timestamptz, now());
  due timestamptz := (p_payment ->> 'date_of_expiration')::timestamptz;
  h checkout.offline_holds;
  refusal text;
begin
  -- A pending (or in_process) offline payment for s; the caller
  -- (apply_payment) holds the session's lock. Once per payment.
  select * into h from checkout.offline_holds where payment_id = pid;
  if found then
    return private.offline_hold_json(h);
  end if;
  -- Without MercadoPago's date, its own rule: 30 days for anything unconfirmed.
  due := coalesce(due, made + interval '30 days');
  if ptype = 'bank_transfer' then
    due := least(due, made + cfg.transfer_deadline);
  end if;

  if s.status <> 'active' or s.expires_at <= now() then
    refusal := 'session_closed';
  else
    perform 1 from public.variants v
     where v.id in (select (l ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) l)
     order by v.id
       for update;
    refusal := private.offline_refusal(s);
  end if;

  insert into checkout.offline_holds (payment_id, order_session_id, session_id, payment_type, payment_method, status, refusal,
                                      deadline, hold_until, instructions, next_cancel_at)
  values (pid, s.id, s.session_id, ptype, p_payment ->> 'payment_method_id',
          case when refusal = 'session_closed' then 'ended' when refusal is not null then 'refused' else 'holding' end,
          refusal, due,
          -- Refused: it holds what the session holds anyway, no longer.
          case when refusal = 'session_closed' then now()
               when refusal is not null then s.expires_at
               when ptype = 'bank_transfer' then due + cfg.transfer_grace
               else private.add_business_hours(due, cfg.crediting_grace_hours) end,
          private.offline_instructions(p_payment),
          case when refusal = 'session_closed' then now() end)
  returning * into h;

  if refusal is null and h.hold_until > s.expires_at then
    update public.order_sessions set expires_at = h.hold_until where id = s.id;
    update checkout.stock_reservations set expires_at = h.hold_until where order_session_id = s.id;
  end if;
  -- How to pay and by when, by email to the payer: exactly once per payment.
  if refusal is null and coalesce(s.payer ->> 'email', '') ~ '^[^@\s]+@[^@\s]+$' then
    insert into email.outbox (kind, session_id, recipient, payment_id)
    values ('payment_instructions', s.session_id, lower(s.payer ->> 'email'), pid)
    on conflict (payment_id) where kind = 'payment_instructions' do nothing;
  end if;
  perform private.log_event(s.id, case when refusal is null then 'offline_hold' else 'offline_hold_refused' end,
    jsonb_build_object('payment_type', ptype, 'payment_method', h.payment_method, 'deadline', h.deadline,
                       'hold_until', h.hold_until, 'refusal', refusal), pid);
  return private.offline_hold_json(h);
end
$$;
comment on function private.hold_offline_payment(public.order_sessions, jsonb) is
  'A pending or in_process offline payment (ticket, atm, bank_transfer) for an order session: records it once (checkout.offline_holds) and, when the session is live and no hoarding limit is passed (private.offline_refusal, under the variant locks), extends the session''s reservation to the deadline plus the crediting grace (business hours for tickets and ATM, transfer_grace for transfers). Over a limit: recorded refused, holding nothing more; for a closed session: ended (cancellation due). Logs offline_hold or offline_hold_refused; a hold queues the payer''s payment_instructions email (once per payment).';
grant execute on function private.hold_offline_payment(public.order_sessions, jsonb) to service_role;

create function private.end_offline_payment(s public.order_sessions, p_payment jsonb)
returns void
language plpgsql set search_path = ''
as $$
declare
  h checkout.offline_holds;
  card_end timestamptz := s.created_at + (private.current_settings()).reservation_ttl;
begin
  -- MercadoPago cancelled or rejected the payment (it expired there, or we
  -- cancelled it): nothing is left to cancel, and its hold ends now.
  select * into h from checkout.offline_holds
   where payment_id = (p_payment ->> 'id')::bigint and status <> 'cancelled'
     for update;
  if not found then
    return;
  end if;
  update checkout.offline_holds
     set status = 'cancelled', cancelled_at = now(), next_cancel_at = null, updated_at = now()
   where payment_id = h.payment_id;
  perform private.log_event(s.id, 'offline_payment_cancelled', jsonb_build_object('status', p_payment ->> 'status',
    'status_detail', p_payment ->> 'status_detail'), h.payment_id);
  -- The session's reservation goes back to its card time: what is left of
  -- it, or none.
  if h.status = 'holding' and s.status = 'active'
     and not exists (select 1 from checkout.offline_holds o where o.order_session_id = s.id and o.status = 'holding') then
    if card_end > now() then
      update public.order_sessions set expires_at = card_end where id = s.id;
      update checkout.stock_reservations set expires_at = card_end where order_session_id = s.id;
    else
      perform private.close_order_session(s.id, 'expired', 'offline payment cancelled');
    end if;
  end if;
end
$$;
comment on function private.end_offline_payment(public.order_sessions, jsonb) is
  'A cancelled or rejected offline payment: its hold is cancelled (once), and a session whose reservation only it extended goes back to its card reservation time, or is expired and its stock released when that has passed. The caller holds the session''s lock.';
grant execute on function private.end_offline_payment(public.order_sessions, jsonb) to service_role;

create function private.offline_hold_json(h checkout.offline_holds)
returns jsonb
language sql stable set search_path = ''
as $$
  select case when h.payment_id is null then null else jsonb_build_object(
    'payment_id', h.payment_id,
    'payment_type_id', h.payment_type,
    'payment_method_id', h.payment_method,
    'status', h.status,
    'waiting', h.status in ('holding', 'refused') and h.deadline > now(),
    'label', case when h.status in ('holding', 'refused') and h.deadline > now() then 'esperando pago' end,
    'refusal', h.refusal,
    'deadline', h.deadline,
    'hold_until', h.hold_until,
    'cancelled_at', h.cancelled_at) || h.instructions end
$$;
comment on function private.offline_hold_json(checkout.offline_holds) is
  'An offline payment as the shopper and the owner see it: {payment_id, payment_type_id, payment_method_id, status, waiting, label ("esperando pago" while payable), refusal, deadline, hold_until, cancelled_at} and its instructions (external_resource_url, barcode, qr_code, qr_code_base64, ticket_url).';
grant execute on function private.offline_hold_json(checkout.offline_holds) to service_role;

create function checkout.offline_payment(p_order_session_id uuid)
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select private.offline_hold_json(h)
    from checkout.offline_holds h
   where h.order_session_id = p_order_session_id and private.is_offline_type(h.payment_type)
   order by h.created_at desc, h.payment_id desc
   limit 1
$$;
comment on function checkout.offline_payment(uuid) is
  'Service role only (payment-status). The latest offline payment of an order session as private.offline_hold_json shows it, or NULL.';
grant execute on function checkout.offline_payment(uuid) to service_role;

create function checkout.offline_methods_allowed(p_order_session_id uuid)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  s public.order_sessions;
  refusal text;
begin
  select * into s from public.order_sessions where id = p_order_session_id;
  if not found then
    raise exception 'no such order session' using errcode = 'CKO01';
  end if;
  refusal := private.offline_refusal(s);
  return jsonb_build_object('allowed', refusal is null, 'reason', refusal);
end
$$;
comment on function checkout.offline_methods_allowed(uuid) is
  'Service role only (create-preference, before it creates the preference). Whether the preference for this order session may offer offline methods: {allowed, reason} with reason card_only, shopper_limit or variant_share (private.offline_refusal, read without locks: the limit is enforced again when a payment arrives). CKO01 for an unknown session.';
grant execute on function checkout.offline_methods_allowed(uuid) to service_role;

create function private.cancel_pending_parts(s public.order_sessions)
returns integer
language plpgsql set search_path = ''
as $$
declare
  n integer;
begin
  -- s closed owing its approved parts back: a part still pending or
  -- in_process at MercadoPago (a second card in review, a ticket) could
  -- still be paid, for stock no longer held. Each becomes an ended hold,
  -- cancellation due now: claim_offline_expiry hands it to the reconcile
  -- function (PUT cancelled, then record_offline_cancel), once. An offline
  -- part already has its row, ended when the session closed
  -- (private.end_offline_holds). The caller holds the session's lock.
  insert into checkout.offline_holds (payment_id, order_session_id, session_id, payment_type, payment_method, status, refusal,
                                      deadline, hold_until, next_cancel_at)
  select distinct on (pe.payment_id) pe.payment_id, s.id, s.session_id, coalesce(pe.payment_type, 'unknown'), pe.payment_method,
         'ended', 'session_closed', now(), now(), now()
    from checkout.payment_events pe
   where pe.order_session_id = s.id and pe.status in ('pending', 'in_process')
     and not exists (select 1 from checkout.payment_events f
                      where f.payment_id = pe.payment_id and f.status not in ('pending', 'in_process'))
   order by pe.payment_id
  on conflict (payment_id) do nothing;
  get diagnostics n = row_count;
  return n;
end
$$;
comment on function private.cancel_pending_parts(public.order_sessions) is
  'For a session closed owing its approved parts back (checkout.refund_unpaired_parts): every payment of it still pending or in_process (seen so, and in no other status since), of any type, gets an ended checkout.offline_holds row with its cancellation at MercadoPago due now (refusal session_closed), claimed by checkout.claim_offline_expiry. Once per payment; returns how many it added. The caller holds the session''s lock.';
grant execute on function private.cancel_pending_parts(public.order_sessions) to service_role;

create function checkout.claim_offline_expiry(p_limit integer default 100)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  lim integer := greatest(least(p_limit, 1000), 1);
  ended uuid[];
  claimed jsonb;
begin
  -- 1. Live holds whose end has passed, or whose session closed, unpaid. The
  --    session is locked (skip locked: one being paid right now is left to
  --    apply_payment and seen on the next pass); an active one is expired
  --    and its stock released in this transaction, unless another live
  --    hold still extends it.
  --    A session that closed (paid, cancelled, expired) ended its holds at
  --    once (private.end_offline_holds), so the due ones are one index range.
  with due as (
    select h.payment_id, s.id as order_session_id, s.status, s.expires_at
      from checkout.offline_holds h
      join public.order_sessions s on s.id = h.order_session_id
     where h.status in ('holding', 'refused') and h.hold_until <= now()
     order by h.hold_until
     limit lim
       for update of s skip locked
  ), paid as (
    update checkout.offline_holds h set status = 'paid', next_cancel_at = null, updated_at = now()
      from due where h.payment_id = due.payment_id
       and exists (select 1 from checkout.payment_events pe where pe.payment_id = h.payment_id and pe.status = 'approved')
    returning h.payment_id
  ), ending as (
    update checkout.offline_holds h set status = 'ended', next_cancel_at = now(), updated_at = now()
      from due where h.payment_id = due.payment_id and h.payment_id not in (select payment_id from paid)
    returning h.payment_id, h.order_session_id
  ), expired as (
    update public.order_sessions s set status = 'expired', closed_at = now()
     where s.id in (select order_session_id from due where status = 'active' and expires_at <= now())
       and s.id in (select order_session_id from ending)
    returning s.id
  )
  select coalesce(array_agg(id), '{}') into ended from expired;
  perform private.release_stock(ended);
  insert into checkout.order_session_events (order_session_id, kind, detail)
  select id, 'expired', '{"reason": "offline payment hold ended unpaid"}'::jsonb from unnest(ended) id;

  -- 2. Cancellations due (now, or retries after a failure), claimed with
  --    back-off so overlapping runs never send the same one together.
  with due as (
    select h.payment_id from checkout.offline_holds h
     where h.status = 'ended' and h.next_cancel_at <= now()
     order by h.next_cancel_at
     limit lim
       for update skip locked
  ), claimed as (
    update checkout.offline_holds h
       set cancel_attempts = h.cancel_attempts + 1,
           next_cancel_at = now() + least(interval '1 minute' * power(2, least(h.cancel_attempts, 20)), interval '6 hours'),
           updated_at = now()
      from due where h.payment_id = due.payment_id
    returning h.payment_id, h.order_session_id, h.cancel_attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('payment_id', c.payment_id, 'order_session_id', c.order_session_id,
                                               'attempts', c.cancel_attempts) order by c.payment_id), '[]'::jsonb)
    into claimed from claimed c;
  return claimed;
end
$$;
comment on function checkout.claim_offline_expiry(integer) is
  'Service role only (reconcile function, every minute). Ends up to p_limit offline holds whose hold ended (or whose session closed) unpaid: expires the session and releases its stock, marks the hold ended; then claims the payments whose cancellation at MercadoPago is due, counting the attempt and moving the next one forward (1 minute doubling, at most 6 hours). A hold whose payment was approved meanwhile is marked paid instead. Returns [{payment_id, order_session_id, attempts}].';
grant execute on function checkout.claim_offline_expiry(integer) to service_role;

create function checkout.record_offline_cancel(p_payment_id bigint, p_error text default null)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  h checkout.offline_holds;
begin
  -- Approved before it could be cancelled (MercadoPago answered 400): the
  -- caller applied it (the late path); nothing is left to cancel.
  update checkout.offline_holds set status = 'paid', next_cancel_at = null, updated_at = now()
   where payment_id = p_payment_id and status = 'ended'
     and exists (select 1 from checkout.payment_events pe where pe.payment_id = p_payment_id and pe.status = 'approved')
  returning * into h;
  if h.payment_id is not null then
    return private.offline_hold_json(h);
  end if;
  if p_error is null then
    update checkout.offline_holds
       set status = 'cancelled', cancelled_at = coalesce(cancelled_at, now()), next_cancel_at = null, last_error = null, updated_at = now()
     where payment_id = p_payment_id and status = 'ended'
    returning * into h;
    if h.payment_id is not null then
      perform private.log_event(h.order_session_id, 'offline_payment_cancelled', '{"by": "store"}'::jsonb, p_payment_id);
    end if;
  else
    update checkout.offline_holds set last_error = left(p_error, 500), updated_at = now()
     where payment_id = p_payment_id and status = 'ended'
    returning * into h;
  end if;
  if h.payment_id is null then
    select * into h from checkout.offline_holds where payment_id = p_payment_id;
  end if;
  return private.offline_hold_json(h);
end
$$;
comment on function checkout.record_offline_cancel(bigint, text) is
  'Service role only (reconcile function). Records that an ended offline payment was cancelled at MercadoPago (p_error null: once; later calls change nothing), or why the attempt failed (p_error: retried at next_cancel_at); one whose approval was applied meanwhile is marked paid instead. Returns the hold as private.offline_hold_json, or NULL for an unknown payment.';
grant execute on function checkout.record_offline_cancel(bigint, text) to service_role;

create function private.offline_violations()
returns setof jsonb
language sql stable set search_path = ''
as $$
  -- A live hold must end within the hour after its end, and an ended one be
  -- cancelled within the hour (the reconcile function runs every minute).
  select jsonb_build_object('invariant', 'offline_hold_past_end', 'subject', h.payment_id::text,
                            'detail', jsonb_build_object('payment_id', h.payment_id, 'order_session_id', h.order_session_id,
                                                         'status', h.status, 'hold_until', h.hold_until))
    from checkout.offline_holds h
    join public.order_sessions s on s.id = h.order_session_id
   where h.status in ('holding', 'refused') and s.status = 'active' and s.expires_at < now() - interval '1 hour'
  union all
  select jsonb_build_object('invariant', 'offline_payment_not_cancelled', 'subject', h.payment_id::text,
                            'detail', jsonb_build_object('payment_id', h.payment_id, 'order_session_id', h.order_session_id,
                                                         'attempts', h.cancel_attempts, 'last_error', h.last_error))
    from checkout.offline_holds h
   where h.status = 'ended' and h.last_error is not null and h.updated_at < now() - interval '1 hour'
$$;
comment on function private.offline_violations() is
  'The offline-payment invariants checkout.audit() adds: offline_hold_past_end (an active session still held an hour after its hold ended), offline_payment_not_cancelled (an ended hold whose cancellation keeps failing for over an hour).';
grant execute on function private.offline_violations() to service_role;

-- ---------------------------------------------------------------------------
-- The dashboard (admin function, GET /admin/offline-payments)

create function admin.offline_payments(p_claims jsonb)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
  perform admin.require_staff(p_claims);
  return jsonb_build_object(
    'generated_at', now(),
    -- Units held right now by payments waiting for the buyer, per product.
    'held_by_product', coalesce((
      select jsonb_agg(jsonb_build_object('product_id', x.product_id, 'title', x.title, 'units', x.units, 'payments', x.payments)
                       order by x.units desc, x.title)
        from (select p.id as product_id, p.title, sum(r.quantity)::integer as units, count(distinct h.payment_id)::integer as payments
                from checkout.offline_holds h
                join checkout.stock_reservations r on r.order_session_id = h.order_session_id and r.expires_at > now()
                join public.variants v on v.id = r.variant_id
                join public.products p on p.id = v.product_id
               where h.status = 'holding' and h.hold_until > now()
               group by p.id, p.title) x), '[]'::jsonb),
    -- Payments waiting for the buyer, soonest deadline first.
    'awaiting', coalesce((
      select jsonb_agg(jsonb_build_object(
               'payment_id', h.payment_id::text, 'order_session_id', h.order_session_id, 'payment_type_id', h.payment_type,
               'payment_method_id', h.payment_method, 'status', h.status, 'refusal', h.refusal, 'deadline', h.deadline,
               'hold_until', h.hold_until, 'total', s.total, 'currency', s.currency, 'email', s.payer ->> 'email',
               'label', 'esperando pago') order by h.deadline, h.payment_id)
        from (select o.* from checkout.offline_holds o
               where o.status in ('holding', 'refused') and o.deadline > now()
                 and exists (select 1 from public.order_sessions a where a.id = o.order_session_id and a.status = 'active')
               order by o.deadline limit 200) h
        join public.order_sessions s on s.id = h.order_session_id), '[]'::jsonb),
    -- Offline payments whose hold ended unpaid (cancelled at MercadoPago, or due).
    'expired_unpaid', jsonb_build_object(
      'last_7_days', (select count(*) from checkout.offline_holds h
                       where h.status in ('ended', 'cancelled') and h.updated_at > now() - interval '7 days' and private.is_offline_type(h.payment_type)),
      'total', (select count(*) from checkout.offline_holds h where h.status in ('ended', 'cancelled') and private.is_offline_type(h.payment_type)),
      'cancel_pending', (select count(*) from checkout.offline_holds h where h.status = 'ended' and private.is_offline_type(h.payment_type))),
    'paid', (select count(*) from checkout.offline_holds h where h.status = 'paid' and private.is_offline_type(h.payment_type))
  );
end
$$;
comment on function admin.offline_payments(jsonb) is
  'Service role only, staff claims required. Offline payments for the dashboard: units held by payments waiting for the buyer, per product (held_by_product); the payments waiting, soonest deadline first, at most 200 (awaiting, "esperando pago"); how many ended unpaid (expired_unpaid: last 7 days, total, cancellations still due) and how many were paid.';
grant execute on function admin.offline_payments(jsonb) to service_role;
