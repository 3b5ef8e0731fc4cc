-- Issue 25: "sold out" answered to checkouts waiting in a variant's line.
-- Where a variant may sell out while a checkout waits for its turn (fewer
-- free units than max_connections x max_units_per_variant), the line's head
-- reads the committed stock when its turn comes and every 20 ms while it
-- waits for a slot: once the units are gone it leaves the line at once and
-- hears CKS01 from the snapshot, and the line behind it drains the same way,
-- instead of each waiting behind the buyers. As declared in
-- supabase/schemas/05_checkout.sql.

create function private.wait_checkout_turn(p_variant_id uuid, p_slots integer, p_units integer)
returns integer
language plpgsql set search_path = ''
as $$
declare
  k integer := hashtext(p_variant_id::text);
  ticket bigint;
  slot integer;
  caller_timeout text := current_setting('lock_timeout');
  gives_up_at timestamptz := clock_timestamp() + nullif(caller_timeout, '0')::interval;
begin
  -- The line: one first-come-first-served queue per variant, a session-level
  -- advisory lock (keys k, -1) so that it can be left as soon as a slot is
  -- held. It is left on every way out of this block, errors and
  -- cancellations included: the only way a session-level lock could outlive
  -- the call (and stay on a pooled connection).
  perform pg_advisory_lock(k, -1);
  begin
    -- Sold out while in line (p_units given: the variant may sell out). A
    -- checkout waiting in the line cannot read anything, so the line's head
    -- reads the committed stock afresh (a new snapshot, no lock) when its
    -- turn comes and again every 20 ms while it waits for a slot; fewer free
    -- units than it asks for, and it leaves the line at once (returns null)
    -- to hear "sold out" from the snapshot. The next in line then does the
    -- same, so the line drains in a moment instead of each waiting behind
    -- the buyers for units that are gone.
    if p_units is not null and private.is_short_now(p_variant_id, p_units) then
      perform pg_advisory_unlock(k, -1);
      return null;
    end if;
    ticket := nextval('checkout.admission_tickets');
    -- A free slot at once; else the slot handed out p_slots tickets ago,
    -- whose holder came in before the others and should leave first.
    for i in 0 .. p_slots - 1 loop
      if pg_try_advisory_xact_lock(k, ((ticket + i) % p_slots)::integer) then
        perform pg_advisory_unlock(k, -1);
        return ((ticket + i) % p_slots)::integer;
      end if;
    end loop;
    slot := (ticket % p_slots)::integer;
    if p_units is null then
      perform pg_advisory_xact_lock(k, slot);
    else
      -- In 20 ms spells (a transaction-level lock: one granted as a spell
      -- ends is released with the transaction); the caller's lock_timeout
      -- still bounds the whole wait.
      loop
        begin
          perform set_config('lock_timeout', '20ms', true);
          perform pg_advisory_xact_lock(k, slot);
          perform set_config('lock_timeout', caller_timeout, true);
          exit;
        exception when lock_not_available then
          if private.is_short_now(p_variant_id, p_units) then
            perform pg_advisory_unlock(k, -1);
            return null;
          end if;
          if clock_timestamp() >= gives_up_at then
            raise exception 'canceling statement due to lock timeout' using errcode = 'lock_not_available';
          end if;
        end;
      end loop;
    end if;
  exception when others or query_canceled then
    perform pg_advisory_unlock(k, -1);
    raise;
  end;
  perform pg_advisory_unlock(k, -1);
  return slot;
end
$$;
comment on function private.wait_checkout_turn(uuid, integer, integer) is
  'begin_checkout''s turn for one variant: waits in the variant''s first-come-first-served line (advisory lock hashtext(id), -1, session-level, left before returning or on any error), then holds one of p_slots slots (advisory lock hashtext(id), slot, until the transaction ends); returns the slot. With p_units (the variant may sell out meanwhile), the line''s head reads the committed stock when its turn comes and every 20 ms while it waits for a slot, and returns null, leaving the line, as soon as fewer than p_units are free (sold out while in line); the caller''s lock_timeout still bounds the wait.';

create function private.is_short_now(p_variant_id uuid, p_units integer)
returns boolean
language plpgsql volatile set search_path = ''
as $$
begin
  -- Volatile: a new snapshot at each call, so a waiter sees what committed while it waited.
  return (select v.stock_on_hand - v.reserved < p_units from public.variants v where v.id = p_variant_id);
end
$$;
comment on function private.is_short_now(uuid, integer) is
  'private.wait_checkout_turn''s read: whether the variant has, committed now, fewer than p_units units free (on hand less every counted reservation), read without a lock.';

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
  -- checkout waits in its line: there it waits in spells and stops as soon
  -- as the units are gone (wait_checkout_turn returns null), and the
  -- snapshot answers "sold out".
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
  for turn in select t.variant_id, t.units from unnest(admit, units) t(variant_id, units) order by t.variant_id loop
    if private.wait_checkout_turn(turn.variant_id, p_slots, turn.units) is null then
      return '{}';
    end if;
  end loop;
  return array(select unnest(admit) order by 1);
end
$$;
comment on function private.checkout_admission(uuid, integer) is
  'begin_checkout, step 1: waits the checkout''s turn (private.wait_checkout_turn, p_slots at a time) for at most 8 variants of the shopper''s cart, those with the fewest units left, in variant id order; returns them. A cart that looks short, or is empty, waits for nothing (returns {}); one that runs short while it waits stops waiting (returns {}, holding the turns it already has).';

drop function private.wait_checkout_turn(uuid, integer);
