-- Payments take their stock last (issue 25): an on-time session's order is
-- written first and the variants locked only for the decrement and the
-- commit (private.commit_held_order), so payments sharing a product no longer
-- queue on its row for the whole order. A short line undoes that and takes
-- the locked path as before. Same definitions as supabase/schemas/06_payments_and_orders.sql.

create function private.record_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns public.orders
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders;
  financing numeric;
  parts bigint[];
begin
  -- Read before the insert: an order whose payment had a fraud alert is born
  -- stopped and its payment owed back (14_disputes.sql), yet it is the order's.
  select coalesce(sum(p.financing_cost), 0), array_agg(p.payment_id) into financing, parts from private.counted_parts(s.id) p;
  insert into public.orders (
    order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
    payer, shipping_address, payment_type, payment_method, paid_late, financing_cost
  ) values (
    s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
    s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_late, financing
  ) returning * into o;
  -- Every part counted toward the session now belongs to the order.
  update checkout.order_payments set order_id = o.id where payment_id = any (parts);

  update public.order_sessions set status = 'paid', payment_id = pid, paid_at = now(), closed_at = now()
   where id = s.id;
  return o;
end
$$;
comment on function private.record_order(public.order_sessions, jsonb, boolean) is
  'The order of a session whose counted parts cover its total, without its stock: records the parts'' financing cost on the order, gives every part the order''s id and marks the session paid. Its callers take the stock (private.commit_order, private.commit_held_order).';
grant execute on function private.record_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.finish_order(s public.order_sessions, o public.orders, p_payment_id bigint, p_late boolean)
returns jsonb
language plpgsql set search_path = ''
as $$
begin
  -- After the stock: a line's foreign key share-locks its variant, which
  -- would stop another payment's lock of the variant (commit_held_order).
  insert into public.order_lines (order_id, line_no, variant_id, sku, title, unit_price, quantity, line_total)
  select o.id, ord::smallint, (l ->> 'variant_id')::uuid, l ->> 'sku', l ->> 'title',
         (l ->> 'unit_price')::numeric, (l ->> 'quantity')::integer, (l ->> 'line_total')::numeric
    from jsonb_array_elements(s.lines) with ordinality as t(l, ord);

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
    'order_id', o.id, 'order_number', o.order_number, 'paid_late', p_late), p_payment_id);
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_created', 'payment_id', p_payment_id, 'session_status', 'paid',
                            'order', private.order_json(o));
end
$$;
comment on function private.finish_order(public.order_sessions, public.orders, bigint, boolean) is
  'The last step of a committed order, after its stock: copies the lines, removes the bought units from the cart, logs committed and answers {outcome order_created, order}.';
grant execute on function private.finish_order(public.order_sessions, public.orders, bigint, boolean) to service_role;

create or replace function private.commit_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns jsonb
language plpgsql set search_path = ''
as $$
begin
  -- The caller checked the stock under the variant locks (short_lines), so
  -- the decrement cannot take stock_on_hand below zero.
  update public.variants v
     set stock_on_hand = v.stock_on_hand - l.quantity, updated_at = now()
    from jsonb_to_recordset(s.lines) as l(variant_id uuid, quantity integer)
   where v.id = any (array(select (x ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) x)) and v.id = l.variant_id;
  perform private.release_stock(array[s.id]);
  return private.finish_order(s, private.record_order(s, p_payment, p_late), (p_payment ->> 'id')::bigint, p_late);
end
$$;
comment on function private.commit_order(public.order_sessions, jsonb, boolean) is
  'Creates the one order of a session whose stock was checked under the variant locks and whose counted parts cover its total: decrements stock_on_hand, releases the reservation, then private.record_order and private.finish_order.';
