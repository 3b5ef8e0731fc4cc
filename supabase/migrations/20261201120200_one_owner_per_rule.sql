-- One owner per rule (issue 10). checkout.apply_payment was one routine with
-- nine outcomes, and the same rules lived in several places. Here each rule
-- is one small private routine, and the public routines call them:
--
--   private.release_stock        frees a session's reserved units: the one
--                                path used by cancel, expire, commit and
--                                "cannot fulfil".
--   private.short_lines          the one builder of the "short lines" list
--                                ({variant_id, sku, title, requested,
--                                available, reason}) for checkouts and
--                                payments alike.
--   private.cannot_fulfil        the one "cannot fulfil" path (Saleor's fail
--                                handler): release, record the refund owed,
--                                close the session. Out of stock, coupon used
--                                up, stock lowered below the reservation,
--                                superseded by another session of the same
--                                cart checkout.
--   private.owe_refund           records (once) that an approved payment
--                                must be paid back.
--   private.check_payment        validates apply_payment's argument.
--   private.record_payment       the payment_events row, once per status.
--   private.settle_known_payment a payment we already answered, a wrong
--                                amount, a second payment.
--   private.settle_approved      an approved payment: superseded? taken
--                                over? stock? then commit or cannot fulfil.
--   private.commit_order         the order, the stock decrement, the cart.
--   private.follow_payment       refunds, chargebacks and mediations move the
--                                order's status.
--
-- No exception path on commit: every shortfall is found under the variant
-- locks before the decrement and becomes a recorded refund owed, so an
-- approved payment can never become a 500 that MercadoPago retries forever.
--
-- Superseded checkouts. A new checkout cancels the cart's active session and
-- joins its checkout_group. When a payment arrives for a session of a group:
--   * another session of the group already became an order: this payment is
--     refunded (reason superseded), whichever session was paid first;
--   * a newer session of the group is still active (unpaid): the payment
--     TAKES OVER. The newer session is cancelled and its stock released, and
--     this one is fulfilled as a late payment (re-reserved if the stock is
--     there, else refunded out_of_stock and the newer session left alone).
--     The buyer paid for that snapshot; refunding it and asking them to pay
--     again would lose the sale, and the newer session can no longer be paid
--     twice because a payment for it now finds the group paid and is refunded.

-- ---------------------------------------------------------------------------
-- Releasing stock

create function private.release_stock(p_order_session_ids uuid[])
returns integer
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  -- The statement trigger on stock_reservations lowers variants.reserved,
  -- locking the variants by id.
  delete from public.stock_reservations where order_session_id = any (p_order_session_ids);
  get diagnostics n = row_count;
  return n;
end
$$;
revoke execute on function private.release_stock(uuid[]) from public, anon, authenticated;
comment on function private.release_stock(uuid[]) is
  'The one path that frees order sessions'' reserved units (cancel, expire, commit, cannot fulfil). Returns how many reservation rows it deleted.';
grant execute on function private.release_stock(uuid[]) to service_role;

