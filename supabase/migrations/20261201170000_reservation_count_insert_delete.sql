-- variants.reserved follows reservation rows as they are inserted and
-- deleted; nothing ever changes a reservation's variant or quantity (only
-- expires_at moves), so the UPDATE branch of private.count_reservations and
-- its trigger were dead code. They go, and a row trigger makes the promise
-- hold: changing a reservation's variant_id or quantity is refused (CKI02),
-- so variants.reserved can never drift through an update.

drop trigger stock_reservations_count_update on public.stock_reservations;

create or replace function private.count_reservations()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- Each branch names only the transition tables its event has.
  if tg_op = 'INSERT' then
    perform 1 from public.variants v where v.id in (select n.variant_id from new_rows n) order by v.id for update;
    update public.variants v set reserved = v.reserved + d.quantity
      from (select n.variant_id, sum(n.quantity)::integer as quantity from new_rows n group by n.variant_id) d
     where v.id = d.variant_id;
  else
    perform 1 from public.variants v where v.id in (select o.variant_id from old_rows o) order by v.id for update;
    update public.variants v set reserved = v.reserved - d.quantity
      from (select o.variant_id, sum(o.quantity)::integer as quantity from old_rows o group by o.variant_id) d
     where v.id = d.variant_id;
  end if;
  return null;
end
$$;
comment on function private.count_reservations() is
  'Trigger (after insert, after delete; statement level): keeps variants.reserved equal to the units of its reservation rows.';

create function private.forbid_reservation_recount()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'a reservation''s variant and quantity never change: release it and reserve again'
    using errcode = 'CKI02',
          detail = jsonb_build_object('field', case when new.variant_id is distinct from old.variant_id then 'variant_id' else 'quantity' end)::text;
end
$$;
revoke execute on function private.forbid_reservation_recount() from public, anon, authenticated;
comment on function private.forbid_reservation_recount() is
  'Trigger: a reservation''s variant_id and quantity are immutable, so variants.reserved only moves on insert and delete.';

create trigger stock_reservations_immutable_units
  before update of variant_id, quantity on public.stock_reservations
  for each row
  when (new.variant_id is distinct from old.variant_id or new.quantity is distinct from old.quantity)
  execute function private.forbid_reservation_recount();
