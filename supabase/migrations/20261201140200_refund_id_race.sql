-- The refund id MercadoPago gave is kept even when its 'refunded'
-- notification recorded the refund first (the webhook racing itself under
-- load: apply_payment records the refund without an id, then the call that
-- made the refund found it already recorded and dropped the id).
-- Redefines checkout.record_refund from 20261123000700_orders.sql (the latest
-- body on main) with only the else branch changed.

create or replace function checkout.record_refund(p_payment_id bigint, p_mp_refund_id text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  r public.payment_refunds;
  s public.order_sessions;
begin
  select * into r from public.payment_refunds where payment_id = p_payment_id for update;
  if not found then
    raise exception 'no refund is owed for payment %', p_payment_id using errcode = 'CKO01';
  end if;
  if r.status = 'owed' then
    update public.payment_refunds
       set status = 'refunded', mp_refund_id = coalesce(p_mp_refund_id, mp_refund_id), refunded_at = now()
     where id = r.id returning * into r;
    select * into s from public.order_sessions where id = r.order_session_id for update;
    if s.status = 'refund_owed' and s.payment_id = p_payment_id then
      update public.order_sessions set status = 'refunded' where id = s.id returning * into s;
    end if;
    perform private.log_event(r.order_session_id, 'refunded',
      jsonb_build_object('amount', r.amount, 'currency', r.currency, 'mp_refund_id', r.mp_refund_id, 'reason', r.reason), p_payment_id);
  else
    -- Already recorded: by MercadoPago's own 'refunded' notification, which
    -- can win the race against the call that made the refund and knows its
    -- id. Keep that id.
    if r.mp_refund_id is null and p_mp_refund_id is not null then
      update public.payment_refunds set mp_refund_id = p_mp_refund_id where id = r.id returning * into r;
    end if;
    select * into s from public.order_sessions where id = r.order_session_id;
  end if;
  return jsonb_build_object('order_session_id', r.order_session_id, 'outcome', 'refund_recorded', 'payment_id', p_payment_id, 'session_status', s.status,
    'refund', jsonb_build_object('payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
                                 'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id));
end
$$;

comment on function checkout.record_refund(bigint, text) is
  'Service role only. Records that an owed refund was made in MercadoPago (idempotent); a session paid without stock moves to refunded.';
