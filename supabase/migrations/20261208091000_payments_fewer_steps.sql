-- Payments in fewer steps (issue 25). Same definitions as
-- supabase/schemas/04_order_sessions.sql, 06_payments_and_orders.sql,
-- 10_analytics.sql, 11_email_outbox.sql and 14_disputes.sql:
-- private.record_order keeps the order's facts itself (fraud flag and stop,
-- confirmation email, the cart's paid fact) and the orders triggers skip its
-- order (checkout.recording_order); commit_held_order clears the cart and logs
-- before the variants' lock and releases the reservation in the statement
-- that takes the stock (the counter trigger skips checkout.releasing_session);
-- a whole-total payment needs no second sum of the parts; the parts waiting
-- for their order are no longer in order_payments_order_idx.

drop index checkout.order_payments_order_idx;
-- Without the parts that wait for their order (order_id null): their old
-- versions' entries would pile up under null until vacuum, and the lookup of
-- a session's counted parts scanned them all (issue 25).
create index order_payments_order_idx on checkout.order_payments (order_id) where order_id is not null;

create or replace function private.count_reservations()
returns trigger
language plpgsql set search_path = ''
as $$
declare
  counted_by_caller text := nullif(current_setting('checkout.reserving_session', true), '');
  released_by_caller text := nullif(current_setting('checkout.releasing_session', true), '');
begin
  -- Each branch names only the transition tables its event has.
  if tg_op = 'INSERT' then
    if counted_by_caller is not null
       and not exists (select 1 from new_rows n where n.order_session_id::text <> counted_by_caller) then
      return null;
    end if;
    perform 1 from public.variants v
     where v.id in (select n.variant_id from new_rows n where n.order_session_id::text is distinct from counted_by_caller)
     order by v.id for update;
    update public.variants v set reserved = v.reserved + d.quantity
      from (select n.variant_id, sum(n.quantity)::integer as quantity from new_rows n
             where n.order_session_id::text is distinct from counted_by_caller group by n.variant_id) d
     where v.id = d.variant_id;
  else
    if released_by_caller is not null
       and not exists (select 1 from old_rows o where o.order_session_id::text <> released_by_caller) then
      return null;
    end if;
    perform 1 from public.variants v
     where v.id in (select o.variant_id from old_rows o where o.order_session_id::text is distinct from released_by_caller)
     order by v.id for update;
    update public.variants v set reserved = v.reserved - d.quantity
      from (select o.variant_id, sum(o.quantity)::integer as quantity from old_rows o
             where o.order_session_id::text is distinct from released_by_caller group by o.variant_id) d
     where v.id = d.variant_id;
  end if;
  return null;
end
$$;
comment on function private.count_reservations() is
  'Trigger (after insert, after delete; statement level): keeps variants.reserved equal to the units of its reservation rows. Rows of the order session named in the transaction-local setting checkout.reserving_session (inserted) or checkout.releasing_session (deleted) are left out: begin_checkout and private.commit_held_order count those themselves.';

create function analytics.stamp_paid(p_session_id uuid)
returns void
language plpgsql set search_path = ''
as $$
begin
  update analytics.cart_facts f
     set paid_at = now()
    from public.carts c
   where c.session_id = p_session_id
     and f.session_id = c.session_id and f.created_at = c.created_at
     and f.paid_at is null;
end
$$;
comment on function analytics.stamp_paid(uuid) is
  'A shopper''s order stamps her cart''s fact row with its first paid_at. Called by private.record_order and by the trigger orders_record_paid.';
grant execute on function analytics.stamp_paid(uuid) to service_role;

create or replace function analytics.record_paid()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform analytics.stamp_paid(new.session_id);
  return null;
end
$$;
comment on function analytics.record_paid() is
  'Trigger: a cart''s first order stamps its fact row (analytics.stamp_paid). private.record_order stamps it itself and names its session in checkout.recording_order, which the trigger skips.';

