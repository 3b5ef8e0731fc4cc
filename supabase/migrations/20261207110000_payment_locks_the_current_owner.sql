-- A payment racing a cart merge could skip the cart lock (issue 20). A
-- payment for the anonymous checkout S_A reads S_A's owner, then waits for
-- that cart's lock, which the merge holds. The merge deletes that cart and
-- moves S_A to the account, so when the payment goes on it holds no cart
-- lock at all, and the account's own payment (which holds the account's
-- cart) is no longer queued behind it: each could see no order in the
-- merged checkout group and both could become orders.
--
-- apply_payment now locks the cart of the session's current owner: after
-- taking a cart's lock it reads the owner again, and if a merge moved the
-- session meanwhile it locks the new owner's cart too, before the session
-- (the lock order stays cart, then order session). Once the owner read
-- after the lock is the owner of the locked cart, no merge can move the
-- session any more: a merge locks both carts.

create or replace function checkout.apply_payment(p_payment jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  ref text;
  s public.order_sessions;
  owner uuid;
  locked uuid;
begin
  perform private.check_payment(p_payment);
  ref := p_payment ->> 'external_reference';

  -- Locks in begin_checkout's order: the shopper's cart, the order session,
  -- then (in settle_approved) the coupon and the variants by id. Every caller
  -- for the same session queues here. A merge may move the session to
  -- another owner while this waits for the cart: then the new owner's cart
  -- is locked as well.
  loop
    select os.session_id into owner from public.order_sessions os where os.token = ref;
    exit when owner is null or owner is not distinct from locked;
    perform 1 from public.carts cart where cart.session_id = owner for update;
    locked := owner;
  end loop;
  select * into s from public.order_sessions where token = ref for update;

  perform private.record_payment(s, p_payment);
  if s.id is null then
    return jsonb_build_object('order_session_id', null, 'outcome', 'unknown_session',
                              'payment_id', (p_payment ->> 'id')::bigint, 'status', p_payment ->> 'status');
  end if;
  if p_payment ->> 'status' = 'approved' then
    return private.settle_approved(s, p_payment);
  end if;
  return private.follow_payment(s, p_payment);
end
$$;
comment on function checkout.apply_payment(jsonb) is
  'Service role only. Applies a payment as fetched from MercadoPago (id, status, status_detail, transaction_amount, currency_id, external_reference, payment_type_id, ...), idempotent and safe under concurrent calls; the webhook, the buyer''s return and the reconcile job all call it. Locks the cart of the order session''s current owner (again if a cart merge moved the session while it waited), then the order session, records the payment, then: approved goes to private.settle_approved (one order, or a refund owed: never an error for a shortfall); other statuses to private.follow_payment. A payment matching no session is recorded (outcome unknown_session) and shown by stats and audit. Returns {outcome, payment_id, session_status, order?, refund?}.';
