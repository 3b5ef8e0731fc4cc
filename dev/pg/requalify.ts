/**
 * Prints the `create or replace` statements a schema move needs.
 *
 * `alter table ... set schema` carries indexes, constraints, triggers,
 * policies and grants along (they point at the table's OID), but PL/pgSQL and
 * SQL routine bodies are text: with `search_path = ''` they name
 * `public.coupons`, and would fail once it is `checkout.coupons`. This reads
 * every routine whose body names `<from>.<table>` for a moved table, as
 * pg_get_functiondef gives its current definition, and prints it with the
 * names requalified, for a migration to commit as static, reviewable SQL.
 *
 *   DATABASE_URL=postgresql://... npx tsx dev/pg/requalify.ts public checkout coupons payment_events ...
 *
 * Point it at a database built from the migrations before the move (for
 * example `npx tsx tests/run-all.ts --only advisors --keep` without the new
 * migration). Routines that mention a moved name without a schema are listed
 * on stderr for a human to read: a trigger's `tg_table_name`, an error text.
 */
import pg from 'pg';

const [from, to, ...names] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url || !from || !to || names.length === 0) {
  console.error('usage: DATABASE_URL=... npx tsx dev/pg/requalify.ts <from-schema> <to-schema> <relation>...');
  process.exit(2);
}
const list = names.join('|');
const qualified = new RegExp(`\\b${from}\\.(${list})\\b`, 'g');

const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  // Routines the project owns: not the catalog's, not an extension's.
  const { rows } = await client.query<{ sig: string; def: string; src: string }>(
    `select p.oid::regprocedure::text as sig, pg_get_functiondef(p.oid) as def, p.prosrc as src
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        and p.prokind in ('f', 'p') and p.prosrc ~ $1
      order by n.nspname, p.proname, sig`,
    [`(${list})`],
  );
  const quoted = rows.filter((r) => r.src.includes(`"${from}"`));
  if (quoted.length) throw new Error(`quoted schema names are not rewritten; edit by hand: ${quoted.map((r) => r.sig).join(', ')}`);
  for (const r of rows) {
    const found = [...new Set([...r.src.matchAll(qualified)].map((m) => m[1]))];
    if (found.length === 0) {
      console.error(`-- not rewritten (no ${from}.<name> in the body), read it: ${r.sig}`);
      continue;
    }
    console.log(`-- ${r.sig}: ${found.map((t) => `${from}.${t}`).join(', ')}`);
    console.log(`${r.def.replace(qualified, `${to}.$1`).trimEnd()};\n`);
  }
} finally {
  await client.end();
}