grant execute on function private.commit_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.commit_held_order(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  o public.orders := private.record_order(s, p_payment, false);
  ids uuid[];
  quantities integer[];
  taken integer;
begin
  -- The variants last, so that payments sharing a product queue on its row
  -- only for the decrement and the commit, not for the whole order. Each
  -- line must still be held by the session (an unexpired reservation) and
  -- be on hand: short_lines' rule for a holder's line. Locks by id, as
  -- everywhere; the ids as an array, so the variants are read through their
  -- key (a join with the lines' JSON was planned as a scan of every variant).
  select array_agg((l ->> 'variant_id')::uuid), array_agg((l ->> 'quantity')::integer) into ids, quantities
    from jsonb_array_elements(s.lines) l;
  perform 1 from public.variants v where v.id = any (ids) order by v.id for update;
  update public.variants v
     set stock_on_hand = v.stock_on_hand - l.quantity, updated_at = now()
    from unnest(ids, quantities) as l(variant_id, quantity)
   where v.id = any (ids) and v.id = l.variant_id and v.stock_on_hand >= l.quantity
     and exists (select 1 from checkout.stock_reservations r
                  where r.order_session_id = s.id and r.variant_id = v.id and r.expires_at > now());
  get diagnostics taken = row_count;
  if taken < cardinality(ids) then
    -- Caught by settle_approved, which undoes this and checks under the locks.
    raise exception 'order session % is short of a line', s.id using errcode = 'CKS90';
  end if;
  perform private.release_stock(array[s.id]);
  return private.finish_order(s, o, (p_payment ->> 'id')::bigint, false);
end
$$;
comment on function private.commit_held_order(public.order_sessions, jsonb) is
  'The order of an on-time session, its stock taken last: private.record_order, then the variants locked by id and each line decremented when the session still holds it and it is on hand (short_lines'' rule for a holder), the reservation released, private.finish_order. Raises CKS90 when a line is short (the caller undoes it and takes the locked path); never seen outside the database.';
grant execute on function private.commit_held_order(public.order_sessions, jsonb) to service_role;

create or replace function private.settle_approved(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  amount numeric := (p_payment ->> 'transaction_amount')::numeric;
  cur text := p_payment ->> 'currency_id';
  answer jsonb := private.settle_known_payment(s, p_payment);
  late boolean := not (s.status = 'active' and s.expires_at > now());
  rivals uuid[] := '{}';
  rival uuid;
  c checkout.coupons;
  short jsonb;
begin
  if answer is not null then
    return answer;
  end if;

  -- Parts add up (two cards). A payment of the whole total replaces parts
  -- still waiting for their partner: those are owed back.
  if amount = s.total then
    perform private.owe_refund(s, p.payment_id, p.amount, p.currency, 'unpaired_part') from private.counted_parts(s.id) p;
  end if;
  perform private.count_part(s, p_payment);
  if private.counted_amount(s.id) < s.total then
    -- Not an order yet; a part for goods another checkout of the cart
    -- already bought is owed back at once (with any part before it).
    if late and private.is_group_ordered(s) then
      return private.cannot_fulfil(s, pid, amount, cur, 'superseded');
    end if;
    return private.partly_paid(s, pid);
  end if;

  if late then
    -- Another session of this cart checkout became the order: this payment
    -- is the second one for the same goods.
    if private.is_group_ordered(s) then
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
      select * into c from checkout.coupons where id = s.coupon_id for update;
      if c.max_redemptions is not null and private.coupon_holders(c.id, array[s.id] || rivals) >= c.max_redemptions then
        return private.cannot_fulfil(s, pid, amount, cur, 'coupon_used_up');
      end if;
    end if;
  end if;

  if not late then
    -- The common case: the order first, its stock last (commit_held_order).
    -- A short line undoes it here and goes the locked way below, which
    -- answers the shortfall.
    begin
      return private.commit_held_order(s, p_payment);
    exception when sqlstate 'CKS90' then
      null;
    end;
  end if;
  perform 1 from public.variants v
   where v.id in (select (l ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) l)
      or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (rivals))
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
comment on function private.settle_approved(public.order_sessions, jsonb) is
  'An approved payment for a session: a known or wrong payment (settle_known_payment); a part counted toward the session (count_part; a payment of the whole total replaces parts waiting, which are owed back as unpaired_part), not an order while the counted parts do not cover the total (outcome partly_paid; a late part of a superseded checkout is owed back at once); then a late one whose checkout group already has an order (superseded) or whose coupon was used up meanwhile; otherwise an on-time session''s order is committed with its stock taken last (private.commit_held_order), or, when a line is short there or the payment is late, the stock is checked under the variant locks (short_lines) and the order committed, taking over a newer unpaid session of the group, or the payment is refunded (out_of_stock late, stock_lowered on time). Never raises for a shortfall.';
grant execute on function private.settle_approved(public.order_sessions, jsonb) to service_role;