create or replace function private.close_order_session(p_order_session_id uuid, p_status public.order_session_status, p_reason text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  update public.order_sessions
     set status = p_status, closed_at = now()
   where id = p_order_session_id;
  perform private.release_stock(array[p_order_session_id]);
  perform private.log_event(p_order_session_id, p_status::text, jsonb_build_object('reason', p_reason));
end
$$;
comment on function private.close_order_session(uuid, public.order_session_status, text) is
  'Moves an active order session to expired or cancelled and releases its reservation (private.release_stock). The caller holds the session''s row lock.';

-- ---------------------------------------------------------------------------
-- Short lines

create function private.short_lines(
  p_lines jsonb,
  p_holder uuid default null,
  p_freed uuid[] default '{}',
  p_for_sale boolean default false
)
returns jsonb
language sql
stable
set search_path = ''
as $$
  -- A unit is available to a line when nobody else holds it. A line its
  -- session still holds (an unexpired reservation of p_holder) may take any
  -- unit on hand: if the store lowered stock below what was reserved, the
  -- first of the holders to pay gets it. Units held by p_freed sessions
  -- (about to be cancelled) count as free.
  select coalesce(jsonb_agg(jsonb_build_object(
           'variant_id', x.variant_id, 'sku', x.sku, 'title', x.title, 'requested', x.requested,
           'available', case when x.sellable then x.available else 0 end,
           'reason', case when x.sellable then 'insufficient_stock' else 'not_for_sale' end) order by x.sku), '[]'::jsonb)
    from (
      select l.variant_id, l.sku, l.title, l.quantity as requested,
             not p_for_sale or coalesce(v.active and p.active, false) as sellable,
             greatest(case
               when exists (select 1 from public.stock_reservations r
                             where r.order_session_id = p_holder and r.variant_id = l.variant_id and r.expires_at > now())
                 then v.stock_on_hand
               else private.available_stock(l.variant_id) + coalesce((
                 select sum(r.quantity)::integer from public.stock_reservations r
                  where r.order_session_id = any (p_freed) and r.variant_id = l.variant_id and r.expires_at > now()), 0)
             end, 0) as available
        from jsonb_to_recordset(p_lines) as l(variant_id uuid, sku text, title text, quantity integer)
        left join public.variants v on v.id = l.variant_id
        left join public.products p on p.id = v.product_id
    ) x
   where not x.sellable or x.requested > x.available
$$;
revoke execute on function private.short_lines(jsonb, uuid, uuid[], boolean) from public, anon, authenticated;
comment on function private.short_lines(jsonb, uuid, uuid[], boolean) is
  'The one builder of the short-lines list: the lines ([{variant_id, sku, title, quantity}]) that cannot be had now, as [{variant_id, sku, title, requested, available, reason}] with reason insufficient_stock or not_for_sale (only when p_for_sale). p_holder''s unexpired reservations may take any unit on hand; p_freed''s count as free. Callers hold the variants'' locks.';
grant execute on function private.short_lines(jsonb, uuid, uuid[], boolean) to service_role;

-- ---------------------------------------------------------------------------
-- Refunds owed and the "cannot fulfil" path

drop function private.owe_refund_unfulfilled(public.order_sessions, bigint, numeric, text, text, jsonb);
drop function private.owe_refund(public.order_sessions, bigint, numeric, text, text);

create function private.owe_refund(
  s public.order_sessions,
  p_payment_id bigint,
  p_amount numeric,
  p_currency text,
  p_reason text,
  p_detail jsonb default '{}'
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  r public.payment_refunds;
begin
  insert into public.payment_refunds (payment_id, order_session_id, amount, currency, reason)
  values (p_payment_id, s.id, coalesce(p_amount, 0), coalesce(p_currency, s.currency), p_reason)
  on conflict (payment_id) do nothing
  returning * into r;
  if r.id is null then
    select * into r from public.payment_refunds where payment_id = p_payment_id;
  else
    perform private.log_event(s.id, 'refund_owed',
      jsonb_build_object('reason', p_reason, 'amount', p_amount, 'currency', p_currency) || coalesce(p_detail, '{}'), p_payment_id);
  end if;
  return jsonb_build_object(
    'payment_id', r.payment_id, 'amount', r.amount, 'currency', r.currency,
    'reason', r.reason, 'status', r.status, 'mp_refund_id', r.mp_refund_id);
end
$$;
revoke execute on function private.owe_refund(public.order_sessions, bigint, numeric, text, text, jsonb) from public, anon, authenticated;
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
language plpgsql
set search_path = ''
as $$
declare
  closed public.order_sessions;
begin
  perform private.release_stock(array[s.id]);
  update public.order_sessions set status = 'refund_owed', payment_id = p_payment_id, paid_at = now(), closed_at = now()
   where id = s.id returning * into closed;
  return jsonb_build_object('order_session_id', closed.id, 'outcome', 'refund_owed', 'payment_id', p_payment_id,
                            'session_status', closed.status,
                            'refund', private.owe_refund(closed, p_payment_id, p_amount, p_currency, p_reason, p_detail))
         || coalesce(p_detail, '{}');
end
$$;
revoke execute on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) from public, anon, authenticated;
comment on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) is
  'The one "cannot fulfil" path for an approved payment of the right amount: releases the session''s stock, moves it to refund_owed and records the refund owed (out_of_stock, stock_lowered, coupon_used_up, superseded). The caller holds the session''s lock.';
