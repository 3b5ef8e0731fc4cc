-- Dashboard refunds (checkout.order_refunds) that could not be made when
-- asked (MercadoPago unavailable, or the recording lost after MercadoPago
-- made it) were left owed for ever, and kept counting against what is left
-- to refund. The reconcile function now retries them with back-off and the
-- same idempotency key (checkout.claim_order_refunds), and the audit reports
-- one owed for over an hour.

alter table checkout.order_refunds
  add column attempts integer not null default 0 check (attempts >= 0),
  add column next_attempt_at timestamptz not null default now() + interval '2 minutes';
create index order_refunds_owed_idx on checkout.order_refunds (next_attempt_at) where status = 'owed';
comment on table checkout.order_refunds is
  'Refunds of part or all of an order the store keeps, asked from the dashboard (admin.refund_order) and spread over its payments: one row per payment and request, owed until MercadoPago confirms it (checkout.record_order_refund). Never more than a payment brought in. One the dashboard could not make (MercadoPago unavailable, the recording lost) is retried by the reconcile function from next_attempt_at (checkout.claim_order_refunds), with the same idempotency key. Service role only.';

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
         and not exists (select 1 from checkout.order_payments p where p.payment_id = pe.payment_id and p.order_id is not null)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
         -- a part of a two-card payment may wait for the rest until its hold has ended
         and not exists (select 1 from checkout.order_payments p join public.order_sessions s on s.id = p.order_session_id
                          where p.payment_id = pe.payment_id and p.order_id is null and s.expires_at > now() - interval '1 hour')
      union all
      -- and never both: a payment in an order is not also owed back (but for
      -- a fraud alert's, which stops the order and returns its money)
      select jsonb_build_object('invariant', 'payment_in_order_and_refunded', 'subject', p.payment_id::text,
                                'detail', jsonb_build_object('payment_id', p.payment_id, 'order_id', p.order_id, 'reason', r.reason))
        from checkout.order_payments p
        join checkout.payment_refunds r on r.payment_id = p.payment_id
       where p.order_id is not null and r.reason <> 'fraud_alert'
      union all
      -- every order's payments were approved and add up to its total, in its currency
      select jsonb_build_object('invariant', 'order_without_approved_payment', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'payment_id', o.payment_id))
        from public.orders o
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = o.payment_id and pe.status = 'approved')
          or exists (select 1 from checkout.order_payments p where p.order_id = o.id
                      and not exists (select 1 from checkout.payment_events pe where pe.payment_id = p.payment_id and pe.status = 'approved'))
      union all
      select jsonb_build_object('invariant', 'order_parts_mismatch', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'total', o.total, 'currency', o.currency,
                                                             'paid', coalesce(p.paid, 0), 'currencies', p.currencies))
        from public.orders o
        left join (select order_id, sum(amount) as paid, jsonb_agg(distinct currency) as currencies
                     from checkout.order_payments where order_id is not null group by order_id) p on p.order_id = o.id
       where p.paid is distinct from o.total or p.currencies is distinct from jsonb_build_array(o.currency)
      union all
      -- a refund never exceeds what the payment's approval brought in
      select jsonb_build_object('invariant', 'refund_exceeds_payment', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'refund', r.amount, 'paid', pe.transaction_amount))
        from checkout.payment_refunds r
        join checkout.payment_events pe on pe.payment_id = r.payment_id and pe.status = 'approved'
       where r.amount > pe.transaction_amount
      union all
      select jsonb_build_object('invariant', 'refund_exceeds_payment', 'subject', p.payment_id::text,
                                'detail', jsonb_build_object('payment_id', p.payment_id, 'refund', x.refunded, 'paid', p.amount))
        from checkout.order_payments p
        join (select payment_id, sum(amount) as refunded from checkout.order_refunds group by payment_id) x on x.payment_id = p.payment_id
       where x.refunded > p.amount
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
      select jsonb_build_object('invariant', 'refund_owed_over_1h', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'order_id', r.order_id, 'refund_id', r.id,
                                                             'reason', 'dashboard', 'amount', r.amount, 'currency', r.currency,
                                                             'owed_since', r.created_at, 'attempts', r.attempts, 'last_error', r.last_error))
        from checkout.order_refunds r
       where r.status = 'owed' and r.created_at < now() - interval '1 hour'
      union all
      -- a fraud-alerted order is stopped and its money owed back or returned
      -- (14_disputes.sql)
      select jsonb_build_object('invariant', 'fraud_alert_not_acted', 'subject', o.order_number,
                                'detail', jsonb_build_object('payment_id', fa.payment_id, 'order_id', o.id, 'do_not_ship', o.do_not_ship,
                                                             'status', o.status, 'alerted_at', fa.created_at))
        from checkout.fraud_alerts fa
        -- the alerted payment's order, through any of its parts (two cards)
        join public.orders o on o.id = coalesce(
               (select op.order_id from checkout.order_payments op where op.payment_id = fa.payment_id),
               (select o2.id from public.orders o2 where o2.payment_id = fa.payment_id))
       where not o.do_not_ship
          or (o.status not in ('refunded', 'charged_back')
              and not exists (select 1 from checkout.payment_refunds r
                               where r.payment_id = fa.payment_id or r.payment_id = o.payment_id
                                  or r.payment_id in (select op.payment_id from checkout.order_payments op where op.order_id = o.id)))
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
      union all
      -- offline payments' holds end, and are cancelled (12_offline_payments.sql)
      select o from private.offline_violations() o
    ) x(v)
$$;
comment on function checkout.audit() is
  'Service role only (and GET /order-sessions-admin/audit). Every violation of the money and stock invariants, as [{invariant, subject, detail}]; empty when all hold: reserved_counter_mismatch, stock_below_zero (also fewer units on hand than unexpired reservations), approved_payment_unsettled (in no order and owed back by no refund, once a part of a two-card payment has waited an hour past its session''s hold; matches_no_session for money that arrived for nothing we know), payment_in_order_and_refunded (but for a fraud alert''s refund), order_without_approved_payment (also a part of the order without an approval), order_parts_mismatch (the order''s payments do not add up to its total in its currency), refund_exceeds_payment (a refund owed, or the dashboard''s refunds of a payment, more than it brought in), two_orders_one_checkout, two_orders_one_merged_cart (an order from a checkout a cart merge cancelled, and another from a checkout of the account open at the merge or begun after it, before that order), paid_session_without_order, closed_session_holds_stock, refund_owed_over_1h (a refund owed back, or one the dashboard asked for, not made within the hour), fraud_alert_not_acted (a fraud-alerted order, found through any of its payments, not do_not_ship, or neither refunded, charged back nor any of its payments owed back), dispute_without_payment (a chargeback or claim on a payment never applied), notification_unprocessed_over_1h (a stored fraud alert, chargeback or claim not acted on).';
