/**
 * A database's catalog as a flat map, for comparing two databases the way
 * `supabase db diff` would (it needs Docker; this needs a connection).
 *
 * Every key names one object (`routine checkout.apply_payment(jsonb)`,
 * `column public.carts.expires_at`, `grant`s live in the object's entry),
 * every value says all we know of it, normalised so that two databases built
 * differently but alike compare equal: names instead of OIDs, privileges
 * expanded and sorted, a column's position among the live ones. What belongs
 * to an extension is described by the extension's own entry, not object by
 * object. tests/helpers/catalog-diff.ts shows what differs.
 */
import type pg from 'pg';

export type Catalog = Map<string, string>;

/** Schemas that are PostgreSQL's own or the CLI's bookkeeping. */
const SKIPPED_SCHEMAS = `('pg_catalog', 'information_schema', 'pg_toast', 'supabase_migrations')`;
/** An object of the project: not in a skipped schema, not a member of an extension. */
const notExtensionMember = (classid: string, oid: string) =>
  `not exists (select 1 from pg_depend d where d.classid = '${classid}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;
/** Privileges as sorted `grantee: PRIV, PRIV (grantor)` text; NULL (the defaults) made explicit. */
const acl = (col: string, defaults?: { kind: string; owner: string }) =>
  `(
  select coalesce(E'\n  ' || string_agg(g, E'\n  ' order by g), ' none') from (
    select case ax.grantee when 0 then 'PUBLIC' else pg_get_userbyid(ax.grantee) end || ': ' ||
           string_agg(ax.privilege_type || case when ax.is_grantable then ' WITH GRANT OPTION' else '' end, ', ' order by ax.privilege_type) ||
           ' (by ' || pg_get_userbyid(ax.grantor) || ')' as g
      from aclexplode(${defaults ? `coalesce(${col}, acldefault(${defaults.kind}, ${defaults.owner}))` : col}) ax
     group by ax.grantee, ax.grantor) x)`;

/** [key, value] queries; each returns rows of {k, v}. */
const QUERIES: string[] = [
  // Schemas.
  `select 'schema ' || n.nspname as k,
          'owner ' || pg_get_userbyid(n.nspowner) || E'\\nprivileges' || ${acl('n.nspacl', { kind: `'n'`, owner: 'n.nspowner' })} ||
          E'\\ncomment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '-') as v
     from pg_namespace n where n.nspname not in ${SKIPPED_SCHEMAS} and n.nspname not like 'pg\\_temp%' and n.nspname not like 'pg\\_toast%'`,
  // Extensions.
  `select 'extension ' || e.extname as k,
          'schema ' || e.extnamespace::regnamespace || ', version ' || e.extversion ||
          E'\\ncomment ' || coalesce(obj_description(e.oid, 'pg_extension'), '-') as v
     from pg_extension e`,
  // Tables, views, sequences and the rest of pg_class (indexes below).
  `select case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view' when 'm' then 'materialized view'
                         when 'S' then 'sequence' when 'f' then 'foreign table' end || ' ' || c.oid::regclass as k,
          concat_ws(E'\\n',
            format('kind %s, persistence %s, owner %s', c.relkind, c.relpersistence, pg_get_userbyid(c.relowner)),
            'row level security ' || c.relrowsecurity || ', forced ' || c.relforcerowsecurity,
            'options ' || coalesce(array_to_string(c.reloptions, ', '), '-'),
            'privileges' || ${acl('c.relacl', { kind: `case when c.relkind = 'S' then 's' else 'r' end::"char"`, owner: 'c.relowner' })},
            'comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-'),
            case when c.relkind in ('v', 'm') then 'definition ' || pg_get_viewdef(c.oid) end,
            case when c.relkind = 'S' then (
              select format('sequence %s start %s increment %s min %s max %s cache %s cycle %s',
                            s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
                from pg_sequence s where s.seqrelid = c.oid) end,
            case when c.relkind = 'S' then (
              select 'owned by ' || d.refobjid::regclass || '.' || a.attname
                from pg_depend d join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
               where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')) end) as v
     from pg_class c
    where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
      and c.relnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_class', 'c.oid')}`,
  // Columns (of tables, views and composite types), with their position among the live ones.
  `select 'column ' || c.oid::regclass || '.' || quote_ident(a.attname) as k,
          concat_ws(E'\\n',
            format('position %s, %s%s', row_number() over (partition by c.oid order by a.attnum), format_type(a.atttypid, a.atttypmod),
                   case when a.attnotnull then ' not null' else '' end),
            'default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'),
            case when a.attgenerated <> '' then 'generated ' || a.attgenerated::text end,
            case when a.attidentity <> '' then 'identity ' || a.attidentity::text end,
            case when a.attcollation <> 0 and a.attcollation <> (select t.typcollation from pg_type t where t.oid = a.atttypid)
                 then 'collation ' || a.attcollation::regcollation end,
            'privileges' || ${acl('a.attacl')},
            'comment ' || coalesce(col_description(c.oid, a.attnum), '-')) as v
     from pg_class c
     join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     left join pg_attrdef ad on ad.adrelid = c.oid and ad.adnum = a.attnum
    where c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
      and c.relnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_class', 'c.oid')}
      and (c.relkind <> 'c' or ${notExtensionMember('pg_type', 'c.reltype')})`,
  // Constraints of tables and domains.
  `select 'constraint ' || coalesce(co.conrelid::regclass::text, co.contypid::regtype::text) || '.' || quote_ident(co.conname) as k,
          concat_ws(E'\\n', pg_get_constraintdef(co.oid),
            'deferrable ' || co.condeferrable || ', deferred ' || co.condeferred || ', validated ' || co.convalidated,
            'comment ' || coalesce(obj_description(co.oid, 'pg_constraint'), '-')) as v
     from pg_constraint co
    where co.connamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and (co.conrelid = 0 or ${notExtensionMember('pg_class', 'co.conrelid')})
      and (co.contypid = 0 or ${notExtensionMember('pg_type', 'co.contypid')})`,
  // Indexes (those behind constraints too).
  `select 'index ' || i.indexrelid::regclass as k,
          pg_get_indexdef(i.indexrelid) || E'\\ncomment ' || coalesce(obj_description(i.indexrelid, 'pg_class'), '-') as v
     from pg_index i join pg_class c on c.oid = i.indrelid
    where c.relnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_class', 'c.oid')}`,
  // Routines: their settings, privileges and comment; the body is its own entry (below).
  `select 'routine ' || p.oid::regprocedure as k,
          concat_ws(E'\\n',
            format('kind %s, language %s, owner %s', p.prokind, l.lanname, pg_get_userbyid(p.proowner)),
            'arguments ' || pg_get_function_arguments(p.oid),
            'returns ' || coalesce(pg_get_function_result(p.oid), '-'),
            format('security %s, volatility %s, strict %s, leakproof %s, parallel %s, cost %s, rows %s',
                   case when p.prosecdef then 'definer' else 'invoker' end, p.provolatile, p.proisstrict, p.proleakproof,
                   p.proparallel, p.procost, p.prorows),
            'settings ' || coalesce(array_to_string(p.proconfig, ', '), '-'),
            'privileges' || ${acl('p.proacl', { kind: `'f'`, owner: 'p.proowner' })},
            'comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')) as v
     from pg_proc p join pg_language l on l.oid = p.prolang
    where p.pronamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_proc', 'p.oid')}`,
  `select 'routine body ' || p.oid::regprocedure as k, coalesce(p.prosrc, '') || coalesce(E'\\n-- sql body\\n' || pg_get_function_sqlbody(p.oid), '') as v
     from pg_proc p
    where p.pronamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_proc', 'p.oid')}`,
  // Triggers (not the internal ones behind foreign keys).
  `select 'trigger ' || t.tgrelid::regclass || '.' || quote_ident(t.tgname) as k,
          pg_get_triggerdef(t.oid) || E'\\nenabled ' || t.tgenabled::text || E'\\ncomment ' || coalesce(obj_description(t.oid, 'pg_trigger'), '-') as v
     from pg_trigger t join pg_class c on c.oid = t.tgrelid
    where not t.tgisinternal
      and c.relnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_class', 'c.oid')}`,
  // Policies.
  `select 'policy ' || po.polrelid::regclass || '.' || quote_ident(po.polname) as k,
          concat_ws(E'\\n',
            format('for %s, %s, to %s', po.polcmd, case when po.polpermissive then 'permissive' else 'restrictive' end,
                   (select string_agg(case r when 0 then 'public' else pg_get_userbyid(r) end, ', ' order by 1)
                      from unnest(po.polroles) r)),
            'using ' || coalesce(pg_get_expr(po.polqual, po.polrelid), '-'),
            'with check ' || coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '-'),
            'comment ' || coalesce(obj_description(po.oid, 'pg_policy'), '-')) as v
     from pg_policy po`,
  // Rules other than a view's own.
  `select 'rule ' || r.ev_class::regclass || '.' || quote_ident(r.rulename) as k, pg_get_ruledef(r.oid) as v
     from pg_rewrite r join pg_class c on c.oid = r.ev_class
    where r.rulename <> '_RETURN'
      and c.relnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})`,
  // Types: enums, domains, composite and range types (a table's row type is the table).
  `select 'type ' || t.oid::regtype as k,
          concat_ws(E'\\n',
            format('type %s, owner %s', t.typtype, pg_get_userbyid(t.typowner)),
            case when t.typtype = 'e' then 'labels ' || (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
                                                          from pg_enum e where e.enumtypid = t.oid) end,
            case when t.typtype = 'd' then format('domain over %s%s, default %s', format_type(t.typbasetype, t.typtypmod),
                                                   case when t.typnotnull then ' not null' else '' end, coalesce(t.typdefault, '-')) end,
            case when t.typtype = 'r' then (select 'range of ' || rg.rngsubtype::regtype from pg_range rg where rg.rngtypid = t.oid) end,
            'privileges' || ${acl('t.typacl', { kind: `'T'`, owner: 't.typowner' })},
            'comment ' || coalesce(obj_description(t.oid, 'pg_type'), '-')) as v
     from pg_type t
    where t.typnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and (t.typtype in ('e', 'd', 'r') or (t.typtype = 'c' and (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c'))
      and ${notExtensionMember('pg_type', 't.oid')}`,
  // Operators.
  `select 'operator ' || o.oid::regoperator as k, format('function %s, owner %s', o.oprcode::regproc, pg_get_userbyid(o.oprowner)) as v
     from pg_operator o
    where o.oprnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
      and ${notExtensionMember('pg_operator', 'o.oid')}`,
  // Default privileges, for a role (and a schema, or everywhere).
  `select format('default privileges for %s in %s on %s', pg_get_userbyid(d.defaclrole),
                 case when d.defaclnamespace = 0 then 'every schema' else 'schema ' || d.defaclnamespace::regnamespace end,
                 case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                      when 'T' then 'types' when 'n' then 'schemas' end) as k,
          ${acl('d.defaclacl')} as v
     from pg_default_acl d`,
  // Publications.
  `select 'publication ' || p.pubname as k,
          format('all tables %s, insert %s, update %s, delete %s, truncate %s; tables %s', p.puballtables, p.pubinsert, p.pubupdate,
                 p.pubdelete, p.pubtruncate,
                 coalesce((select string_agg(pr.prrelid::regclass::text, ', ' order by 1) from pg_publication_rel pr where pr.prpubid = p.oid), '-')) as v
     from pg_publication p`,
  // Event triggers.
  `select 'event trigger ' || e.evtname as k, format('on %s, %s, tags %s, enabled %s', e.evtevent, e.evtfoid::regproc, e.evttags, e.evtenabled) as v
     from pg_event_trigger e`,
  // Roles, their attributes, memberships and per-role settings.
  `select 'role ' || r.rolname as k,
          concat_ws(E'\\n',
            format('login %s, superuser %s, inherit %s, create role %s, create db %s, bypass rls %s', r.rolcanlogin, r.rolsuper,
                   r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls),
            'member of ' || coalesce((select string_agg(m.roleid::regrole::text, ', ' order by 1) from pg_auth_members m where m.member = r.oid), '-'),
            'settings ' || coalesce((select string_agg(array_to_string(s.setconfig, ', '), '; ')
                                       from pg_db_role_setting s where s.setrole = r.oid), '-')) as v
     from pg_roles r where r.rolname !~ '^pg_'`,
];

/** pg_cron's jobs, when pg_cron is installed. */
const CRON_JOBS = `select 'cron job ' || j.jobname as k,
                          format(E'schedule %s\\ncommand %s\\ndatabase %s, user %s, active %s', j.schedule, j.command, j.database, j.username, j.active) as v
                     from cron.job j`;

/**
 * Declared data: the rows of the tables that have no time column (the
 * settings row). Tables with one are written as things happen, the cron's
 * jobs included, so two builds a minute apart may differ there. A column
 * whose default calls a volatile function (a random secret made once per
 * database) is left out of the comparison: two builds differ there by design.
 */
const DECLARED_ROWS = `select c.oid::regclass::text as rel,
                              coalesce(string_agg(quote_ident(a.attname), ', ' order by a.attnum) filter (where not exists (
                                select 1 from pg_attrdef ad join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid
                                  join pg_proc p on d.refclassid = 'pg_proc'::regclass and p.oid = d.refobjid
                                 where ad.adrelid = c.oid and ad.adnum = a.attnum and p.provolatile = 'v')), 'null') as cols
                         from pg_class c
                         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                        where c.relkind in ('r', 'p')
                          and c.relnamespace not in (select oid from pg_namespace where nspname in ${SKIPPED_SCHEMAS})
                          and ${notExtensionMember('pg_class', 'c.oid')}
                        group by c.oid
                       having bool_and(a.atttypid not in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype))`;

export async function describeCatalog(client: pg.ClientBase): Promise<Catalog> {
  const catalog: Catalog = new Map();
  await client.query('begin isolation level repeatable read read only');
  try {
    // Names come out schema-qualified, whatever the role's search_path.
    await client.query(`set local search_path = ''`);
    const queries = [...QUERIES];
    const { rows: cron } = await client.query(`select to_regclass('cron.job') is not null as has`);
    if (cron[0]?.has) queries.push(CRON_JOBS);
    for (const q of queries) {
      const { rows } = await client.query<{ k: string; v: string }>(q).catch((err: Error) => {
        throw new Error(`describeCatalog: ${err.message} in\n${q}`);
      });
      for (const r of rows) {
        if (catalog.has(r.k)) throw new Error(`describeCatalog: two objects named ${r.k}`);
        catalog.set(r.k, r.v);
      }
    }
    const { rows: tables } = await client.query<{ rel: string; cols: string }>(DECLARED_ROWS);
    for (const t of tables) {
      const { rows } = await client.query<{ n: number; rows: string | null }>(
        `select count(*)::integer as n, case when count(*) <= 100 then string_agg(r::text, E'\\n' order by r::text) end as rows
           from (select ${t.cols} from ${t.rel}) r`,
      );
      const { n, rows: data } = rows[0]!;
      if (n > 0) catalog.set(`rows of ${t.rel}`, data ?? `${n} rows`);
    }
  } finally {
    await client.query('rollback');
  }
  return catalog;
}