grant execute on function private.cannot_fulfil(public.order_sessions, bigint, numeric, text, text, jsonb) to service_role;

-- ---------------------------------------------------------------------------
-- Checkout

create or replace function checkout.begin_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  prev_id uuid;
  prev_ids uuid[];
  variant_ids uuid[];
  snapshot jsonb;
  short jsonb;
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  v_discount numeric(12, 2) := 0;
  v_code text := upper(nullif(btrim(p_coupon_code), ''));
  v_group uuid;
  c public.coupons;
  s public.order_sessions;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_payer) is distinct from 'object'
     or coalesce(p_payer ->> 'email', '') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'payer must be an object with a valid email' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_shipping_address) is distinct from 'object' then
    raise exception 'shipping address must be an object' using errcode = 'CKI01';
  end if;

  -- Locks, always in this order everywhere: the shopper's cart, order
  -- sessions, the coupon, then variants by id. The variant locks serialise
  -- checkouts of a hot product, so everything that can be done before them
  -- is: they are held only for the availability check and the reservation.

  -- 1. One checkout at a time per shopper: lock the cart.
  perform 1 from public.carts where session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- 2. A shopper has at most one active order session: the previous one is
  --    cancelled and its stock released before this one reserves. The new
  --    session joins its checkout group (see the header of this migration).
  select coalesce(array_agg(id order by id), '{}'), min(checkout_group::text)::uuid into prev_ids, v_group
    from (select id, checkout_group from public.order_sessions
           where session_id = p_session_id and status = 'active'
           order by id
             for update) prev;

  -- 3. The lines, summed per variant, at the prices read now.
  with items as (
    select ci.variant_id, sum(ci.quantity)::integer as quantity
      from public.cart_items ci
     where ci.session_id = p_session_id
     group by ci.variant_id
  ), priced as (
    select i.variant_id, i.quantity, v.sku, p.title || ' - ' || v.title as title, v.price, v.currency
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         count(distinct currency), min(currency), sum(price * quantity), sum(quantity)
    into snapshot, variant_ids, currencies, cur, v_subtotal, v_items
    from priced;

  if variant_ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;

  -- 4. The coupon, locked so that concurrent checkouts count its holders one
  --    at a time.
  if v_code is not null then
    select * into c from public.coupons where coupons.code = v_code for update;
    if not found or not c.active then
      raise exception 'unknown coupon %', v_code using errcode = 'CKP01', detail = jsonb_build_object('coupon', v_code)::text;
    end if;
    if (c.starts_at is not null and c.starts_at > now()) or (c.ends_at is not null and c.ends_at <= now()) then
      raise exception 'coupon % is not valid now', v_code
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'starts_at', c.starts_at, 'ends_at', c.ends_at)::text;
    end if;
    if v_subtotal < c.min_subtotal then
      raise exception 'coupon % needs a subtotal of at least % %', v_code, c.min_subtotal, cur
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'min_subtotal', c.min_subtotal, 'subtotal', v_subtotal)::text;
    end if;
    if c.kind = 'fixed' and c.currency <> cur then
      raise exception 'coupon % is in % but the cart is in %', v_code, c.currency, cur
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'currency', c.currency)::text;
    end if;
    if c.max_redemptions is not null then
      if private.coupon_holders(c.id, prev_ids) >= c.max_redemptions then
        raise exception 'coupon % has been used up', v_code
          using errcode = 'CKP03', detail = jsonb_build_object('coupon', v_code, 'max_redemptions', c.max_redemptions)::text;
      end if;
    end if;
    v_discount := case c.kind when 'percent' then round(v_subtotal * c.value / 100, 2) else c.value end;
    if private.is_whole_unit_currency(cur) then
      v_discount := round(v_discount);
    end if;
    if v_discount >= v_subtotal then
      raise exception 'coupon % would leave nothing to pay', v_code
        using errcode = 'CKP02', detail = jsonb_build_object('coupon', v_code, 'subtotal', v_subtotal)::text;
    end if;
  end if;

  -- 5. Cancel the previous session. Its release updates its variants, so
  --    they are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (variant_ids)
        or v.id in (select r.variant_id from public.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- 6. The snapshot (written before the variant locks to hold them briefly;
  --    an error below rolls it back).
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group
  ) values (
    p_session_id, snapshot, v_items, v_subtotal, v_discount, v_subtotal - v_discount, cur,
    c.id, case when c.id is null then null else v_code end, p_payer, p_shipping_address, now() + cfg.reservation_ttl,
    coalesce(v_group, gen_random_uuid())
  )
  returning * into s;
  insert into public.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object('total', s.total, 'currency', s.currency, 'coupon', s.coupon_code,
                                         'replaces', to_jsonb(prev_ids))),
    (s.id, 'reserved', jsonb_build_object('lines', (
       select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
         from jsonb_to_recordset(snapshot) as x(sku text, quantity integer)), 'expires_at', s.expires_at));

  -- 7. The variants, locked by id whatever the order of the cart's lines, so
  --    that concurrent checkouts cannot deadlock; then availability under
  --    the locks: every short line, or none. FOR UPDATE rather than FOR NO
  --    KEY UPDATE: the weaker lock lets other shoppers' cart inserts take
  --    their foreign-key share lock on the hot row, which turns it into a
  --    MultiXact; measured (npm run bench -- --only hot), their p99 during
  --    32-client checkouts went from 1.2-2.1x to 3.2-5.7x of the calm one.
  perform 1 from public.variants v where v.id = any (variant_ids) order by v.id for update;
  short := private.short_lines(snapshot, p_for_sale => true);
  if jsonb_array_length(short) > 0 then
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
  end if;

  -- 8. Reserve.
  insert into public.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select s.id, x.variant_id, x.quantity, s.expires_at
    from jsonb_to_recordset(snapshot) as x(variant_id uuid, quantity integer);

  return private.order_session_json(s);
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl: locks the cart, cancels the previous active session (the new one joins its checkout_group), locks the variants by id, re-reads prices, applies the coupon, snapshots and reserves. Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}, built by private.short_lines), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up.';