drop trigger orders_record_paid on public.orders;
create trigger orders_record_paid
  after insert on public.orders
  for each row
  when (current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function analytics.record_paid();

create function email.enqueue_confirmation(o public.orders)
returns void
language plpgsql set search_path = ''
as $$
begin
  if coalesce(o.payer ->> 'email', '') ~ '^[^@\s]+@[^@\s]+$' then
    insert into email.outbox (kind, session_id, recipient, order_id)
    values ('order_confirmation', o.session_id, lower(o.payer ->> 'email'), o.id)
    on conflict (order_id) where kind = 'order_confirmation' do nothing;
  end if;
end
$$;
comment on function email.enqueue_confirmation(public.orders) is
  'Puts a new order''s confirmation email in the outbox, in the same transaction (exactly one per order). Called by private.record_order and by the trigger orders_enqueue_confirmation.';
grant execute on function email.enqueue_confirmation(public.orders) to service_role;

create or replace function email.enqueue_order_confirmation()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform email.enqueue_confirmation(new);
  return null;
end
$$;
comment on function email.enqueue_order_confirmation() is
  'Trigger: a new order puts its confirmation email in the outbox (email.enqueue_confirmation). private.record_order enqueues it itself and names its session in checkout.recording_order, which the trigger skips.';

drop trigger orders_enqueue_confirmation on public.orders;
create trigger orders_enqueue_confirmation
  after insert on public.orders
  for each row
  when (current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function email.enqueue_order_confirmation();

drop trigger orders_fraud_alerted on public.orders;
drop trigger orders_fraud_alerted_stop on public.orders;
-- private.record_order flags and stops its order itself and names its
-- session in checkout.recording_order, which these skip.
create trigger orders_fraud_alerted
  before insert on public.orders
  for each row
  when (current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function private.flag_fraud_alerted_order();
create trigger orders_fraud_alerted_stop
  after insert on public.orders
  for each row
  when (new.do_not_ship and current_setting('checkout.recording_order', true) is distinct from new.order_session_id::text)
  execute function private.flag_fraud_alerted_order();

create or replace function private.record_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns public.orders
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders;
  financing numeric;
  parts bigint[];
begin
  select coalesce(sum(p.financing_cost), 0), array_agg(p.payment_id) into financing, parts from private.counted_parts(s.id) p;
  -- The order's facts are kept here, where they are known, rather than by
  -- the order's triggers, which skip an order of the session named in
  -- checkout.recording_order (they stay for any other writer): an alert on
  -- any of its parts has it born stopped and its payment owed back
  -- (14_disputes.sql), yet it is the order's; its confirmation email; the
  -- cart's paid fact.
  perform set_config('checkout.recording_order', s.id::text, true);
  insert into public.orders (
    order_session_id, session_id, payment_id, subtotal, discount, total, currency, coupon_code,
    payer, shipping_address, payment_type, payment_method, paid_late, financing_cost, do_not_ship
  ) values (
    s.id, s.session_id, pid, s.subtotal, s.discount, s.total, s.currency, s.coupon_code,
    s.payer, s.shipping_address, p_payment ->> 'payment_type_id', p_payment ->> 'payment_method_id', p_late, financing,
    exists (select 1 from checkout.fraud_alerts fa where fa.payment_id = any (parts || pid))
  ) returning * into o;
  perform set_config('checkout.recording_order', '', true);
  if o.do_not_ship then
    perform private.stop_delivery(o);
  end if;
  perform email.enqueue_confirmation(o);
  perform analytics.stamp_paid(s.session_id);
  -- Every part counted toward the session now belongs to the order.
  update checkout.order_payments set order_id = o.id where payment_id = any (parts);

  update public.order_sessions set status = 'paid', payment_id = pid, paid_at = now(), closed_at = now()
   where id = s.id;
  return o;
end
$$;
comment on function private.record_order(public.order_sessions, jsonb, boolean) is
  'The order of a session whose counted parts cover its total, without its stock: records the parts'' financing cost on the order, keeps its facts (born do_not_ship and stopped when a part had a fraud alert, its confirmation email, the cart''s paid_at: the orders triggers skip it), gives every part the order''s id and marks the session paid. Its callers take the stock (private.commit_order, private.commit_held_order).';
grant execute on function private.record_order(public.order_sessions, jsonb, boolean) to service_role;

create function private.clear_bought(s public.order_sessions, o public.orders, p_payment_id bigint, p_late boolean)
returns void
language plpgsql set search_path = ''
as $$
begin
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
end
$$;
comment on function private.clear_bought(public.order_sessions, public.orders, bigint, boolean) is
  'A committed order''s cart and log, which touch no variant: removes the bought units from the cart (anything added since stays) and logs committed.';
grant execute on function private.clear_bought(public.order_sessions, public.orders, bigint, boolean) to service_role;

drop function private.finish_order(public.order_sessions, public.orders, bigint, boolean);
create function private.finish_order(s public.order_sessions, o public.orders, p_payment_id bigint)
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
  return jsonb_build_object('order_session_id', s.id, 'outcome', 'order_created', 'payment_id', p_payment_id, 'session_status', 'paid',
                            'order', private.order_json(o));
end
$$;
comment on function private.finish_order(public.order_sessions, public.orders, bigint) is
  'The last step of a committed order, after its stock: copies the lines and answers {outcome order_created, order}.';
grant execute on function private.finish_order(public.order_sessions, public.orders, bigint) to service_role;

create or replace function private.commit_order(s public.order_sessions, p_payment jsonb, p_late boolean)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  o public.orders;
begin
  -- The caller checked the stock under the variant locks (short_lines), so
  -- the decrement cannot take stock_on_hand below zero.
  update public.variants v
     set stock_on_hand = v.stock_on_hand - l.quantity, updated_at = now()
    from jsonb_to_recordset(s.lines) as l(variant_id uuid, quantity integer)
   where v.id = any (array(select (x ->> 'variant_id')::uuid from jsonb_array_elements(s.lines) x)) and v.id = l.variant_id;
  perform private.release_stock(array[s.id]);
  o := private.record_order(s, p_payment, p_late);
  perform private.clear_bought(s, o, (p_payment ->> 'id')::bigint, p_late);
  return private.finish_order(s, o, (p_payment ->> 'id')::bigint);
end
$$;
comment on function private.commit_order(public.order_sessions, jsonb, boolean) is
  'Creates the one order of a session whose stock was checked under the variant locks and whose counted parts cover its total: decrements stock_on_hand, releases the reservation, then private.record_order, private.clear_bought and private.finish_order.';
grant execute on function private.commit_order(public.order_sessions, jsonb, boolean) to service_role;

create or replace function private.commit_held_order(s public.order_sessions, p_payment jsonb)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  pid bigint := (p_payment ->> 'id')::bigint;
  o public.orders := private.record_order(s, p_payment, false);
  ids uuid[];
  quantities integer[];
  released integer;
  taken integer;
begin
  -- Whatever touches no variant comes before their lock, which is held until
  -- the commit: payments sharing a product queue on its row only for the
  -- decrement, the order's lines and the commit.
  perform private.clear_bought(s, o, pid, false);
  -- Locks by id, as everywhere; the ids as an array, so the variants are
  -- read through their key (a join with the lines' JSON was planned as a
  -- scan of every variant).
  select array_agg((l ->> 'variant_id')::uuid), array_agg((l ->> 'quantity')::integer) into ids, quantities
    from jsonb_array_elements(s.lines) l;
  perform 1 from public.variants v where v.id = any (ids) order by v.id for update;
  -- One statement releases the reservation and takes the stock, each line
  -- only while the session still holds it (an unexpired reservation) and it
  -- is on hand (short_lines' rule for a holder): a variant's row is written
  -- once, reserved lowered here rather than by the counter trigger, which
  -- leaves the session named in checkout.releasing_session to its caller.
  perform set_config('checkout.releasing_session', s.id::text, true);
  with held as (
    delete from checkout.stock_reservations r where r.order_session_id = s.id
    returning r.variant_id, r.quantity, r.expires_at
  ), bought as (
    update public.variants v
       set stock_on_hand = v.stock_on_hand - l.quantity, reserved = v.reserved - h.quantity, updated_at = now()
      from unnest(ids, quantities) as l(variant_id, quantity), held h
     where v.id = any (ids) and v.id = l.variant_id and h.variant_id = l.variant_id
       and h.expires_at > now() and v.stock_on_hand >= l.quantity
    returning 1
  )
  select (select count(*) from held), (select count(*) from bought) into released, taken;
  perform set_config('checkout.releasing_session', '', true);
  if taken < cardinality(ids) or released <> taken then
    -- Caught by settle_approved, which undoes this (the reservation
    -- included) and checks under the locks.
    raise exception 'order session % is short of a line', s.id using errcode = 'CKS90';
  end if;
  return private.finish_order(s, o, pid);
end
$$;
comment on function private.commit_held_order(public.order_sessions, jsonb) is
  'The order of an on-time session, its stock taken last: private.record_order and private.clear_bought, then the variants locked by id and, in one statement, the reservation released and each line decremented when the session still held it and it is on hand (short_lines'' rule for a holder), private.finish_order. Raises CKS90 when a line is short or the reservation is not exactly the lines (the caller undoes it and takes the locked path); never seen outside the database.';
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
  -- A payment of the whole total is the one part left counted.
  if amount <> s.total and private.counted_amount(s.id) < s.total then
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
