-- A refund's MercadoPago id is never lost.
--
-- The function that makes an owed refund records MercadoPago's refund id. If
-- it fails after MercadoPago made the refund (a timeout, the database gone),
-- the next news of the payment says `refunded`, and follow_payment recorded
-- the refund without the id, for good. The functions now pass the id of the
-- payment's latest refund with the payment (`refund_id`, from MercadoPago's
-- `refunds`), and a `refunded` payment records it: it settles a refund still
-- owed, or fills in the id of one recorded without it.

create or replace function private.follow_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  st text := p_payment ->> 'status';
  refund_id text := nullif(p_payment ->> 'refund_id', '');
  o public.orders;
begin
  select * into o from public.orders where order_session_id = s.id;
  if st in ('refunded', 'charged_back', 'in_mediation') then
    if o.id is not null and o.payment_id = pid then
      -- Forward only: a stale in_mediation after a refund changes nothing.
      if private.order_status_may_move(o.status, st::public.order_status) then
        update public.orders set status = st::public.order_status where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', st), pid);
      end if;
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_updated', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    if st = 'refunded' and exists (
      select 1 from public.payment_refunds
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
  'A payment that is not approved: refunded, charged_back and in_mediation move the order''s status forward; refunded settles a refund owed, or fills in MercadoPago''s refund id (p_payment ->> ''refund_id'') of one recorded without it; anything else is only recorded.';