-- ---------------------------------------------------------------------------
-- Expiry

create or replace function checkout.expire_sessions(p_batch_size integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
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
  insert into public.order_session_events (order_session_id, kind, detail)
  select id, 'expired', '{"reason": "reservation time ran out"}'::jsonb from unnest(expired_ids) id;
  return coalesce(array_length(expired_ids, 1), 0);
end
$$;
comment on function checkout.expire_sessions(integer) is
  'Service role only. Expires up to p_batch_size active order sessions past expires_at and releases their reservations (private.release_stock); returns how many.';

-- ---------------------------------------------------------------------------
-- Payments, one rule per routine

create function private.check_payment(p_payment jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  pid bigint;
  amount numeric;
  st text := p_payment ->> 'status';
begin
  if jsonb_typeof(p_payment) is distinct from 'object' then
    raise exception 'payment must be a JSON object' using errcode = 'CKI01';
  end if;
  begin
    pid := (p_payment ->> 'id')::bigint;
    amount := (p_payment ->> 'transaction_amount')::numeric;
  exception when others then
    raise exception 'payment id must be an integer and transaction_amount a number' using errcode = 'CKI01';
  end;
  if pid is null or pid <= 0 then
    raise exception 'payment id must be a positive integer' using errcode = 'CKI01';
  end if;
  if st is null or st not in ('pending', 'approved', 'authorized', 'in_process', 'in_mediation',
                              'rejected', 'cancelled', 'refunded', 'charged_back') then
    raise exception 'unknown payment status %', coalesce(st, 'null') using errcode = 'CKI01';
  end if;
  if st = 'approved' and amount is null then
    raise exception 'an approved payment needs transaction_amount' using errcode = 'CKI01';
  end if;
end
$$;
revoke execute on function private.check_payment(jsonb) from public, anon, authenticated;
comment on function private.check_payment(jsonb) is
  'Validates a payment as apply_payment receives it: an object with a positive integer id, a known status, and a numeric transaction_amount when approved. CKI01 otherwise.';
grant execute on function private.check_payment(jsonb) to service_role;

create function private.record_payment(s public.order_sessions, p_payment jsonb)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  seen_first boolean;
begin
  insert into public.payment_events (
    payment_id, status, status_detail, order_session_id, external_reference,
    transaction_amount, currency, payment_type, payment_method, payload
  ) values (
    (p_payment ->> 'id')::bigint, p_payment ->> 'status', p_payment ->> 'status_detail', s.id, p_payment ->> 'external_reference',
    (p_payment ->> 'transaction_amount')::numeric, p_payment ->> 'currency_id',
    p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_payment
  )
  on conflict (payment_id, status) do nothing
  returning true into seen_first;
  if seen_first and s.id is not null then
    perform private.log_event(s.id, 'payment_seen', jsonb_build_object(
      'status', p_payment ->> 'status', 'status_detail', p_payment ->> 'status_detail',
      'amount', (p_payment ->> 'transaction_amount')::numeric, 'currency', p_payment ->> 'currency_id'),
      (p_payment ->> 'id')::bigint);
  end if;
  return coalesce(seen_first, false);
end
$$;
revoke execute on function private.record_payment(public.order_sessions, jsonb) from public, anon, authenticated;
comment on function private.record_payment(public.order_sessions, jsonb) is
  'Records a payment status once per (payment id, status) in payment_events (order_session_id NULL when it matches no session: shown by checkout.stats and checkout.audit), and logs payment_seen. True the first time.';
grant execute on function private.record_payment(public.order_sessions, jsonb) to service_role;

create function private.settle_known_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  o public.orders;
  r public.payment_refunds;
begin
  select * into o from public.orders where order_session_id = s.id;
  if o.id is not null then
    if o.payment_id = pid then
      if o.status = 'in_mediation' then
        -- A mediation settled in the store's favour: the payment is approved again.
        update public.orders set status = 'paid' where id = o.id returning * into o;
        perform private.log_event(s.id, 'order_status_changed', jsonb_build_object('order_id', o.id, 'status', 'paid'), pid);
      end if;
      -- The same approval again (MercadoPago repeats itself, even hours
      -- later): the same answer, nothing changes.
      return jsonb_build_object('order_session_id', s.id, 'outcome', 'already_paid', 'payment_id', pid, 'session_status', s.status, 'order', private.order_json(o));
    end if;
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
  end if;
  select * into r from public.payment_refunds where payment_id = pid;
  if found then
    -- Seen before and already owed back: answer as the first time.
    return jsonb_build_object('order_session_id', s.id,
      'outcome', case r.reason when 'amount_mismatch' then 'amount_mismatch' else 'refund_owed' end,
      'payment_id', pid, 'session_status', s.status, 'refund', private.owe_refund(s, pid, amount, cur, r.reason));
  end if;
  if s.status in ('refund_owed', 'refunded') then
    -- Another payment for a session that was already paid without stock.
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'refund_owed', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'duplicate_payment'));
  end if;
  if amount <> s.total or cur is distinct from s.currency then
    perform private.log_event(s.id, 'amount_mismatch', jsonb_build_object(
      'expected', s.total, 'expected_currency', s.currency, 'paid', amount, 'paid_currency', cur), pid);
    return jsonb_build_object('order_session_id', s.id, 'outcome', 'amount_mismatch', 'payment_id', pid, 'session_status', s.status,
      'refund', private.owe_refund(s, pid, amount, cur, 'amount_mismatch'));
  end if;
  return null;
