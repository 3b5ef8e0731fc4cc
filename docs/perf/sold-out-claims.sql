-- Issue 25: "sold out" at once when every free unit is already claimed by
-- checkouts in flight. Where a variant may sell out meanwhile (fewer free
-- units than max_connections x max_units_per_variant), a checkout first
-- claims its units as tokens (transaction-level advisory locks, one per unit
-- free when read, taken without waiting, held until its transaction ends);
-- one that cannot claim them hears CKS01 at once instead of waiting in the
-- variant's line behind the buyers. As declared in
-- supabase/schemas/05_checkout.sql.

create function private.unit_tokens_left(
  p_variant_id uuid,
  p_units integer,
  p_behind integer,
  out first integer,
  out last integer,
  out enough boolean
)
language plpgsql volatile set search_path = ''
as $$
declare
  base bigint := hashtextextended(p_variant_id::text, 25);
  behind integer := 0;
  free integer := 0;
begin
  -- The places of the units free, committed, read now (a new snapshot, no
  -- lock): first (the units reserved) .. last (on hand, less one). Enough
  -- when, of their tokens, at least p_units are not held by another
  -- transaction beyond one for each token held in the p_behind places below
  -- first (claims overtaken by a later commit). Looking is a shared
  -- session-level try and its release in one expression (nothing can
  -- interrupt between the two): it holds nothing, and other lookers never
  -- look like claims to it; this transaction's own tokens look free.
  select v.reserved, v.stock_on_hand - 1 into first, last from public.variants v where v.id = p_variant_id;
  enough := false;
  if not last >= first then
    return;
  end if;
  for u in greatest(first - p_behind, 0) .. last loop
    if not (pg_try_advisory_lock_shared(base # u) and pg_advisory_unlock_shared(base # u)) then
      if u < first then
        behind := behind + 1;
      end if;
    elsif u >= first then
      free := free + 1;
      if free >= p_units + behind then
        enough := true;
        return;
      end if;
    end if;
  end loop;
end
$$;
comment on function private.unit_tokens_left(uuid, integer, integer) is
  'private.claim_unit_tokens''s look: the places of a variant''s units free now (first: the units reserved, last: on hand less one; committed, read without a lock), and whether at least p_units of their tokens are not held by another transaction, beyond one for each token held in the p_behind places below first. Holds nothing (a shared try and its release), so lookers never count each other.';

create function private.claim_unit_tokens(p_variant_id uuid, p_units integer, p_behind integer)
returns integer
language plpgsql volatile set search_path = ''
as $$
declare
  base bigint := hashtextextended(p_variant_id::text, 25);
  look record;
  got integer;
begin
  -- A unit's token is numbered by the unit's place in the stock, from the
  -- units reserved up. A claim is a token held: a transaction-level advisory
  -- lock (a bigint key: never one of the line's or slots' int4 pairs), taken
  -- without waiting, the lowest free ones first, and held until the
  -- checkout's transaction ends. So the claims in flight fill the places
  -- just above the reserved units in the order the checkouts came, and as
  -- the first of them commits (the line lets them in in that order) the
  -- reserved units grow over its places. A checkout that commits before one
  -- that claimed earlier (several hold slots at once) leaves that one's
  -- claim below the reserved units: the p_behind places below are counted
  -- too (private.unit_tokens_left).
  look := private.unit_tokens_left(p_variant_id, p_units, p_behind);
  if not look.enough then
    -- A buyer's commit is visible a moment before its tokens are free: when
    -- the reserved units moved meanwhile, look once more, so as not to count
    -- its units twice.
    if not exists (select 1 from public.variants v where v.id = p_variant_id and v.reserved <> look.first) then
      return 0;
    end if;
    look := private.unit_tokens_left(p_variant_id, p_units, p_behind);
    if not look.enough then
      return 0;
    end if;
  end if;
  -- Taken lowest first; a token being looked at that instant cannot be
  -- taken, so a second pass tries again (the tokens already taken count
  -- again in it: at most p_units are held).
  for pass in 1 .. 2 loop
    select count(*)::integer into got
      from (select 1 from generate_series(look.first, look.last) u
             where pg_try_advisory_xact_lock(base # u)
             limit p_units) t;
    exit when got = p_units;
  end loop;
  -- Buyers that committed meanwhile freed tokens below the places read:
  -- those taken are looked at again from the reserved units now (this
  -- transaction's own look free).
  if got = p_units and exists (select 1 from public.variants v where v.id = p_variant_id and v.reserved <> look.first) then
    look := private.unit_tokens_left(p_variant_id, p_units, p_behind);
    if not look.enough then
      return 0;
    end if;
  end if;
  return got;
end
$$;
comment on function private.claim_unit_tokens(uuid, integer, integer) is
  'private.claim_units''s try: when enough of a variant''s unit tokens are left (private.unit_tokens_left; looked at again when the reserved units moved meanwhile), takes the p_units lowest free ones without waiting (transaction-level advisory locks, bigint keys hashtextextended(id, 25) xor place, held until the transaction ends: a token held is a unit claimed by a checkout in flight), and makes sure, when the reserved units moved meanwhile, that enough are still left; returns how many it took (0 when too few are left).';

create function private.claim_units(p_session_id uuid, p_variants uuid[], p_units integer[], p_behind integer)
returns void
language plpgsql volatile set search_path = ''
as $$
declare
  x record;
  got integer;
  short jsonb := '[]';
begin
  -- Sold out at once when every free unit is claimed by checkouts in flight.
  -- Each checkout claims its units of a variant that may sell out as tokens
  -- (private.claim_unit_tokens), held until its transaction ends: committed,
  -- its reservation is counted and the free units shrink by as many; rolled
  -- back or failed, the tokens are free again for whoever comes next. A
  -- checkout that cannot claim the units it asks for is answered "sold out"
  -- (CKS01) without joining the line: each of the other claims asks at least
  -- one unit, so every unit it could have is already claimed by another
  -- shopper's checkout in flight, not available, as a unit held by another
  -- shopper's reservation is not; if that checkout fails, the unit is free
  -- again for the next one (as when a hold expires). A stale count (claims
  -- numbered against more free units than remain) only lets one more
  -- checkout queue: the conditional update (private.checkout_reserve) still
  -- alone decides who gets the units. Tokens per variant, all or none: a
  -- variant refused rolls back the tokens of the others with the checkout.
  --
  -- The shopper's own units are not another shopper's: the units its active
  -- session holds (which this checkout replaces) are claimed already, and
  -- while another checkout of the same shopper is in flight (a second tab;
  -- the two take the cart's lock in turn) this one claims nothing and takes
  -- its turns as before (a transaction-level advisory lock per shopper,
  -- taken without waiting; keys hashtext(session id) and -2, never a
  -- variant's line, -1, or slot, 0 and up).
  if not pg_try_advisory_xact_lock(hashtext(p_session_id::text), -2) then
    return;
  end if;
  for x in
    select t.variant_id, t.units, coalesce(own.units, 0) as own
      from unnest(p_variants, p_units) t(variant_id, units)
      left join (select r.variant_id, sum(r.quantity)::integer as units
                   from public.order_sessions s
                   join checkout.stock_reservations r on r.order_session_id = s.id
                  where s.session_id = p_session_id and s.status = 'active' and r.expires_at > now()
                  group by r.variant_id) own on own.variant_id = t.variant_id
     where t.units > coalesce(own.units, 0)
     order by t.variant_id
  loop
    got := private.claim_unit_tokens(x.variant_id, x.units - x.own, p_behind);
    if got + x.own < x.units then
      short := short || (
        select jsonb_build_object('variant_id', v.id, 'sku', v.sku, 'title', p.title || ' - ' || v.title,
                                  'requested', x.units, 'available', got + x.own, 'reason', 'insufficient_stock')
          from public.variants v join public.products p on p.id = v.product_id
         where v.id = x.variant_id);
    end if;
  end loop;
  if jsonb_array_length(short) > 0 then
    select jsonb_agg(e order by e ->> 'sku') into short from jsonb_array_elements(short) e;
    perform private.raise_not_enough_stock(short);
  end if;
end
$$;
comment on function private.claim_units(uuid, uuid[], integer[], integer) is
  'begin_checkout''s claims, in private.checkout_admission before any line: for each variant given units (one that may sell out meanwhile), claims those the shopper''s active session does not already hold among its units free now (private.claim_unit_tokens, with p_behind places below the reserved units; held until the transaction ends). When every free unit is claimed by other shoppers'' checkouts in flight, CKS01 (private.raise_not_enough_stock; available: the units it could claim plus its own) at once, without waiting: a unit claimed by a checkout in flight is not available; it is free again if that checkout fails. Claims nothing while another checkout of the same shopper is in flight (advisory lock hashtext(session id), -2, held until the transaction ends).';

create or replace function private.checkout_admission(p_session_id uuid, p_slots integer)
returns uuid[]
language plpgsql set search_path = ''
as $$
declare
  all_fit boolean;
  admit uuid[];
  units integer[];
  turn record;
  crowd bigint := current_setting('max_connections')::bigint * (private.current_settings()).max_units_per_variant;
begin
  -- Turns are taken in variant id order, before any other lock, for at most
  -- 8 variants of the cart (those with the fewest units left), so that a
  -- long cart cannot fill the lock table. A cart that already looks short
  -- (on hand less every counted reservation) does not wait: the snapshot
  -- answers "sold out" at once.
  -- A variant with fewer free units than every connection could ask for
  -- (max_connections x max_units_per_variant) may sell out while this
  -- checkout waits in its line. There, first, the checkout claims its units
  -- without waiting (private.claim_units): when checkouts in flight already
  -- claim every free unit, it hears "sold out" at once. Then it waits in
  -- spells and stops as soon as the units are gone (wait_checkout_turn
  -- returns null), and the snapshot answers "sold out".
  select bool_and(x.fits), (array_agg(x.variant_id order by x.free, x.variant_id))[1:8],
         (array_agg(case when x.free < crowd then x.units end order by x.free, x.variant_id))[1:8]
    into all_fit, admit, units
    from (select ci.variant_id, v.stock_on_hand - v.reserved as free, sum(ci.quantity)::integer as units,
                 v.stock_on_hand - v.reserved >= sum(ci.quantity) as fits
            from public.cart_items ci
            join public.variants v on v.id = ci.variant_id
           where ci.session_id = p_session_id
           group by ci.variant_id, v.stock_on_hand, v.reserved) x;
  if not coalesce(all_fit, false) then
    return '{}';
  end if;
  if cardinality(array_remove(units, null)) > 0 then
    perform private.claim_units(p_session_id, admit, units, 4 * p_slots);
  end if;
  for turn in select t.variant_id, t.units from unnest(admit, units) t(variant_id, units) order by t.variant_id loop
    if private.wait_checkout_turn(turn.variant_id, p_slots, turn.units) is null then
      return '{}';
    end if;
  end loop;
  return array(select unnest(admit) order by 1);
end
$$;
comment on function private.checkout_admission(uuid, integer) is
  'begin_checkout, step 1: for at most 8 variants of the shopper''s cart, those with the fewest units left, claims the units of those that may sell out meanwhile (private.claim_units: CKS01 at once when checkouts in flight already claim every free unit), then waits the checkout''s turn (private.wait_checkout_turn, p_slots at a time) in variant id order; returns them. A cart that looks short, or is empty, waits for nothing (returns {}); one that runs short while it waits stops waiting (returns {}, holding the turns it already has).';
