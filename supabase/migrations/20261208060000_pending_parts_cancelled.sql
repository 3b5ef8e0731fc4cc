-- Issue 23: a two-card session closed owing its approved parts back cancels
-- its parts still pending at MercadoPago (a second card in_process, a
-- ticket), through the offline payments' claim and cancellation: each
-- becomes an ended checkout.offline_holds row (any payment type now), which
-- checkout.claim_offline_expiry hands to the reconcile function; a card
-- part first seen pending after its session closed so is cancelled too
-- (trigger on checkout.payment_events). The
-- shopper's and the dashboard's offline views keep to offline types.

alter table checkout.offline_holds drop constraint offline_holds_payment_type_check;
alter table checkout.offline_holds add constraint offline_holds_payment_type_check check (payment_type ~ '^[a-z_]{1,40}$');
comment on table checkout.offline_holds is
  'One row per offline payment (ticket, atm, bank_transfer) seen pending for an order session: its deadline, how long it holds the stock (hold_until), what the buyer needs to pay it (instructions: ticket URL, barcode, Pix QR) and its cancellation at MercadoPago. status: holding (the session''s reservation runs to hold_until) or refused (over a hoarding limit: holds nothing more), then paid, ended (hold over unpaid: cancellation due at next_cancel_at) or cancelled (at MercadoPago). Also one row, born ended (refusal session_closed), per part of any other type (a card in_process) still pending when its session closed owing its approved parts back (private.cancel_pending_parts): the same cancellation. Service role only.';


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
    -- Its parts still pending at MercadoPago are cancelled there (12_offline_payments.sql).
    perform private.cancel_pending_parts(s);
  end loop;
  return done;
end
$$;
comment on function checkout.refund_unpaired_parts(interval, integer) is
  'Service role only (reconcile function). Order sessions whose hold ended more than p_grace ago with approved parts that never covered the total (a second card rejected or never paid): each is closed as refund_owed, every part waiting is owed back (reason unpaired_part) and every part still pending or in_process is claimed for cancellation at MercadoPago (private.cancel_pending_parts), once (claimed under the session''s lock). Returns the cannot_fulfil answers.';
grant execute on function checkout.refund_unpaired_parts(interval, integer) to service_role;

create or replace function checkout.offline_payment(p_order_session_id uuid)
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

create or replace function admin.offline_payments(p_claims jsonb)
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