end
$$;
revoke execute on function private.settle_known_payment(public.order_sessions, jsonb) from public, anon, authenticated;
comment on function private.settle_known_payment(public.order_sessions, jsonb) is
  'An approved payment that cannot start an order: the one already applied (same answer), a second payment for a session with an order or a refund (duplicate_payment), one seen before (same answer), a wrong amount or currency (amount_mismatch). NULL when none applies.';
grant execute on function private.settle_known_payment(public.order_sessions, jsonb) to service_role;

create function private.commit_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders;
begin
  -- The caller checked the stock under the variant locks (short_lines), so
  -- the decrement cannot take stock_on_hand below zero.
  update public.variants v
     set stock_on_hand = v.stock_on_hand - (l ->> 'quantity')::integer, updated_at = now()
    from jsonb_array_elements(s.lines) l
   where v.id = (l ->> 'variant_id')::uuid;
  perform private.release_stock(array[s.id]);

  insert into public.orders (
    order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
    payer, shipping_address, payment_type, payment_method, paid_late
  ) values (
    s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
    s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_late
  ) returning * into o;

  insert into public.order_lines (order_id, line_no, variant_id, sku, title, unit_price, quantity, line_total)
  select o.id, ord::smallint, (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title',
         (l ->> 'unit_price')::numeric, (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
    from jsonb_array_elements(s.lines) with ordinality as t(l, ord);

  update public.order_sessions set status = 'paid', payment_id = pid, paid_at = now(), closed_at = now()
   where id = s.id returning * into s;

  -- The bought units leave the cart; anything added since stays.
  delete from public.cart_items ci
   using jsonb_array_elements(s.lines) l
   where ci.session_id = s.session_id and ci.variant_id = (l ->> 'variant_id')::uuid
     and ci.quantity <= (l ->> 'quantity')::integer;
  update public.cart_items ci
     set quantity = ci.quantity - (l ->> 'quantity')::integer
    from jsonb_array_elements(s.lines) l
   where ci.session_id = s.session_id and ci.variant_id = (l ->> 'variant_id')::uuid;

  perform private.log_event(s.id, 'committed', jsonb_build_object(
    'order_id', o.id, 'order_number', o.order_number, 'paid_late', p_late), pid);
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_created', 'payment_id', pid, 'session_status', s.status,
                            'order', private.order_json(o));
end
$$;
revoke execute on function private.commit_order(public.order_sessions, jsonb, boolean) from public, anon, authenticated;
comment on function private.commit_order(public.order_sessions, jsonb, boolean) is
  'Creates the one order of a session whose stock was checked under the variant locks: decrements stock_on_hand, releases the reservation, copies the lines, marks the session paid and removes the bought units from the cart.';
grant execute on function private.commit_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.settle_approved(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  answer jsonb := private.settle_known_payment(s, p_payment);
  late boolean := not (s.status = 'active' and s.expires_at > now());
  rivals uuid[] := '{}';
  rival uuid;
  c public.coupons;
  short jsonb;
begin
  if answer is not null then
    return answer;
  end if;

  if late then
    -- Another session of this cart checkout became the order: this payment
    -- is the second one for the same goods.
    if exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                where g.checkout_group = s.checkout_group and g.id <> s.id) then
      return private.cannot_fulfil(s, pid, amount, cur, 'superseded');
    end if;
    -- A newer session of the group still waiting for its payment is taken
    -- over (cancelled) if this one can be fulfilled.
    select coalesce(array_agg(g.id order by g.id), '{}') into rivals
      from (select id from public.order_sessions
             where checkout_group = s.checkout_group and id <> s.id and status = 'active'
             order by id
               for update) g;
    -- A late payment's coupon redemption may have gone to someone else
    -- meanwhile (the coupon is locked before the variants, as in begin_checkout).
    if s.coupon_id is not null then
      select * into c from public.coupons where id = s.coupon_id for update;
      if c.max_redemptions is not null and private.coupon_holders(c.id, array[s.id] || rivals) >= c.max_redemptions then
        return private.cannot_fulfil(s, pid, amount, cur, 'coupon_used_up');
      end if;
    end if;
  end if;

  perform 1 from public.variants v
   where v.id in (select (l ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) l)
      or v.id in (select r.variant_id from public.stock_reservations r where r.order_session_id = any (rivals))
   order by v.id
     for update;
  short := private.short_lines(s.lines, case when late then null else s.id end, rivals);
  if jsonb_array_length(short) > 0 then
    return private.cannot_fulfil(s, pid, amount, cur, case when late then 'out_of_stock' else 'stock_lowered' end,
                                 jsonb_build_object('short', short));
  end if;

  foreach rival in array rivals loop
    perform private.close_order_session(rival, 'cancelled', 'taken over by a payment for an earlier checkout');
    perform private.log_event(s.id, 'taken_over', jsonb_build_object('cancelled', rival), pid);
  end loop;
  return private.commit_order(s, p_payment, late);
end
$$;
revoke execute on function private.settle_approved(public.order_sessions, jsonb) from public, anon, authenticated;
comment on function private.settle_approved(public.order_sessions, jsonb) is
  'An approved payment for a session: a known or wrong payment (settle_known_payment); a late one whose checkout group already has an order (superseded) or whose coupon was used up meanwhile; otherwise the stock is checked under the variant locks (short_lines) and the order committed, taking over a newer unpaid session of the group, or the payment is refunded (out_of_stock late, stock_lowered on time). Never raises for a shortfall.';
grant execute on function private.settle_approved(public.order_sessions, jsonb) to service_role;

create function private.follow_payment(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  st text := p_payment ->> 'status';
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
    if st = 'refunded' and exists (select 1 from public.payment_refunds where payment_id = pid and status = 'owed') then
      return checkout.record_refund(pid, null);
    end if;
  end if;
  -- pending, in_process, authorized, rejected, cancelled: recorded; an
  -- active session stays active so the buyer can pay again until it expires.
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'recorded', 'payment_id', pid, 'status', st, 'session_status', s.status,
                            'order', case when o.id is null then null else private.order_json(o) end);
end
$$;
revoke execute on function private.follow_payment(public.order_sessions, jsonb) from public, anon, authenticated;
comment on function private.follow_payment(public.order_sessions, jsonb) is
  'A payment that is not approved: refunded, charged_back and in_mediation move the order''s status forward; refunded settles a refund owed; anything else is only recorded.';
grant execute on function private.follow_payment(public.order_sessions, jsonb) to service_role;

create or replace function checkout.apply_payment(p_payment jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  ref text;
  s public.order_sessions;
begin
  perform private.check_payment(p_payment);
  ref := p_payment ->> 'external_reference';

  -- Locks in begin_checkout's order: the shopper's cart, the order session,
  -- then (in settle_approved) the coupon and the variants by id. Every caller
  -- for the same session queues here.
  perform 1 from public.carts cart
   where cart.session_id = (select os.session_id from public.order_sessions os where os.token = ref)
     for update;
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
  'Service role only. Applies a payment as fetched from MercadoPago (id, status, status_detail, transaction_amount, currency_id, external_reference, payment_type_id, ...), idempotent and safe under concurrent calls; the webhook, the buyer''s return and the reconcile job all call it. Locks the order session, records the payment, then: approved goes to private.settle_approved (one order, or a refund owed: never an error for a shortfall); other statuses to private.follow_payment. A payment matching no session is recorded (outcome unknown_session) and shown by stats and audit. Returns {outcome, payment_id, session_status, order?, refund?}.';
