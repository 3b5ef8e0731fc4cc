-- Candidate for the tail of the crowd (issue 14): one
-- first-come-first-served line per variant (a session-level advisory lock
-- left as soon as a slot is held, and on any error), then a free slot at
-- once, else the ticket's. Measured with 4 slots (g-gate4 in
-- tail-g-run1.txt) and 3 (g-gate3: 3 for 4). Chosen:
-- 20261202410000_checkout_admission.sql has it, with the turn in
-- private.wait_checkout_turn and the number of slots a setting; measured
-- there with 4 slots (begin_checkout in tail-h-run1.txt and
-- tail-k-run1..3.txt) and with 6, 8 and 12 (line-k6/k8/k12 in
-- tail-k-run1..3.txt: its begin_checkout with the setting replaced by the
-- number); 8 became the default. The body of
-- 20261202410000_checkout_admission.sql as first committed (admission slots
-- taken first, in turn), changed as said; installed by `npm run bench --
-- --only latency --rtt 0 --before docs/perf/tail-g1-line-then-slots-4.sql`.

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
  c checkout.coupons;
  s public.order_sessions;
  v_result jsonb;
  line record;
  line_short jsonb;
  all_free boolean;
  all_fit boolean;
  admit uuid[];
  slot_variant uuid;
  ticket bigint;
  got boolean;
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

  -- Locks, always in this order everywhere: the admission slots (only
  -- begin_checkout takes them), the shopper's cart, order sessions, the
  -- coupon, then variants by id. The variant locks serialise checkouts of a
  -- hot product, so everything that can be done before them is: they are
  -- taken last, by the update that checks and counts, and held only for
  -- that and the reservation rows.

  -- 0. Admission: at most cfg.checkout_slots_per_variant checkouts of one
  --    variant run at a time. The others wait in first-come-first-served
  --    queues, one per slot, and each checkout takes the next slot in turn
  --    (a ticket from checkout.admission_tickets), so the queues stay even.
  --    Without it, a crowd on one hot variant raced for each new version of
  --    its row: the waiters woke at every commit and queued again behind
  --    newcomers, so a few waited many times longer than the rest, and the
  --    herd cost CPU on every commit. The slots only order the checkouts;
  --    the row locks below still decide who gets the units.
  --    * A slot is a transaction-level advisory lock (keys: the hash of the
  --      variant id, the slot number), so it is released at commit or
  --      rollback, and holds through a pooler in transaction mode.
  --    * Taken in variant id order, before any other lock, for at most 8
  --      variants of the cart (those with the fewest units left), so that a
  --      long cart cannot fill the lock table.
  --    * A cart that already looks short (on hand less every counted
  --      reservation) skips the queue: it hears "sold out" at once below.
  select bool_and(x.fits), array(select unnest((array_agg(x.variant_id order by x.free, x.variant_id))[1:8]) order by 1)
    into all_fit, admit
    from (select ci.variant_id, v.stock_on_hand - v.reserved as free,
                 v.stock_on_hand - v.reserved >= sum(ci.quantity) as fits
            from public.cart_items ci
            join public.variants v on v.id = ci.variant_id
           where ci.session_id = p_session_id
           group by ci.variant_id, v.stock_on_hand, v.reserved) x;
  if all_fit then
    foreach slot_variant in array admit loop
      -- one first-come-first-served line per variant (a session-level lock,
      -- released as soon as a slot is held, also on any error)
      perform pg_advisory_lock(hashtext(slot_variant::text), -1);
      begin
        got := false;
        ticket := nextval('checkout.admission_tickets');
        for i in 0 .. 4 - 1 loop
          if pg_try_advisory_xact_lock(hashtext(slot_variant::text), ((ticket + i) % 4)::integer) then
            got := true;
            exit;
          end if;
        end loop;
        if not got then
          perform pg_advisory_xact_lock(hashtext(slot_variant::text), (ticket % 4)::integer);
        end if;
      exception when others or query_canceled then
        perform pg_advisory_unlock(hashtext(slot_variant::text), -1);
        raise;
      end;
      perform pg_advisory_unlock(hashtext(slot_variant::text), -1);
    end loop;
  end if;

  -- 1. One checkout at a time per shopper: lock the cart.
  perform 1 from public.carts where session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- 2. A shopper has at most one active order session: the previous one is
  --    cancelled and its stock released before this one reserves. The new
  --    session joins its checkout group (see the header of 20261201120200_one_owner_per_rule.sql).
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
    select i.variant_id, i.quantity, v.sku, p.title || ' - ' || v.title as title, v.price, v.currency,
           v.active and p.active and v.stock_on_hand - v.reserved >= i.quantity as surely_free
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         count(distinct currency), min(currency), sum(price * quantity), sum(quantity), bool_and(surely_free)
    into snapshot, variant_ids, currencies, cur, v_subtotal, v_items, all_free
    from priced;

  if variant_ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;

  -- 3b. Sold out? Read without any lock (the units of the shopper's own
  --     active session count as free): a shopper who cannot have the units
  --     is answered at once instead of queueing behind the buyers for the
  --     variant's lock. The check under the lock below is the one that counts.
  --     On hand less every reservation counted is a lower bound of what is
  --     free, so the full rule runs only when a line looks short by it.
  short := case when all_free then '[]'::jsonb else private.short_lines(snapshot, p_freed => prev_ids, p_for_sale => true) end;
  if jsonb_array_length(short) > 0 then
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
  end if;

  -- 4. The coupon, locked so that concurrent checkouts count its holders one
  --    at a time; the rule itself lives in private.apply_coupon_rule, which
  --    the cart's coupon preview applies too.
  if v_code is not null then
    select * into c from checkout.coupons where coupons.code = v_code for update;
    v_discount := private.apply_coupon_rule(
      c, v_code, v_subtotal, cur,
      case when c.id is null or c.max_redemptions is null then 0 else private.coupon_holders(c.id, prev_ids) end);
  end if;

  -- 5. Cancel the previous session. Its release updates its variants, so
  --    they are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (variant_ids)
        or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- 6. The snapshot and its events (written before the variant locks, to
  --    hold those briefly; an error below rolls them back).
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group
  ) values (
    p_session_id, snapshot, v_items, v_subtotal, v_discount, v_subtotal - v_discount, cur,
    c.id, case when c.id is null then null else v_code end, p_payer, p_shipping_address, now() + cfg.reservation_ttl,
    coalesce(v_group, gen_random_uuid())
  )
  returning * into s;
  insert into checkout.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object('total', s.total, 'currency', s.currency, 'coupon', s.coupon_code,
                                         'replaces', to_jsonb(prev_ids))),
    (s.id, 'reserved', jsonb_build_object('lines', (
       select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
         from jsonb_to_recordset(snapshot) as x(sku text, quantity integer)), 'expires_at', s.expires_at));

  v_result := private.order_session_json(s);

  -- 7. The hot part, last: per variant, by id (so that concurrent checkouts
  --    cannot deadlock), one conditional update that locks the row, checks
  --    and counts at once. A line it refuses is looked at again with the
  --    full rule (reservations expired but not yet released are free; not
  --    for sale), under the lock if it fits: every short line, or none. The update takes
  --    the row's FOR NO KEY UPDATE lock (other shoppers' cart inserts may
  --    still take their foreign-key share lock meanwhile).
  for line in
    select x.variant_id, x.sku, x.title, x.quantity
      from jsonb_to_recordset(snapshot) as x(variant_id uuid, sku text, title text, quantity integer)
     order by x.variant_id
  loop
    update public.variants v set reserved = v.reserved + line.quantity
     where v.id = line.variant_id and v.active and v.stock_on_hand - v.reserved >= line.quantity;
    if not found then
      -- Short by the full rule without the lock: refused at once, without
      -- queueing a second time. Free by it: made sure of under the lock.
      line_short := private.short_lines(jsonb_build_array(to_jsonb(line)), p_for_sale => true);
      if jsonb_array_length(line_short) = 0 then
        perform 1 from public.variants v where v.id = line.variant_id for no key update;
        line_short := private.short_lines(jsonb_build_array(to_jsonb(line)), p_for_sale => true);
        if jsonb_array_length(line_short) = 0 then
          update public.variants v set reserved = v.reserved + line.quantity where v.id = line.variant_id;
        end if;
      end if;
      short := short || line_short;
    end if;
  end loop;
  if jsonb_array_length(short) > 0 then
    select jsonb_agg(e order by e ->> 'sku') into short from jsonb_array_elements(short) e;
    raise exception 'not enough stock: %', (
      select string_agg(format('%s (requested %s, available %s)', e ->> 'sku', e ->> 'requested', e ->> 'available'), ', ' order by e ->> 'sku')
        from jsonb_array_elements(short) e)
      using errcode = 'CKS01', detail = jsonb_build_object('short', short)::text;
  end if;

  -- 8. The reservation rows, already counted above: the counter trigger
  --    leaves this session's rows alone. Their foreign-key check finds the
  --    variants locked by this transaction, so it waits for nobody.
  perform set_config('checkout.reserving_session', s.id::text, true);
  insert into checkout.stock_reservations (order_session_id, variant_id, quantity, expires_at)
  select s.id, x.variant_id, x.quantity, s.expires_at
    from jsonb_to_recordset(snapshot) as x(variant_id uuid, quantity integer);
  perform set_config('checkout.reserving_session', '', true);

  return v_result;
end
$$;
