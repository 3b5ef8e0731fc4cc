-- Refunds and reconciliation: every approved payment reaches a final state.
-- A payment that cannot become an order is owed back (checkout.payment_refunds,
-- 06_payments_and_orders.sql) and refunded until MercadoPago confirms it;
-- notifications that never arrived are asked for. Service role only.
--
-- The reconcile Edge Function (edge/reconcile, every minute) does three
-- things, each claiming its work here first so that two runs never do the
-- same item and a run that dies mid-way is retried later:
--   1. sessions that could have been paid without us hearing of it
--      (claim_reconciliation): it searches MercadoPago's payments by
--      external_reference and applies each one with checkout.apply_payment,
--      the webhook's routine;
--   2. refunds owed (claim_refunds; first refund_unpaired_parts owes back the
--      approved parts of two-card payments whose other part never came): it
--      asks MercadoPago to refund, with the
--      same idempotency key every time, and records the answer
--      (record_refund, or note_refund_failure and back off);
--   3. preferences of cancelled sessions that MercadoPago would still accept
--      (claim_preference_expiry): it expires them there, then
--      mark_preference_expired.
-- checkout.audit() (13_housekeeping.sql) lists any broken money or stock
-- invariant.

-- ---------------------------------------------------------------------------
-- Routines

create function private.owe_refund(
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
  r checkout.payment_refunds;
begin
  insert into checkout.payment_refunds (payment_id, order_session_id, amount, currency, reason)
  values (p_payment_id, s.id, coalesce(p_amount, 0), coalesce(p_currency, s.currency), p_reason)
  on conflict (payment_id) do nothing
  returning * into r;
  if r.id is null then
    select * into r from checkout.payment_refunds where payment_id = p_payment_id;
  else
    perform private.log_event(s.id, 'refund_owed',
      jsonb_build_object('reason', p_reason, 'amount', p_amount, 'currency', p_currency) || coalesce(p_detail, '{}'), p_payment_id);
  end if;
  return jsonb_build_object(
    'payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
    'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id);
end
$$;
comment on function private.owe_refund(public.order_sessions, bigint, numeric, text, text, jsonb) is
  'Records (once per payment) that an approved payment must be refunded, and why; logs refund_owed with p_detail. The refund itself is made by the functions (webhook, return, reconcile).';
grant execute on function private.owe_refund(public.order_sessions, bigint, numeric, text, text, jsonb) to service_role;

create function private.cannot_fulfil(
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

-- A refund can be recorded twice from two sides: the function that made it
-- (with MercadoPago's refund id) and the `refunded` notification that
-- follows (with the id of the payment's latest refund, or without one), in
-- either order. The second fills in a missing id.
create function checkout.record_refund(p_payment_id bigint, p_mp_refund_id text)
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

-- A dashboard refund made at MercadoPago (or refused: p_error). The order
-- follows: refunded once everything its payments brought in is refunded,
-- otherwise partially_refunded.
create function checkout.record_order_refund(p_refund_id uuid, p_mp_refund_id text, p_error text default null)
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
comment on function checkout.record_order_refund(uuid, text, text) is
  'Service role only. Records a dashboard refund (checkout.order_refunds) as made at MercadoPago, with its refund id, or the error that left it owed (p_error); idempotent. The order moves to partially_refunded, or refunded once its whole total is. CKO01 unknown refund.';
grant execute on function checkout.record_order_refund(uuid, text, text) to service_role;

-- A two-card payment whose second part never came (rejected, abandoned)
-- leaves an approved part waiting. Once the session's hold has ended and a
-- grace has passed, the parts waiting are owed back (reason unpaired_part)
-- through cannot_fulfil and the session closes as refund_owed; the reconcile
-- function's refund pass makes the refunds, and its parts still pending
-- (a card in_process, a ticket) are cancelled at MercadoPago
-- (private.cancel_pending_parts). A part arriving later finds the
-- session closed and is owed back too (duplicate_payment). Kept apart from
-- the offline holds' expiry: a session whose hold an offline payment extends
-- has a later expires_at, which this routine honours.
create function checkout.refund_unpaired_parts(
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

create function checkout.claim_refunds(p_limit integer default 20)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
begin
  with due as (
    select r.id from checkout.payment_refunds r
     where r.status = 'owed' and r.next_attempt_at <= now()
     order by r.next_attempt_at
     limit greatest(least(p_limit, 200), 1)
       for update skip locked
  ), claimed as (
    update checkout.payment_refunds r
       set attempts = r.attempts + 1,
           next_attempt_at = now() + least(interval '1 minute' * power(2, least(r.attempts, 20)), interval '6 hours')
      from due where r.id = due.id
    returning r.payment_id, r.order_session_id, r.amount, r.currency, r.reason, r.attempts
  )
  select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) into claimed from claimed c;
  return claimed;
end
$$;
comment on function checkout.claim_refunds(integer) is
  'Service role only (reconcile function). Claims up to p_limit refunds owed whose next attempt is due, counting the attempt and moving the next one forward (1 minute doubling, at most 6 hours). Returns [{payment_id, order_session_id, amount, currency, reason, attempts}].';
grant execute on function checkout.claim_refunds(integer) to service_role;

create function checkout.claim_order_refunds(p_limit integer default 20)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  claimed jsonb;
begin
  with due as (
    select r.id from checkout.order_refunds r
     where r.status = 'owed' and r.next_attempt_at <= now()
     order by r.next_attempt_at
     limit greatest(least(p_limit, 200), 1)
       for update skip locked
  ), claimed as (
    update checkout.order_refunds r
       set attempts = r.attempts + 1,
           next_attempt_at = now() + least(interval '1 minute' * power(2, least(r.attempts, 20)), interval '6 hours')
      from due where r.id = due.id
    returning r.id, r.order_id, r.payment_id::text as payment_id, r.amount, r.currency, r.attempts
  )
  select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) into claimed from claimed c;
  return claimed;
end
$$;
comment on function checkout.claim_order_refunds(integer) is
  'Service role only (reconcile function). Claims up to p_limit dashboard refunds (checkout.order_refunds) still owed whose next attempt is due (the dashboard makes the first one; 2 minutes later the reconcile function takes over), counting the attempt and moving the next one forward (1 minute doubling, at most 6 hours). The caller makes each at MercadoPago with the dashboard''s idempotency key and calls checkout.record_order_refund. Returns [{id, order_id, payment_id, amount, currency, attempts}].';
grant execute on function checkout.claim_order_refunds(integer) to service_role;

create function checkout.note_refund_failure(p_payment_id bigint, p_error text)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  r checkout.payment_refunds;
begin
  update checkout.payment_refunds
     set last_error = left(coalesce(p_error, 'unknown error'), 500)
   where payment_id = p_payment_id and status = 'owed'
  returning * into r;
  if not found then
    return null;
  end if;
  if r.order_session_id is not null then
    perform private.log_event(r.order_session_id, 'refund_failed',
      jsonb_build_object('attempts', r.attempts, 'error', r.last_error, 'next_attempt_at', r.next_attempt_at), p_payment_id);
  end if;
  return jsonb_build_object('payment_id', r.payment_id, 'attempts', r.attempts, 'next_attempt_at', r.next_attempt_at, 'last_error', r.last_error);
end
$$;
comment on function checkout.note_refund_failure(bigint, text) is
  'Service role only. Records why a refund attempt failed (MercadoPago refused or was unreachable); the refund stays owed and is retried at next_attempt_at.';
grant execute on function checkout.note_refund_failure(bigint, text) to service_role;

create function checkout.claim_reconciliation(
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

create function checkout.claim_preference_expiry(p_limit integer default 50)
returns jsonb
language sql security definer set search_path = ''
as $$
  -- An expired session's preference lapsed with it (expiration_date_to is
  -- the reservation's end); a cancelled one's is still payable until then.
  select coalesce(jsonb_agg(jsonb_build_object('order_session_id', x.id, 'preference_id', x.preference_id, 'status', x.status)), '[]'::jsonb)
    from (select s.id, s.preference_id, s.status from public.order_sessions s
           where s.status in ('expired', 'cancelled') and s.preference_id is not null
             and s.preference_expired_at is null and s.expires_at > now()
           order by s.closed_at
           limit greatest(least(p_limit, 500), 1)) x
$$;
comment on function checkout.claim_preference_expiry(integer) is
  'Service role only (reconcile function). Cancelled or expired sessions whose MercadoPago preference may still be paid (its expiration_date_to, the reservation''s end, has not passed) and has not been expired at MercadoPago yet. Returns [{order_session_id, preference_id, status}].';
grant execute on function checkout.claim_preference_expiry(integer) to service_role;

create function checkout.mark_preference_expired(p_order_session_id uuid)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  update public.order_sessions set preference_expired_at = now()
   where id = p_order_session_id and preference_expired_at is null;
  if found then
    perform private.log_event(p_order_session_id, 'preference_expired', '{}'::jsonb);
  end if;
end
$$;
comment on function checkout.mark_preference_expired(uuid) is
  'Service role only. Records that the session''s preference was expired at MercadoPago (idempotent).';
grant execute on function checkout.mark_preference_expired(uuid) to service_role;

-- ---------------------------------------------------------------------------
-- Schedule: the reconcile Edge Function every minute, on hosted Supabase:
-- pg_cron calls it through pg_net, as Supabase documents for scheduled
-- functions (https://supabase.com/docs/guides/functions/schedule-functions).
-- The project URL and the service role key are read from Vault at each run,
-- so neither is written here:
--
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service role key>', 'service_role_key');
--
-- The job is created only where pg_net is installed (hosted Supabase, or
-- `create extension pg_net` first; then run this block again). Elsewhere it is
-- skipped with a notice: the local stack (npm start) calls the same function
-- on the same schedule itself, and the tests call it directly.

do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    perform cron.schedule('checkout-reconcile', '* * * * *', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url') || '/functions/v1/reconcile',
        headers := jsonb_build_object(
          'Content-Type', 'application/json',
          'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets where name = 'service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 55000)
    $job$);
  else
    raise notice 'pg_net is not installed: the checkout-reconcile cron job was not created (the local stack schedules reconcile itself)';
  end if;
end
$$;
