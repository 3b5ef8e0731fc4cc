-- Housekeeping and monitoring: expire order sessions, purge idle carts and
-- anonymous users who never came back, trim old sessions and pg_cron's own
-- history, and what the store owner watches: the stats and the audit of the
-- money and stock invariants. Service role only.
-- Availability never waits for these: expired reservations are already free
-- (lazy expiry).
--
-- Every anonymous visit creates an auth.users row. A row is removed once the
-- shopper has been idle longer than anonymous_user_ttl (default 30 days) and
-- holds nothing live: no cart that has not expired, no active order session.
-- Their orders, order sessions and payments stay (they are keyed on the id,
-- not bound to the user row); the cart rows go with the user.

-- ---------------------------------------------------------------------------
-- Routines

create function checkout.expire_sessions(p_batch_size integer default 1000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  expired_ids uuid[];
begin
  -- skip locked: a session being paid right now is left to apply_payment.
  with due as (
    select id from public.order_sessions
     where status = 'active' and expires_at <= now()
     order by expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  ), moved as (
    update public.order_sessions s
       set status = 'expired', closed_at = now()
      from due where s.id = due.id
    returning s.id
  )
  select coalesce(array_agg(id), '{}') into expired_ids from moved;

  perform private.release_stock(expired_ids);
  insert into checkout.order_session_events (order_session_id, kind, detail)
  select id, 'expired', '{"reason": "reservation time ran out"}'::jsonb from unnest(expired_ids) id;
  return coalesce(array_length(expired_ids, 1), 0);
end
$$;
comment on function checkout.expire_sessions(integer) is
  'Service role only. Expires up to p_batch_size active order sessions past expires_at and releases their reservations (private.release_stock); returns how many.';
grant execute on function checkout.expire_sessions(integer) to service_role;

create function checkout.purge_carts(p_batch_size integer default 5000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  purged integer;
  tz text := (private.current_settings()).analytics_time_zone;
begin
  perform pg_catalog.set_config('analytics.cart_purge', 'on', true);
  -- One statement: every part reads the carts and lines as they were before
  -- the delete (and its cascade to the lines).
  with doomed as (
    select c.session_id, c.created_at from public.carts c
     where c.expires_at < now()
     order by c.expires_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  ), held as (
    select d.session_id, ci.variant_id, ci.quantity, v.price, v.currency, v.sku, p.title || ' - ' || v.title as title
      from doomed d
      join public.cart_items ci on ci.session_id = d.session_id
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
  ), facts as (
    insert into analytics.cart_facts as f (session_id, created_at, purged_at, abandoned_units, abandoned_value, currency)
    select d.session_id, d.created_at, now(), coalesce(sum(h.quantity), 0), coalesce(sum(h.quantity * h.price), 0), min(h.currency)
      from doomed d
      left join held h on h.session_id = d.session_id
     group by d.session_id, d.created_at
    on conflict (session_id, created_at) do update
       set purged_at = excluded.purged_at, abandoned_units = excluded.abandoned_units,
           abandoned_value = excluded.abandoned_value, currency = excluded.currency
  ), products as (
    insert into analytics.abandoned_products as a (day, source, variant_id, sku, title, currency, carts, units, value)
    select (now() at time zone tz)::date, 'cart', h.variant_id, min(h.sku), min(h.title), min(h.currency),
           count(*), sum(h.quantity), sum(h.quantity * h.price)
      from held h
     group by h.variant_id
    on conflict (day, source, variant_id) do update
       set carts = a.carts + excluded.carts, units = a.units + excluded.units, value = a.value + excluded.value
  )
  delete from public.carts c using doomed d where c.session_id = d.session_id;
  get diagnostics purged = row_count;
  perform pg_catalog.set_config('analytics.cart_purge', 'off', true);
  return purged;
end
$$;
comment on function checkout.purge_carts(integer) is
  'Service role only. Deletes up to p_batch_size carts (with their lines) idle past expires_at; carts being used are skipped, not waited for. In the same statement, records what each held in analytics.cart_facts and analytics.abandoned_products. Returns how many.';
grant execute on function checkout.purge_carts(integer) to service_role;

create function checkout.trim_sessions(p_batch_size integer default 5000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  trimmed integer;
begin
  with doomed as (
    select s.id from public.order_sessions s
     where s.status in ('expired', 'cancelled')
       and s.closed_at < now() - (private.current_settings()).trim_after
       and not exists (select 1 from checkout.payment_events pe where pe.order_session_id = s.id)
       and not exists (select 1 from checkout.payment_refunds pr where pr.order_session_id = s.id)
       and not exists (select 1 from public.orders o where o.order_session_id = s.id)
     order by s.closed_at
     limit greatest(p_batch_size, 1)
       for update skip locked
  )
  delete from public.order_sessions s using doomed where s.id = doomed.id;
  get diagnostics trimmed = row_count;
  return trimmed;
end
$$;
comment on function checkout.trim_sessions(integer) is
  'Service role only. Deletes expired and cancelled order sessions closed more than trim_after (30 days) ago that never saw a payment. Never touches orders. Returns how many.';
grant execute on function checkout.trim_sessions(integer) to service_role;

create function checkout.purge_anonymous_users(p_batch_size integer default 1000)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  purged integer;
  idle_since timestamptz := now() - (private.current_settings()).anonymous_user_ttl;
begin
  with doomed as (
    select u.id
      from auth.users u
     where u.is_anonymous
       and greatest(u.created_at, u.last_sign_in_at, u.updated_at) < idle_since
       and not exists (select 1 from auth.sessions s where s.user_id = u.id and greatest(s.created_at, s.updated_at) >= idle_since)
       and not exists (select 1 from public.carts c where c.session_id = u.id and c.expires_at > now())
       and not exists (
         select 1 from public.order_sessions os where os.session_id = u.id and os.status = 'active' and os.expires_at > now()
       )
     order by u.created_at
     limit greatest(p_batch_size, 1)
  )
  delete from auth.users u using doomed where u.id = doomed.id;
  get diagnostics purged = row_count;
  return purged;
end
$$;
comment on function checkout.purge_anonymous_users(integer) is
  'Service role only. Deletes up to p_batch_size anonymous Auth users idle longer than anonymous_user_ttl with no live cart and no active order session (their orders and order sessions stay). Returns how many; pg_cron calls it daily in committed batches.';
grant execute on function checkout.purge_anonymous_users(integer) to service_role;

-- The audit: every money and stock invariant, checked over every row (run on
-- demand: admin.audit, GET /order-sessions-admin/audit).
create function checkout.audit()
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
grant execute on function checkout.audit() to service_role;

create function checkout.stats()
returns jsonb
language sql stable security definer set search_path = ''
as $$
  with by_status as (
    select s.status::text as status, count(*) as n from public.order_sessions s group by s.status
  ), day as (
    select count(*) filter (where s.status = 'paid') as paid,
           count(*) filter (where s.status in ('expired', 'cancelled', 'refund_owed', 'refunded')) as lost,
           count(*) as created
      from public.order_sessions s
     where s.created_at > now() - interval '24 hours'
  ), unsettled as (
    select pe.payment_id, pe.order_session_id, pe.transaction_amount, pe.currency, pe.received_at
      from checkout.payment_events pe
     where pe.status = 'approved'
       and not exists (select 1 from checkout.order_payments p where p.payment_id = pe.payment_id)
       and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
  )
  select jsonb_build_object(
    'generated_at', now(),
    'sessions_by_status', (
      select jsonb_object_agg(st, coalesce((select n from by_status b where b.status = st), 0))
        from unnest(enum_range(null::public.order_session_status)::text[]) st
    ),
    'conversion_rate', (
      select case when sum(n) filter (where status <> 'active') > 0
                  then round(coalesce(sum(n) filter (where status = 'paid'), 0)::numeric / sum(n) filter (where status <> 'active'), 4)
             end
        from by_status
    ),
    'last_24h', (select jsonb_build_object(
      'created', d.created, 'paid', d.paid,
      'conversion_rate', case when d.paid + d.lost > 0 then round(d.paid::numeric / (d.paid + d.lost), 4) end) from day d),
    'active_reservations', (
      select jsonb_build_object('sessions', count(distinct r.order_session_id), 'units', coalesce(sum(r.quantity), 0))
        from checkout.stock_reservations r where r.expires_at > now()
    ),
    'late_payments', jsonb_build_object(
      'orders', (select count(*) from public.orders o where o.paid_late),
      'out_of_stock', (select count(*) from checkout.payment_refunds pr where pr.reason = 'out_of_stock')
    ),
    'refunds_owed', (
      select jsonb_build_object('count', coalesce(sum(x.n), 0), 'by_currency', coalesce(jsonb_object_agg(x.currency, x.amount), '{}'::jsonb))
        from (select pr.currency, sum(pr.amount) as amount, count(*) as n
                from checkout.payment_refunds pr where pr.status = 'owed' group by pr.currency) x
    ),
    'refunds_made', (select count(*) from checkout.payment_refunds pr where pr.status = 'refunded'),
    'refunds_by_reason', (
      select coalesce(jsonb_object_agg(x.reason, x.n), '{}'::jsonb)
        from (select pr.reason, count(*) as n from checkout.payment_refunds pr group by pr.reason) x
    ),
    'amount_mismatches', (select count(*) from checkout.payment_refunds pr where pr.reason = 'amount_mismatch'),
    'unmatched_payments', (
      select jsonb_build_object('count', count(*), 'by_currency', coalesce(jsonb_object_agg(y.currency, y.amount) filter (where y.currency is not null), '{}'::jsonb))
        from (select u.currency, sum(u.transaction_amount) as amount from unsettled u where u.order_session_id is null group by u.currency) y
    ),
    'expired_last_24h', (
      select count(*) from public.order_sessions s
       where s.status = 'expired' and s.closed_at > now() - interval '24 hours'
    ),
    'stuck', jsonb_build_object(
      'refunds_owed_over_1h', (select count(*) from checkout.payment_refunds pr where pr.status = 'owed' and pr.created_at < now() - interval '1 hour'),
      'approved_payments_unsettled_over_1h', (select count(*) from unsettled u where u.received_at < now() - interval '1 hour'),
      'sessions_active_past_expiry_over_1h', (
        select count(*) from public.order_sessions s where s.status = 'active' and s.expires_at < now() - interval '1 hour'),
      'preferences_open_over_1h', (
        select count(*) from public.order_sessions s
         where s.status in ('expired', 'cancelled') and s.preference_id is not null and s.preference_expired_at is null
           and s.expires_at > now() and s.closed_at < now() - interval '1 hour')
    ),
    'orders', (
      select jsonb_build_object('total', coalesce(sum(x.n), 0),
        'by_status', coalesce(jsonb_object_agg(x.status, x.n), '{}'::jsonb))
        from (select o.status::text as status, count(*) as n from public.orders o group by o.status) x
    )
  )
$$;
comment on function checkout.stats() is
  'Service role only. Monitoring for the store owner: sessions by status, conversion rate (all time and last 24 h), active reservations, late payments, refunds owed, made and by reason, amount mismatches, approved payments matching no session (unmatched_payments), sessions expired in the last 24 h, anything stuck for more than an hour (stuck: refunds owed, approved payments without an outcome, active sessions the cron has not expired, cancelled sessions whose preference is still payable), orders by status.';
grant execute on function checkout.stats() to service_role;

create function checkout.cleanup()
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  expired integer := 0;
  purged integer := 0;
  trimmed integer := 0;
  n integer;
begin
  loop n := checkout.expire_sessions(1000); expired := expired + n; exit when n < 1000; end loop;
  loop n := checkout.purge_carts(5000); purged := purged + n; exit when n < 5000; end loop;
  loop n := checkout.trim_sessions(5000); trimmed := trimmed + n; exit when n < 5000; end loop;
  return jsonb_build_object('expired_sessions', expired, 'purged_carts', purged, 'trimmed_sessions', trimmed);
end
$$;
comment on function checkout.cleanup() is
  'Service role only. The manual cleanup behind the admin Edge Function: expire due sessions, purge expired carts, trim old sessions, in one transaction. Returns the counts.';
grant execute on function checkout.cleanup() to service_role;

-- ---------------------------------------------------------------------------
-- Schedules. cron.schedule with a job name replaces an existing job of that
-- name.
--
-- Each batch job is a DO block that commits after every batch, so that
-- expiring thousands of sessions or purging a million carts never holds its
-- locks for long. (A DO block rather than a procedure: a procedure may only
-- COMMIT without a `set search_path` clause, which the advisors rightly
-- require; the functions it loops over have theirs.) pg_cron runs the
-- command as a top-level statement, where COMMIT is allowed.

select cron.schedule('checkout-expire-sessions', '* * * * *',
  'do $$ begin while checkout.expire_sessions(1000) = 1000 loop commit; end loop; end $$');
select cron.schedule('checkout-purge-carts', '17 * * * *',
  'do $$ begin while checkout.purge_carts(5000) = 5000 loop commit; end loop; end $$');
select cron.schedule('checkout-trim-sessions', '43 3 * * *',
  'do $$ begin while checkout.trim_sessions(5000) = 5000 loop commit; end loop; end $$');
select cron.schedule('checkout-purge-anonymous-users', '23 4 * * *',
  'do $$ begin while checkout.purge_anonymous_users(1000) = 1000 loop commit; end loop; end $$');

-- pg_cron records every run in cron.job_run_details and never deletes them;
-- with a job a minute that is 1,440 rows a day. Keep a week (Supabase's own
-- advice for this table).
select cron.schedule('checkout-trim-cron-history', '51 4 * * *',
  $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);
